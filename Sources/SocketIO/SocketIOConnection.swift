import EngineIO
import Logging
import NIOCore
import SocketIOProtocol

/// Multiplexes one Engine.IO session (its `SocketIOTransport`) into its namespace sockets.
///
/// Loop-confined: every member is used on `eventLoop`, the transport's loop; work done elsewhere (middleware,
/// recovery reads) comes back with one `eventLoop.execute`.
package final class SocketIOConnection: LoopTimerTarget, @unchecked Sendable {
    let server: SocketIOServer
    let transport: any SocketIOTransport
    let eventLoop: any EventLoop
    private var decoder: SocketIOPacketDecoder
    private var sockets: [String: Socket] = [:]
    /// Namespaces whose middleware is still deciding.
    private var connecting: Set<String> = []
    /// The connect timeout (no namespace joined in time closes the connection), on the loop's `connectTimers`.
    package var loopTimer = LoopTimer()
    private let connectTimers: LoopTimers
    /// Runs while a binary packet awaits its attachments: a packet that never completes is a protocol error.
    private var attachmentTimer: Scheduled<Void>?
    private var closed = false

    init(server: SocketIOServer, transport: any SocketIOTransport) {
        self.server = server
        self.transport = transport
        self.eventLoop = transport.eventLoop
        // One packet's attachments together get no more room than one message (`maxPayload`).
        self.decoder = SocketIOPacketDecoder(maxAttachments: server.configuration.maxAttachments,
                                             maxAttachmentBytes: server.configuration.engine.maxPayload)
        self.connectTimers = server.connectTimers.timers(for: transport.eventLoop)
        transport.attach(self)
        connectTimers.arm(self, after: TimeAmount(server.configuration.connectTimeout))
    }

    /// The connect timeout passed.
    package func loopTimerFired() {
        if sockets.isEmpty { close(reason: .forcedServerClose) }
    }

    // MARK: From the transport

    /// A message from the client.
    package func receive(_ message: EngineIOMessage) {
        let packet: SocketIOPacket?
        do {
            switch message {
            case .text(let text): packet = try decoder.decode(text: text)
            case .binary(let data): packet = try decoder.decode(binary: data)
            }
        } catch {
            server.logger.debug("invalid packet", metadata: ["sid": "\(transport.id)", "error": "\(error)"])
            close(reason: .parseError)
            return
        }
        watchAttachments()
        if let packet { handle(packet) }
    }

    /// Starts the attachment timer when a binary packet begins, stops it when the packet is complete.
    private func watchAttachments() {
        if decoder.isAwaitingAttachments {
            guard attachmentTimer == nil else { return }
            attachmentTimer = eventLoop.scheduleTask(in: TimeAmount(server.configuration.attachmentTimeout)) { [self] in
                attachmentTimer = nil
                guard decoder.isAwaitingAttachments else { return }
                server.logger.debug("binary packet incomplete after the attachment timeout", metadata: ["sid": "\(transport.id)"])
                decoder.reset()
                close(reason: .parseError)
            }
        } else if let timer = attachmentTimer {
            timer.cancel()
            attachmentTimer = nil
        }
    }

    /// The session closed (whoever closed it).
    package func transportClosed(_ reason: EngineIOCloseReason) {
        closed = true
        connectTimers.cancel(self)
        attachmentTimer?.cancel()
        decoder.reset()
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
            server.stats.eventReceived()
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
        let handshake = transport.handshake(auth: auth ?? .object([:]))
        let recovery = server.configuration.connectionStateRecovery
        let middleware = namespace.middleware
        if recovery == nil && middleware.isEmpty {
            accept(Socket(id: EngineIOServer.makeSessionID(), namespace: namespace, handshake: handshake, connection: self))
            return
        }
        connecting.insert(name)
        // One task per CONNECT that runs middleware or a recovery: it lives as long as they take, and what it
        // decides is dropped on the loop if the connection closed meanwhile.
        Task {
            var socket: Socket?
            var missed: [EngineIOPreparedMessage] = []
            var runMiddleware = true
            // Rooms the adapter held for a restored session, released with the connection's own hold below.
            var restoredHold: [String] = []
            // Where the catch-up read of a recovered socket starts: after the last event replayed.
            var catchUpAfter: String?
            // A pid or offset of a shape no log issues is not looked up: a new session, as for an unknown one.
            let offset = auth?["offset"]?.stringValue
            if let recovery, let pid = auth?["pid"]?.stringValue, ConnectionStateRecovery.isIssuedPid(pid),
               offset.map(ConnectionStateRecovery.isPlausibleOffset) ?? true,
               case .recovered(let saved, let events) = await namespace.adapter.restoreSession(pid: pid, offset: offset) {
                // Held by the adapter whether or not the gate admits the session: released below either way.
                restoredHold = saved.rooms + [saved.id]
                if let data = await Self.admitRecovery(saved, handshake: handshake, gate: namespace.recoveryGate) {
                    let restored = Socket(id: saved.id, namespace: namespace, handshake: handshake, connection: self,
                                          pid: saved.pid, recovered: true, connectOffset: saved.connectOffset)
                    restored.data = data
                    restored.join(saved.rooms)
                    socket = restored
                    missed = events
                    catchUpAfter = events.last?.recoveryOffset ?? offset ?? saved.connectOffset
                    runMiddleware = !recovery.skipMiddlewares
                }
            }
            var accepted: Socket
            if let socket {
                accepted = socket
            } else {
                accepted = Socket(
                    id: EngineIOServer.makeSessionID(), namespace: namespace, handshake: handshake, connection: self,
                    pid: recovery == nil ? nil : EngineIOServer.makeSessionID(),
                    connectOffset: recovery == nil ? "" : await namespace.adapter.recoveryOffset())
            }
            let refusal = runMiddleware ? await Self.runMiddleware(middleware, on: accepted) : nil
            // Rooms joined in middleware (a personal room, say) must reach the whole cluster before the client
            // hears CONNECT: hold them on the adapter first. A socket not yet connected records its joins at
            // once (see `Socket.join`), so they are all in `rooms` here.
            let held = refusal == nil ? Array(accepted.rooms) : []
            if !held.isEmpty { await namespace.adapter.holdRooms(held) }
            eventLoop.execute { [self, missed, restoredHold, catchUpAfter] in
                connecting.remove(name)
                defer {
                    if !held.isEmpty { namespace.adapter.releaseRooms(held) }
                    if !restoredHold.isEmpty { namespace.adapter.releaseRooms(restoredHold) }
                }
                guard !closed else { return accepted.discard() }
                if let refusal {
                    accepted.discard()
                    send(.connectError(namespace: name, message: refusal.message, data: refusal.data))
                } else if let catchUpAfter {
                    // Held before the join, so that nothing reaching the socket overtakes the catch-up below.
                    namespace.adapter.holdDeliveries(to: accepted)
                    accept(accepted, missed: missed)
                    catchUp(accepted, after: catchUpAfter, replayed: missed)
                } else {
                    accept(accepted, missed: missed)
                }
            }
        }
    }

    /// A recovered socket's log was read before it joined its rooms: what was logged in between reached no one
    /// here. Reads the log again from the last replayed event, sends that, then what reached the socket since
    /// its join (held back by the adapter meanwhile), each event once and in log order.
    private func catchUp(_ socket: Socket, after offset: String, replayed: [EngineIOPreparedMessage]) {
        let adapter = socket.namespace.adapter
        let rooms = socket.rooms
        Task {
            let logged = await adapter.missedEvents(rooms: rooms, after: offset)
            eventLoop.execute { [self] in
                let held = adapter.releaseDeliveries(to: socket)
                guard !closed, socket.connected else { return }
                if logged == nil {
                    server.logger.warning("recovery catch-up: cluster log unreachable", metadata: ["sid": "\(socket.id)"])
                }
                var sent = Set(replayed.compactMap(\.recoveryOffset))
                for message in (logged ?? []) + held {
                    // An event without offset was not logged: it can only have come live.
                    if let offset = message.recoveryOffset, !sent.insert(offset).inserted { continue }
                    transport.send(message)
                }
            }
        }
    }

    /// The data a recovered socket gets: the saved data, or what the namespace's gate says (nil: no recovery).
    private static func admitRecovery(_ saved: RecoverableSession, handshake: SocketIOHandshake, gate: RecoveryGate?) async -> JSONValue? {
        guard let gate else { return saved.data }
        return await gate(saved, handshake)
    }

    private static func runMiddleware(_ middleware: [@Sendable (Socket) async throws -> Void], on socket: Socket) async -> ConnectError? {
        for step in middleware {
            do {
                try await step(socket)
            } catch let error as ConnectError {
                return error
            } catch {
                return ConnectError(String(describing: error))
            }
        }
        return nil
    }

    private func accept(_ socket: Socket, missed: [EngineIOPreparedMessage] = []) {
        sockets[socket.namespace.name] = socket
        connectTimers.cancel(self)
        // The CONNECT reply goes out before any connection handler can emit, and missed events before live ones.
        var reply: JSONObject = ["sid": .string(socket.id)]
        if let pid = socket.pid { reply["pid"] = .string(pid) }
        send(.connect(namespace: socket.namespace.name, data: .object(reply)))
        for message in missed { transport.send(message) }
        socket.didConnect()
    }

    private func send(_ packet: SocketIOPacket) {
        transport.send(packet.prepared())
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
        connectTimers.cancel(self)
        attachmentTimer?.cancel()
        decoder.reset()
        disconnectAll(reason: reason)
        transport.close()
    }
}
