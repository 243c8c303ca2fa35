import Foundation
import HeraldTesting
import NIOCore
import NIOPosix
import SocketIOProtocol
import Synchronization
import Testing

/// Where the live cluster's programs are. `scripts/test.sh` installs redis-server, nginx and the Python
/// clients and builds `herald`; in CI a missing one fails the suite instead of skipping it.
enum ClusterLiveEnvironment {
    static let redisServer = executable("redis-server")
    static let nginx = executable("nginx")

    /// The `herald` built next to this test bundle (`swift build` puts both in the same bin directory).
    static var herald: String? {
        if let path = ProcessInfo.processInfo.environment["HERALD_TEST_BINARY"], !path.isEmpty { return path }
        var candidates: [URL] = []
        if let bundle = Bundle.main.executableURL?.deletingLastPathComponent() {
            candidates.append(bundle.appendingPathComponent("herald"))
        }
        candidates.append(TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/herald"))
        return candidates.map(\.path).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var missing: [String] {
        var missing: [String] = []
        if TestEnvironment.python == nil { missing.append("HERALD_TEST_PYTHON (python-socketio)") }
        if redisServer == nil { missing.append("redis-server") }
        if nginx == nil { missing.append("nginx") }
        if herald == nil { missing.append("the herald binary (swift build)") }
        return missing
    }

    /// Searches PATH plus the sbin directories, where Debian puts nginx but a non-root PATH may not look.
    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/sbin"]
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Sends raw bytes and reads until the peer closes (RESP and raw HTTP requests alike).
func tcpExchange(_ request: String, port: Int, timeout: Duration = .seconds(5)) async throws -> String {
    try await withTimeout(timeout) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var received = ByteBuffer()
            for try await var chunk in inbound { received.writeBuffer(&chunk) }
            return String(buffer: received)
        }
    }
}
