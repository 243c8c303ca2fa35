import HeraldTesting
import EngineIO
import NIOCore
import NIOPosix
import SocketIO
import SocketIOProtocol

/// A `SocketIOServer` on 127.0.0.1 and an ephemeral port, with two event loops so sockets land on different
/// loops and room broadcasts cross room shards.
final class TestServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    /// Clients get their own loop: sharing the server's group would make client and server connections take
    /// turns on its round robin, putting every accepted connection on the same server loop.
    let clientGroup: MultiThreadedEventLoopGroup
    let io: SocketIOServer
    let channel: any Channel
    let port: Int

    private init(group: MultiThreadedEventLoopGroup, io: SocketIOServer, channel: any Channel) {
        self.group = group
        self.clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.io = io
        self.channel = channel
        self.port = channel.localAddress!.port!
    }

    static func start(
        configuration: SocketIOConfiguration = SocketIOConfiguration(),
        adapter: InMemoryAdapter? = nil,
        setUp: (SocketIOServer) -> Void = { _ in }
    ) async throws -> TestServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let io: SocketIOServer
        if let adapter {
            io = SocketIOServer(configuration: configuration, adapterFactory: { _ in adapter })
        } else {
            io = SocketIOServer(configuration: configuration)
        }
        setUp(io)
        do {
            let channel = try await io.bind(host: "127.0.0.1", port: 0, group: group)
            return TestServer(group: group, io: io, channel: channel)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// A connected raw client (Engine.IO open packet already read).
    func client(answersPings: Bool = true) async throws -> RawSocketIOClient {
        try await RawSocketIOClient.open(port: port, group: clientGroup, answersPings: answersPings)
    }

    func shutdown() async {
        try? await channel.close()
        // Closes every accepted connection too.
        try? await group.shutdownGracefully()
        try? await clientGroup.shutdownGracefully()
    }
}

/// Runs `body` against a fresh server and always shuts it down, even when the body throws.
func withServer(
    configuration: SocketIOConfiguration = SocketIOConfiguration(),
    adapter: InMemoryAdapter? = nil,
    setUp: (SocketIOServer) -> Void = { _ in },
    _ body: (TestServer) async throws -> Void
) async throws {
    let server = try await TestServer.start(configuration: configuration, adapter: adapter, setUp: setUp)
    do {
        try await body(server)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}

/// Configuration with fast heartbeats for tests that watch pings or closes.
func fastConfiguration(
    pingInterval: Duration = .seconds(25), pingTimeout: Duration = .seconds(20),
    connectTimeout: Duration = .seconds(45), ackTimeout: Duration = .seconds(10)
) -> SocketIOConfiguration {
    var configuration = SocketIOConfiguration(connectTimeout: connectTimeout, ackTimeout: ackTimeout)
    configuration.engine.pingInterval = pingInterval
    configuration.engine.pingTimeout = pingTimeout
    return configuration
}

extension TestServer {
    /// `count` clients connected to `namespace`, each with its socket id; `auth(i)` is client i's CONNECT payload.
    func connectedClients(
        _ count: Int, namespace: String = "/", auth: (Int) -> String? = { _ in nil }
    ) async throws -> [(client: RawSocketIOClient, sid: String)] {
        var result: [(client: RawSocketIOClient, sid: String)] = []
        for index in 0..<count {
            let client = try await client()
            let sid = try await client.connect(namespace: namespace, auth: auth(index))
            result.append((client, sid))
        }
        return result
    }
}
