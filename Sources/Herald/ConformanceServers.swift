import EngineIO
import Logging
import NIOCore
import NIOPosix
import SocketIO

/// The servers the official Engine.IO v4 and Socket.IO v5 protocol test suites expect on port 3000.
public enum ConformanceServers {
    /// The suites' timing: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6, CORS for any origin.
    static func engineConfiguration(path: String) -> EngineIOConfiguration {
        EngineIOConfiguration(
            path: path, pingInterval: .milliseconds(300), pingTimeout: .milliseconds(200),
            maxPayload: 1_000_000, cors: CORSConfiguration(origins: .any))
    }

    /// An Engine.IO server on `/engine.io/` that echoes every message, text as text and binary as binary.
    public static func engineIOEcho(logger: Logger) -> EngineIOServer {
        let server = EngineIOServer(configuration: engineConfiguration(path: "/engine.io/"), logger: logger)
        server.onSession { session in session.delegate = EchoDelegate() }
        return server
    }

    /// A Socket.IO server with `/` (emits `auth`, echoes `message` as `message-back`, acks `message-with-ack`)
    /// and `/custom` (emits `auth`).
    public static func socketIO(logger: Logger) -> SocketIOServer {
        let io = SocketIOServer(
            configuration: SocketIOConfiguration(engine: engineConfiguration(path: "/socket.io/"), connectTimeout: .milliseconds(1000)),
            logger: logger)
        io.onConnection { socket in
            socket.emit("auth", socket.handshake.auth)
            socket.on("message") { event in socket.emit("message-back", args: event.args) }
            socket.on("message-with-ack") { event in event.ack(event.args) }
        }
        io.of("/custom").onConnection { socket in
            socket.emit("auth", socket.handshake.auth)
        }
        return io
    }

    final class EchoDelegate: EngineIOSessionDelegate {
        func session(_ session: EngineIOSession, didReceive message: EngineIOMessage) {
            session.send(message)
        }

        func session(_ session: EngineIOSession, didCloseWith reason: EngineIOCloseReason) {}
    }

    /// Binds an Engine.IO server on its own (the Socket.IO server has `bind`).
    public static func bind(_ engine: EngineIOServer, host: String, port: Int, group: any EventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in engine.configure(channel: channel) }
            .bind(host: host, port: port)
            .get()
    }
}
