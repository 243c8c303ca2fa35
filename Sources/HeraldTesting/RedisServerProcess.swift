import Foundation
import NIOCore
import NIOPosix
import Testing
import HeraldRedis

/// A throwaway `redis-server` on a free port, for live tests.
/// Locally the live tests are skipped when `redis-server` is not on PATH; with `CI` set they run and fail.
public final class RedisServerProcess: @unchecked Sendable {
    public static let executable: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    public static var liveTestsEnabled: Bool {
        executable != nil || ProcessInfo.processInfo.environment["CI"] != nil
    }

    public let port: Int
    let extraArguments: [String]
    /// With certificates, the server speaks only TLS on `port` and requires no client certificate unless
    /// `extraArguments` say `--tls-auth-clients yes`; `configuration` trusts the test CA.
    public let certificates: TestCertificates?
    private var process: Process?

    public var configuration: RedisConfiguration {
        var c = RedisConfiguration(host: "127.0.0.1", port: port)
        c.reconnectInitialDelay = .milliseconds(20)
        c.reconnectMaxDelay = .milliseconds(200)
        c.commandTimeout = .seconds(10)
        if let certificates { c.tls = RedisTLSConfiguration(caFile: certificates.caFile) }
        return c
    }

    private init(port: Int, extraArguments: [String], certificates: TestCertificates? = nil) {
        self.port = port
        self.extraArguments = extraArguments
        self.certificates = certificates
    }

    /// `extraArguments` may start with a configuration file's path (e.g. a sentinel's, with `--sentinel`).
    public static func start(_ extraArguments: [String] = [], password: String? = nil,
                             certificates: TestCertificates? = nil, port: Int? = nil) async throws -> RedisServerProcess {
        let port = if let port { port } else { try await freePort() }
        let server = RedisServerProcess(port: port, extraArguments: extraArguments, certificates: certificates)
        try await server.launch(password: password)
        return server
    }

    /// Starts (or restarts) redis-server on `port` and waits until it answers PING.
    public func launch(password: String? = nil) async throws {
        guard let executable = Self.executable else {
            throw TestFailure("redis-server is not on PATH (install the Debian package redis-server)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        var tls: [String] = []
        if let certificates {
            tls = ["--port", "0", "--tls-port", String(port), "--tls-cert-file", certificates.serverCertificateFile,
                   "--tls-key-file", certificates.serverKeyFile, "--tls-ca-cert-file", certificates.caFile,
                   "--tls-auth-clients", "optional"]
        }
        // A configuration file must come first (Sentinel needs a writable one).
        let file = extraArguments.first.map { $0.hasPrefix("--") ? [] : [$0] } ?? []
        process.arguments = file + ["--port", String(port), "--bind", "127.0.0.1"]
            + (extraArguments.contains("--sentinel") ? [] : ["--save", "", "--appendonly", "no"])
            + tls + extraArguments.dropFirst(file.count)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        try await waitUntilReady(password: password)
    }

    /// Polls PING with a bounded deadline; failing to come up fails the test.
    private func waitUntilReady(password: String?) async throws {
        var config = configuration
        config.password = password
        config.tls?.certificateFile = certificates?.clientCertificateFile
        config.tls?.keyFile = certificates?.clientKeyFile
        config.connectTimeout = .milliseconds(200)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let connection = try? await RedisConnection.connect(
                configuration: config, eventLoop: MultiThreadedEventLoopGroup.singleton.any()
            ) {
                defer { Task { try? await connection.close() } }
                if (try? await connection.send("PING")) == .simpleString("PONG") { return }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("redis-server on port \(port) did not answer PING within 10 s")
    }

    public var isRunning: Bool { process != nil }

    /// SIGKILL, so clients see the connection drop like a crash; waits for the process to be gone.
    public func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    deinit { kill() }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Collects values pushed from event-loop callbacks and lets a test await the next matching one,
/// failing (never passing) when it does not come within the bound.
public final class Inbox<Value: Sendable>: Sendable {
    private let stream: AsyncStream<Value>
    private let continuation: AsyncStream<Value>.Continuation
    public init() { (stream, continuation) = AsyncStream.makeStream(of: Value.self) }

    public func push(_ value: Value) { continuation.yield(value) }

    public func next(
        within bound: Duration = .seconds(10),
        where matches: @escaping @Sendable (Value) -> Bool = { _ in true }
    ) async throws -> Value {
        let stream = self.stream
        return try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask {
                for await value in stream where matches(value) { return value }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: bound)
                return nil
            }
            defer { group.cancelAll() }
            guard let value = try await group.next() ?? nil else {
                throw TestFailure("expected value did not arrive within \(bound)")
            }
            return value
        }
    }
}
