import Logging
import NIOCore
import NIOSSL
import Synchronization

/// TLS on one of the node's listeners: PEM files, read when the node starts and again on each reload (SIGHUP).
/// Off (plain TCP) while `certificateFile` is nil.
public struct ListenerTLSConfiguration: Sendable, Hashable {
    /// PEM certificate chain: the listener's certificate first, then its intermediates. Default nil: no TLS.
    public var certificateFile: String?
    /// PEM private key of that certificate; required with `certificateFile`. Default nil.
    public var keyFile: String?
    /// PEM CAs whose client certificates the listener requires (mutual TLS); a client without one signed by them is
    /// refused during the handshake. Default nil: no client certificate asked for.
    public var clientCAFile: String?

    public init(certificateFile: String? = nil, keyFile: String? = nil, clientCAFile: String? = nil) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
    }

    public var isEnabled: Bool { certificateFile != nil || keyFile != nil || clientCAFile != nil }

    /// Largest certificate, key or CA file read: the path is configuration, the file is still outside input.
    static let maxFileBytes = 1 << 20

    /// A server context from the files, or what is wrong with them.
    func makeContext() throws -> NIOSSLContext {
        guard let certificateFile, let keyFile else {
            throw ListenerTLSError("a TLS certificate needs its key file, and the key its certificate")
        }
        let chain = try NIOSSLCertificate.fromPEMBytes(Self.read(certificateFile))
        guard !chain.isEmpty else { throw ListenerTLSError("\(certificateFile) holds no PEM certificate") }
        let key = try NIOSSLPrivateKey(bytes: Self.read(keyFile), format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        if let clientCAFile {
            let roots = try NIOSSLCertificate.fromPEMBytes(Self.read(clientCAFile))
            guard !roots.isEmpty else { throw ListenerTLSError("\(clientCAFile) holds no PEM certificate") }
            tls.trustRoots = .certificates(roots)
            // Clients have no name to check; the CA's signature is the test.
            tls.certificateVerification = .noHostnameVerification
        }
        return try NIOSSLContext(configuration: tls)
    }

    private static func read(_ path: String) throws -> [UInt8] {
        do {
            return try HeraldSetting.readFile(path, limit: maxFileBytes)
        } catch {
            throw ListenerTLSError(error.text)
        }
    }
}

/// Why a listener's TLS files could not be used.
public struct ListenerTLSError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A listener's current TLS context: each accepted connection takes the one current then, so a reload changes what
/// new connections get and leaves the open ones as they are. Lock-protected (read once per accepted connection).
public final class ListenerTLS: Sendable {
    public let configuration: ListenerTLSConfiguration
    /// Which listener, in logs.
    let name: String
    private let context: Mutex<NIOSSLContext>

    /// Reads the files now; throws when they are unusable (the node does not start).
    init(_ configuration: ListenerTLSConfiguration, name: String) throws {
        self.configuration = configuration
        self.name = name
        self.context = Mutex(try configuration.makeContext())
    }

    /// Reads the files again; new connections get the new certificate. On failure the current one stays and the
    /// error is thrown (a bad renewal must not take the listener down).
    public func reload() throws {
        let fresh = try configuration.makeContext()
        context.withLock { $0 = fresh }
    }

    /// Puts a TLS server handler in front of the connection's pipeline (called from the child channel initializer).
    func addHandler(to channel: any Channel) throws {
        let current = context.withLock { $0 }
        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: current))
    }
}
