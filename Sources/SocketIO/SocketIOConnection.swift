import EngineIO
import Logging
import NIOCore
import SocketIOProtocol

/// Multiplexes one Engine.IO session into its namespace sockets. Confined to the session's event loop.
final class SocketIOConnection: EngineIOSessionDelegate, @unchecked Sendable {
    let server: SocketIOServer
    let session: EngineIOSession
    private var decoder: SocketIOPacketDecoder
    private var sockets: [String: Socket] = [:]
    /// Namespaces whose middleware is still deciding.
    private var connecting: Set<String> = []
    private var connectTimer: Scheduled<Void>?
    private var closed = false

    init(server: SocketIOServer, session: EngineIOSession) {
        self.server = server
        self.session = session
        self.decoder = SocketIOPacketDecoder(maxAttachments: server.configuration.maxAttachments)
        session.delegate = self
        connectTimer = session.eventLoop.scheduleTask(in: TimeAmount(server.configuration.connectTimeout)) { [self] in
            if sockets.isEmpty { close(reason: .forcedServerClose) }
        }
    }

    // MARK: EngineIOSessionDelegate

    func session(_ session: EngineIOSession, didReceive message: EngineIOMessage) {
        let packet: SocketIOPacket?
        do {
            switch message {
            case .text(let text): packet = try decoder.decode(text: text)
            case .binary(let data): packet = try decoder.decode(binary: data)
            }
        } catch {
            server.logger.debug("invalid packet", metadata: ["sid": "\(session.id)", "error": "\(error)"])
            close(reason: .parseError)
            return
        }
        if let packet { handle(packet) }
    }

    func session(_ session: EngineIOSession, didCloseWith reason: EngineIOCloseReason) {
        closed = true
        connectTimer?.cancel()
        disconnectAll(reason: DisconnectReason(reason))
    }

    // MARK: Packets

    private func handle(_ packet: SocketIOPacket) {
        let socket = sockets[packet.namespace]
        switch packet.type {
        case .connect:
            guard socket == nil, !connecting.contains(packet.namespace) else {
                close(reason: .forcedServerClose)
                return
            }
            connect(to: packet.namespace, auth: packet.data)
        case .event, .binaryEvent:
            guard let socket else { return close(reason: .forcedServerClose) }
            socket.dispatch(packet)
        case .ack, .binaryAck:
            guard let socket else { return close(reason: .forcedServerClose) }
            socket.receiveAck(packet)
        case .disconnect:
            guard let socket else { return close(reason: .forcedServerClose) }
            socket.didDisconnect(reason: .clientNamespaceDisconnect)
        case .connectError:
            close(reason: .forcedServerClose)
        }
    }

    private func connect(to name: String, auth: JSONValue?) {
        guard let namespace = server.namespace(named: name) else {
            send(.connectError(namespace: name, message: "Invalid namespace"))
            return
        }
        let request = session.request
        let handshake = SocketIOHandshake(
            auth: auth ?? .object([:]), headers: request.headers, query: request.query,
            url: request.uri, remoteAddress: request.remoteAddress)
        let socket = Socket(id: EngineIOServer.makeSessionID(), namespace: namespace, handshake: handshake, connection: self)
        let middleware = namespace.middleware
        if middleware.isEmpty {
            accept(socket)
            return
        }
        connecting.insert(name)
        let eventLoop = session.eventLoop
        Task {
            var refusal: ConnectError?
            for step in middleware {
                do {
                    try await step(socket)
                } catch let error as ConnectError {
                    refusal = error
                    break
                } catch {
                    refusal = ConnectError(String(describing: error))
                    break
                }
            }
            eventLoop.execute { [self, refusal] in
                connecting.remove(name)
                guard !closed else { return socket.discard() }
                if let refusal {
                    socket.discard()
                    send(.connectError(namespace: name, message: refusal.message, data: refusal.data))
                } else {
                    accept(socket)
                }
            }
        }
    }

    private func accept(_ socket: Socket) {
        sockets[socket.namespace.name] = socket
        connectTimer?.cancel()
        connectTimer = nil
        // The CONNECT reply goes out before any connection handler can emit.
        send(.connect(namespace: socket.namespace.name, data: .object(["sid": .string(socket.id)])))
        socket.didConnect()
    }

    private func send(_ packet: SocketIOPacket) {
        session.send(packet.prepared())
    }

    func socketLeft(_ socket: Socket) {
        if sockets[socket.namespace.name] === socket { sockets[socket.namespace.name] = nil }
    }

    private func disconnectAll(reason: DisconnectReason) {
        let all = Array(sockets.values)
        sockets = [:]
        for socket in all { socket.didDisconnect(reason: reason) }
    }

    /// Disconnects every socket with `reason`, then closes the Engine.IO session.
    func close(reason: DisconnectReason) {
        guard !closed else { return }
        closed = true
        connectTimer?.cancel()
        disconnectAll(reason: reason)
        session.close()
    }
}
