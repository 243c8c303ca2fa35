import Foundation
import NIOCore
import NIOPosix

/// What the test script (scripts/test.sh) hands the live tests.
public enum TestEnvironment {
    /// The venv's Python with the test clients (`HERALD_TEST_PYTHON`), or nil when not set.
    public static var python: String? {
        guard let value = ProcessInfo.processInfo.environment["HERALD_TEST_PYTHON"], !value.isEmpty else { return nil }
        return value
    }

    /// The repository's root (Sources/HeraldTesting/<this file> → root), where the test scripts are.
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The official socket.io-client browser bundle (v4.8.1): `HERALD_SOCKETIO_JS`, else where scripts/test.sh puts
    /// it (.official-clients/, never committed); nil when neither exists.
    public static var socketIOJS: String? {
        let path = ProcessInfo.processInfo.environment["HERALD_SOCKETIO_JS"].flatMap { $0.isEmpty ? nil : $0 }
            ?? repositoryRoot.appendingPathComponent(".official-clients/socket.io.min.js").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Under CI a missing service fails a live test instead of skipping it.
    public static var isCI: Bool {
        guard let value = ProcessInfo.processInfo.environment["CI"] else { return false }
        return !value.isEmpty && value != "false" && value != "0"
    }
}

/// A free TCP port on 127.0.0.1 (bound then released; nothing else here takes ports meanwhile).
public func freePort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}
