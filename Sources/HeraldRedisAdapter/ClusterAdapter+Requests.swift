// Concurrency: lock-protected, as ClusterAdapter.swift says; a pending request's answers are in its own `Mutex`
// and its continuation is resumed once, by whoever takes it from there (the last answer or the timeout).
import EngineIO
import NIOCore
import SocketIO
import SocketIOProtocol

/// Cluster requests (`ClusterRequest`, ClusterWire.swift) on the namespace's request channel, answers
/// (`ClusterResponse`) on the requester's response channel.
extension ClusterAdapter {
    public func fetchSockets(_ options: BroadcastOptions) async throws -> [RemoteSocket] {
        let mine = await local.localSockets(options).map(RemoteSocket.init)
        guard !options.local else { return mine }
        let answers = try await request(.fetchSockets(WireAudience(options)))
        return mine + answers.flatMap { ($0.sockets ?? []).map(\.socket) }
    }

    public func addSockets(_ options: BroadcastOptions, rooms: [String]) async throws {
        await settle(await local.localSockets(options), join: rooms)
        guard !options.local else { return }
        _ = try await request(.addSockets(WireAudience(options), rooms: rooms))
    }

    public func removeSockets(_ options: BroadcastOptions, rooms: [String]) async throws {
        await settle(await local.localSockets(options), leave: rooms)
        guard !options.local else { return }
        _ = try await request(.removeSockets(WireAudience(options), rooms: rooms))
    }

    public func disconnectSockets(_ options: BroadcastOptions, close: Bool) async throws {
        for socket in await local.localSockets(options) { socket.disconnect(close: close) }
        guard !options.local else { return }
        _ = try await request(.disconnectSockets(WireAudience(options), close: close))
    }

    public func serverSideEmit(_ event: String, args: [JSONValue], expectingAcks: Bool) async throws -> [[JSONValue]] {
        let body = ClusterRequest.Body.serverSideEmit(event: event, args: args, ack: expectingAcks)
        guard expectingAcks else {
            let message = try WireJSONMessage.encode(ClusterRequest(body: body, id: EngineIOServer.makeSessionID(), origin: nodeID))
            try await bus.publish(channel: requestChannel, message: message)
            return []
        }
        return try await request(body).map { ($0.args ?? []).map(\.value) }
    }

    public func serverCount() async throws -> Int {
        try await bus.subscriberCount(channel: requestChannel)
    }

    // MARK: Requesting

    /// Publishes a request and waits for every other node's answer; throws `ClusterError` when some stay silent.
    func request(_ body: ClusterRequest.Body) async throws -> [ClusterResponse] {
        let expected = try await bus.subscriberCount(channel: requestChannel) - 1
        guard expected > 0 else { return [] }
        let id = EngineIOServer.makeSessionID()
        let message = try WireJSONMessage.encode(ClusterRequest(body: body, id: id, origin: nodeID))
        return try await withCheckedThrowingContinuation { continuation in
            let pending = PendingRequest(expected: expected, continuation: continuation)
            register(pending, id: id)
            Task {
                do {
                    try await bus.publish(channel: requestChannel, message: message)
                } catch {
                    unregister(id: id)?.finish(.failure(error))
                    return
                }
                try? await Task.sleep(for: configuration.requestTimeout)
                if let late = unregister(id: id) {
                    let answered = late.responses.withLock { $0.count }
                    late.finish(.failure(ClusterError(operation: body.kind.rawValue, answered: answered, expected: expected)))
                }
            }
        }
    }

    func receiveResponse(_ message: ByteBuffer) {
        guard let response = try? WireJSONMessage.decode(ClusterResponse.self, from: message) else {
            dropped("undecodable cluster response")
            return
        }
        // An answer after the timeout (or to another incarnation of this node) has no one waiting: not malformed.
        guard let pending = pendingRequest(id: response.id) else { return }
        let complete = pending.responses.withLock { responses in
            responses.append(response)
            return responses.count >= pending.expected ? responses : nil
        }
        if let complete, unregister(id: response.id) != nil { pending.finish(.success(complete)) }
    }

    // MARK: Answering

    func receiveRequest(_ message: ByteBuffer) {
        guard let request = try? WireJSONMessage.decode(ClusterRequest.self, from: message) else {
            dropped("undecodable cluster request")
            return
        }
        guard request.origin != nodeID else { return }
        Task { await answer(request) }
    }

    private func answer(_ request: ClusterRequest) async {
        // Rooms from the bus are outside input like any other: a request naming one that is not a valid
        // `RoomName` is dropped whole (dropping only the bad room could widen its audience to everyone).
        let maxBytes = maxRoomNameBytes
        let audience: WireAudience?, rooms: [String]
        switch request.body {
        case .fetchSockets(let opts), .disconnectSockets(let opts, _): (audience, rooms) = (opts, [])
        case .addSockets(let opts, let named), .removeSockets(let opts, let named): (audience, rooms) = (opts, named)
        case .serverSideEmit: (audience, rooms) = (nil, [])
        }
        let options = audience.map { $0.options(maxRoomBytes: maxBytes) } ?? BroadcastOptions(local: true)
        guard let options, validRooms(rooms, maxBytes: maxBytes) != nil else {
            dropped("cluster request with an invalid room", metadata: ["type": "\(request.body.kind.rawValue)", "origin": "\(request.origin)"])
            return
        }
        var answer = ClusterResponse(id: request.id)
        switch request.body {
        case .fetchSockets:
            let sockets = await local.localSockets(options)
            answer.sockets = sockets.map { WireSocket(socket: RemoteSocket($0)) }
        case .addSockets:
            await settle(await local.localSockets(options), join: rooms)
        case .removeSockets:
            await settle(await local.localSockets(options), leave: rooms)
        case .disconnectSockets(_, let close):
            for socket in await local.localSockets(options) { socket.disconnect(close: close) }
        case .serverSideEmit(let event, let args, let wantsAck):
            var acknowledge: (@Sendable ([JSONValue]) -> Void)?
            if wantsAck {
                let (id, origin) = (request.id, request.origin)
                acknowledge = { @Sendable [self] args in respond(to: origin, ClusterResponse(id: id, args: args.map(WireJSON.init))) }
            }
            namespace?.receiveServerSideEmit(SocketIOEvent(name: event, args: args, acknowledge: acknowledge))
            return
        }
        respond(to: request.origin, answer)
    }

    /// Moves these sockets and waits until the change reached the adapter and the bus, so a requester that got
    /// its answer can broadcast to the new rooms at once.
    private func settle(_ sockets: [Socket], join: [String] = [], leave: [String] = []) async {
        await Socket.changeRooms(of: sockets, join: join, leave: leave)
        await subscriptionsSettled()
    }

    private func respond(to origin: String, _ answer: ClusterResponse) {
        let message: ByteBuffer
        do {
            message = try WireJSONMessage.encode(answer)
        } catch {
            logger.warning("cluster answer not encoded", metadata: ["error": "\(error)"])
            return
        }
        bus.publishDetached(channel: channel(.response(node: origin)), message: message) { [logger] error in
            logger.warning("cluster answer not published", metadata: ["error": "\(error)"])
        }
    }
}
