import Foundation

/// A throwaway CA with a server certificate (for `127.0.0.1`, `::1` and `localhost`) and a client certificate,
/// made with the `openssl` command in a fresh temporary directory, for TLS live tests.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caFile: String { directory + "/ca.pem" }
    public var serverCertificateFile: String { directory + "/server.pem" }
    public var serverKeyFile: String { directory + "/server.key" }
    public var clientCertificateFile: String { directory + "/client.pem" }
    public var clientKeyFile: String { directory + "/client.key" }

    /// Generates everything (EC P-256 keys: fast); throws when `openssl` fails or is missing.
    public static func make() throws -> TestCertificates {
        let directory = NSTemporaryDirectory() + "herald-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        try openssl(["req", "-x509"] + ec + ["-keyout", directory + "/ca.key", "-out", certificates.caFile,
                     "-days", "2", "-subj", "/CN=Herald Test CA"], in: directory)
        try certificates.issue("server", extensions: serverExtensions)
        try certificates.issue("client", extensions: "extendedKeyUsage=clientAuth")
        return certificates
    }

    private static let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    private static let serverExtensions = "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth"

    /// Another server certificate from the same CA (same names, a new key and serial), as `name`.pem and `name`.key
    /// in the directory: a renewal for reload tests. Returns the certificate and key paths.
    @discardableResult
    public func issueServerCertificate(_ name: String) throws -> (certificate: String, key: String) {
        try issue(name, extensions: Self.serverExtensions)
        return (directory + "/\(name).pem", directory + "/\(name).key")
    }

    /// A key and a certificate signed by the CA, as `name`.key and `name`.pem.
    private func issue(_ name: String, extensions: String) throws {
        try extensions.write(toFile: directory + "/\(name).ext", atomically: true, encoding: .utf8)
        try Self.openssl(["req"] + Self.ec + ["-keyout", directory + "/\(name).key", "-out", directory + "/\(name).csr",
                          "-subj", "/CN=herald-\(name)"], in: directory)
        try Self.openssl(["x509", "-req", "-in", directory + "/\(name).csr", "-CA", caFile,
                          "-CAkey", directory + "/ca.key", "-CAcreateserial", "-days", "2",
                          "-extfile", directory + "/\(name).ext", "-out", directory + "/\(name).pem"], in: directory)
    }

    private static func openssl(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("openssl \(arguments.first ?? "") failed with status \(process.terminationStatus)")
        }
    }

    /// Removes the directory.
    public func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
