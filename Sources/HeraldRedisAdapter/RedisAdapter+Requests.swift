import EngineIO
import NIOCore
import SocketIO
import SocketIOProtocol

/// Cluster requests: JSON on the namespace's request channel, answers on the requester's response channel.
extension RedisAdapter {
    enum RequestType: String {
        case fetchSockets, addSockets, removeSockets, disconnectSockets, serverSideEmit
    }

    public func fetchSockets(_ options: BroadcastOptions) async throws -> [RemoteSocket] {
        let mine = await local.localSockets(options).map(RemoteSocket.init)
        guard !options.local else { return mine }
        let answers = try await request(.fetchSockets, ["opts": Self.json(options)])
        return mine + answers.flatMap { ($0["sockets"]?.arrayValue ?? []).compactMap(RemoteSocket.init(json:)) }
    }

    public func addSockets(_ options: BroadcastOptions, rooms: [String]) async throws {
        let sockets = await local.localSockets(options)
        for socket in sockets { socket.join(rooms) }
        await settle(sockets)
        guard !options.local else { return }
        _ = try await request(.addSockets, ["opts": Self.json(options), "rooms": .array(rooms.map(JSONValue.string))])
    }

    public func removeSockets(_ options: BroadcastOptions, rooms: [String]) async throws {
        for socket in await local.localSockets(options) {
            for room in rooms { socket.leave(room) }
        }
        guard !options.local else { return }
        _ = try await request(.removeSockets, ["opts": Self.json(options), "rooms": .array(rooms.map(JSONValue.string))])
    }

    public func disconnectSockets(_ options: BroadcastOptions, close: Bool) async throws {
        for socket in await local.localSockets(options) { socket.disconnect(close: close) }
        guard !options.local else { return }
        _ = try await request(.disconnectSockets, ["opts": Self.json(options), "close": .bool(close)])
    }

    public func serverSideEmit(_ event: String, args: [JSONValue], expectingAcks: Bool) async throws -> [[JSONValue]] {
        let body: JSONObject = ["event": .string(event), "args": .array(args), "ack": .bool(expectingAcks)]
        guard expectingAcks else {
            try await bus.publish(channel: requestChannel, message: requestMessage(.serverSideEmit, body, id: EngineIOServer.makeSessionID()))
            return []
        }
        return try await request(.serverSideEmit, body).map { $0["args"]?.arrayValue ?? [] }
    }

    public func serverCount() async throws -> Int {
        try await bus.subscriberCount(channel: requestChannel)
    }

    // MARK: Requesting

    private func requestMessage(_ type: RequestType, _ body: JSONObject, id: String) -> ByteBuffer {
        var request = body
        request["type"] = .string(type.rawValue)
        request["id"] = .string(id)
        request["origin"] = .string(nodeID)
        return ByteBuffer(string: JSONValue.object(request).jsonString)
    }

    /// Publishes a request and waits for every other node's answer; throws `ClusterError` when some stay silent.
    func request(_ type: RequestType, _ body: JSONObject) async throws -> [JSONValue] {
        let expected = try await bus.subscriberCount(channel: requestChannel) - 1
        guard expected > 0 else { return [] }
        let id = EngineIOServer.makeSessionID()
        let message = requestMessage(type, body, id: id)
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
                    late.finish(.failure(ClusterError(operation: type.rawValue, answered: answered, expected: expected)))
                }
            }
        }
    }

    func receiveResponse(_ message: ByteBuffer) {
        guard let response = try? JSONValue(parsing: message), let id = response["id"]?.stringValue,
              let pending = pendingRequest(id: id)
        else { return }
        let complete = pending.responses.withLock { responses in
            responses.append(response)
            return responses.count >= pending.expected ? responses : nil
        }
        if let complete, unregister(id: id) != nil { pending.finish(.success(complete)) }
    }

    // MARK: Answering

    func receiveRequest(_ message: ByteBuffer) {
        guard let request = try? JSONValue(parsing: message), let id = request["id"]?.stringValue,
              let origin = request["origin"]?.stringValue, origin != nodeID,
              let type = request["type"]?.stringValue.flatMap(RequestType.init(rawValue:))
        else { return }
        Task { await answer(type, id: id, origin: origin, request: request) }
    }

    private func answer(_ type: RequestType, id: String, origin: String, request: JSONValue) async {
        // Rooms from the bus are outside input like any other: a request naming one that is not a valid
        // `RoomName` is dropped whole (dropping only the bad room could widen its audience to everyone).
        let maxBytes = maxRoomNameBytes
        guard let options = Self.options(request["opts"], maxBytes: maxBytes),
              let rooms = Self.roomNames(request["rooms"], maxBytes: maxBytes)?.map(\.rawValue)
        else {
            logger.warning("cluster request with an invalid room dropped", metadata: ["type": "\(type.rawValue)", "origin": "\(origin)"])
            return
        }
        var answer: JSONObject = ["id": .string(id)]
        switch type {
        case .fetchSockets:
            let sockets = await local.localSockets(options)
            answer["sockets"] = .array(sockets.map { RemoteSocket($0).json })
        case .addSockets:
            let sockets = await local.localSockets(options)
            for socket in sockets { socket.join(rooms) }
            await settle(sockets)
        case .removeSockets:
            let sockets = await local.localSockets(options)
            for socket in sockets {
                for room in rooms { socket.leave(room) }
            }
            await settle(sockets)
        case .disconnectSockets:
            let close = request["close"]?.boolValue ?? false
            for socket in await local.localSockets(options) { socket.disconnect(close: close) }
        case .serverSideEmit:
            let wantsAck = request["ack"]?.boolValue ?? false
            var acknowledge: (@Sendable ([JSONValue]) -> Void)?
            if wantsAck {
                acknowledge = { @Sendable [self] args in respond(to: origin, ["id": .string(id), "args": .array(args)]) }
            }
            let event = SocketIOEvent(name: request["event"]?.stringValue ?? "", args: request["args"]?.arrayValue ?? [], acknowledge: acknowledge)
            namespace?.receiveServerSideEmit(event)
            return
        }
        respond(to: origin, answer)
    }

    /// Waits until room changes made on these sockets' loops reached the adapter and the bus, so a requester
    /// that got its answer can broadcast to the new rooms at once.
    private func settle(_ sockets: [Socket]) async {
        var loops: [ObjectIdentifier: any EventLoop] = [:]
        for socket in sockets { loops[ObjectIdentifier(socket.eventLoop as AnyObject)] = socket.eventLoop }
        for loop in loops.values { try? await loop.submit {}.get() }
        await subscriptionsSettled()
    }

    private func respond(to origin: String, _ answer: JSONObject) {
        bus.publishDetached(channel: channel(.response(node: origin)), message: ByteBuffer(string: JSONValue.object(answer).jsonString)) { [logger] error in
            logger.warning("cluster answer not published", metadata: ["error": "\(error)"])
        }
    }

    static func json(_ options: BroadcastOptions) -> JSONValue {
        ["rooms": .array(options.rooms.sorted().map(JSONValue.string)), "except": .array(options.except.sorted().map(JSONValue.string))]
    }

    /// The audience of a request from another node; nil when a room in it is not a valid room name.
    static func options(_ json: JSONValue?, maxBytes: Int = RoomName.defaultMaxBytes) -> BroadcastOptions? {
        guard let rooms = roomNames(json?["rooms"], maxBytes: maxBytes), let except = roomNames(json?["except"], maxBytes: maxBytes) else {
            return nil
        }
        return BroadcastOptions(rooms: Set(rooms.map(\.rawValue)), except: Set(except.map(\.rawValue)), local: true)
    }

    /// An absent list is empty; anything but an array of valid room names is nil.
    static func roomNames(_ json: JSONValue?, maxBytes: Int) -> [RoomName]? {
        guard let json else { return [] }
        guard case .array(let items) = json else { return nil }
        var rooms: [RoomName] = []
        rooms.reserveCapacity(items.count)
        for item in items {
            guard case .string(let text) = item, let room = RoomName(validating: text, maxBytes: maxBytes) else { return nil }
            rooms.append(room)
        }
        return rooms
    }
}
