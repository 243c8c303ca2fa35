import NIOCore
import NIOPosix
import SocketIO
import SocketIOClient
import SocketIOProtocol
import HeraldWebSocket

/// The herald server the client tests talk to, on 127.0.0.1 and port 0 (or a given port, to rebind).
final class HeraldServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let io: SocketIOServer
    let channel: any Channel
    let port: Int

    private init(group: MultiThreadedEventLoopGroup, io: SocketIOServer, channel: any Channel) {
        self.group = group
        self.io = io
        self.channel = channel
        self.port = channel.localAddress!.port!
    }

    /// `/`: refuses `{"token":"bad"}`, emits `auth` on connection, echoes `message` as `message-back`,
    /// acks `message-with-ack`, never acks `silent`, asks the client `question` on `ask-client` and reports
    /// the answer as `client-answered`, disconnects the socket on `kick`. `/custom`: emits `auth`.
    static func start(port: Int = 0, pingInterval: Duration = .seconds(25), pingTimeout: Duration = .seconds(20),
                      recovery: ConnectionStateRecovery? = nil) async throws -> HeraldServer {
        var configuration = SocketIOConfiguration(connectionStateRecovery: recovery)
        configuration.engine.path = "/socket.io/"
        configuration.engine.pingInterval = pingInterval
        configuration.engine.pingTimeout = pingTimeout
        let io = SocketIOServer(configuration: configuration)
        io.use { socket in
            if socket.handshake.auth["token"] == "bad" {
                throw ConnectError("not authorized", data: ["code": 401])
            }
        }
        io.onConnection { socket in
            socket.emit("auth", socket.handshake.auth)
            socket.on("message") { event in socket.emit("message-back", args: event.args) }
            socket.on("message-with-ack") { event in event.ack(event.args) }
            socket.on("silent") { _ in }
            socket.on("kick") { _ in socket.disconnect() }
            socket.on("ask-client") { event in
                Task {
                    let answer = try await socket.emitWithAck("question", args: event.args, timeout: .seconds(5))
                    socket.emit("client-answered", args: answer)
                }
            }
        }
        io.of("/custom").onConnection { socket in socket.emit("auth", socket.handshake.auth) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let channel = try await io.bind(host: "127.0.0.1", port: port, group: group)
            return HeraldServer(group: group, io: io, channel: channel)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Closes the listener and every connection. `graceful` sends each socket a DISCONNECT first (as `io.close()`
    /// does), which tells clients not to reconnect; otherwise the sessions just end, as when a server dies.
    func shutdown(graceful: Bool = true) async {
        try? await channel.close()
        if graceful { io.close() } else { io.engine.closeAllSessions() }
        try? await group.shutdownGracefully()
    }
}

/// The transport setups every server test runs with.
enum TransportSetup: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case websocket, polling, pollingUpgrade

    var configuration: SocketIOClientConfiguration {
        switch self {
        case .websocket: SocketIOClientConfiguration(transports: [.websocket])
        case .polling: SocketIOClientConfiguration(transports: [.polling], upgrade: false)
        case .pollingUpgrade: SocketIOClientConfiguration(transports: [.polling, .websocket])
        }
    }

    var testDescription: String { rawValue }
}

/// A client manager on its own event loop.
/// A herald server and a client with `configuration`, both shut down when `body` ends, whether it threw or not.
func withServerAndClient(_ configuration: SocketIOClientConfiguration,
                         _ body: (HeraldServer, TestClient) async throws -> Void) async throws {
    let server = try await HeraldServer.start()
    let client = TestClient(port: server.port, configuration: configuration)
    do {
        try await body(server, client)
    } catch {
        await client.shutdown()
        await server.shutdown()
        throw error
    }
    await client.shutdown()
    await server.shutdown()
}

final class TestClient: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let manager: SocketIOManager

    init(port: Int, configuration: SocketIOClientConfiguration) {
        manager = SocketIOManager(host: "127.0.0.1", port: port, configuration: configuration, group: group)
    }

    func shutdown() async {
        await manager.shutdown()
        try? await group.shutdownGracefully()
    }
}

extension AsyncStream {
    /// The next element that matches, skipping the others.
    func first(matching predicate: (Element) -> Bool) async -> Element? {
        for await element in self where predicate(element) { return element }
        return nil
    }
}

extension AsyncStream where Element == SocketIOClientEvent {
    func next(named name: String) async -> SocketIOClientEvent? { await first { $0.name == name } }
}

import Testing
