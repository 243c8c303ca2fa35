import EngineIO
import Logging
import NIOCore
import SocketIOProtocol
import Synchronization

/// A client's membership of one namespace. Thread-safe: calls made off its event loop hop there.
public final class Socket: Sendable {
    /// Random per socket, and the name of the socket's own room.
    public let id: String
    public let namespace: Namespace
    public let handshake: SocketIOHandshake
    /// The private session id a client presents to recover this socket (only with connection state recovery).
    public let pid: String?
    /// Whether this socket is a recovered one: same id, rooms and data, missed events replayed.
    public let recovered: Bool
    let connection: SocketIOConnection
    private let state = Mutex(State())

    struct State {
        var connected = false
        /// Disconnected or refused: joins are ignored from then on.
        var left = false
        var rooms: Set<String> = []
        var data: JSONValue = .null
        var handlers: [String: @Sendable (SocketIOEvent) -> Void] = [:]
        var anyHandlers: [@Sendable (SocketIOEvent) -> Void] = []
        var gates: [@Sendable (SocketIOEvent) -> Bool] = []
        var disconnecting: [@Sendable (DisconnectReason) -> Void] = []
        var disconnect: [@Sendable (DisconnectReason) -> Void] = []
        var nextAckID = 0
        var pendingAcks: [Int: PendingAck] = [:]
        var connectOffset = ""
    }

    struct PendingAck {
        let continuation: CheckedContinuation<[JSONValue], any Error>
        let timer: Scheduled<Void>
    }

    init(id: String, namespace: Namespace, handshake: SocketIOHandshake, connection: SocketIOConnection,
         pid: String? = nil, recovered: Bool = false) {
        self.id = id
        self.namespace = namespace
        self.handshake = handshake
        self.connection = connection
        self.pid = pid
        self.recovered = recovered
    }

    var connectOffset: String {
        get { state.withLock { $0.connectOffset } }
        set { state.withLock { $0.connectOffset = newValue } }
    }

    public var eventLoop: any EventLoop { connection.eventLoop }
    public var connected: Bool { state.withLock { $0.connected } }
    /// Rooms this socket is in, its own id included.
    public var rooms: Set<String> { state.withLock { $0.rooms } }
    var loopRooms: Set<String> { rooms }
    /// The Engine.IO transport currently in use.
    public var transport: EngineIOTransportKind { connection.transport.kind }

    /// Application data attached to the socket (for example the authenticated user), visible to `fetchSockets`.
    public var data: JSONValue {
        get { state.withLock { $0.data } }
        set { state.withLock { $0.data = newValue } }
    }

    // MARK: Listening

    /// Handles one event; `event.ack(...)` answers a client that asked for an acknowledgement.
    public func on(_ event: String, _ handler: @escaping @Sendable (SocketIOEvent) -> Void) {
        state.withLock { $0.handlers[event] = handler }
    }

    /// Handles one event in a new task, for handlers that await (database, other services).
    public func onAsync(_ event: String, _ handler: @escaping @Sendable (SocketIOEvent) async -> Void) {
        on(event) { received in Task { await handler(received) } }
    }

    /// Incoming-event middleware: runs before any handler; returning false drops the event (the gate answers
    /// the client itself if it should hear about it). Used for rate and size limits.
    public func use(_ gate: @escaping @Sendable (SocketIOEvent) -> Bool) {
        state.withLock { $0.gates.append(gate) }
    }

    /// Sees every event before its own handler.
    public func onAny(_ handler: @escaping @Sendable (SocketIOEvent) -> Void) {
        state.withLock { $0.anyHandlers.append(handler) }
    }

    /// Called when the socket is about to leave, while it is still in its rooms.
    public func onDisconnecting(_ handler: @escaping @Sendable (DisconnectReason) -> Void) {
        state.withLock { $0.disconnecting.append(handler) }
    }

    /// Called once the socket has left every room.
    public func onDisconnect(_ handler: @escaping @Sendable (DisconnectReason) -> Void) {
        state.withLock { $0.disconnect.append(handler) }
    }

    // MARK: Emitting

    public func emit(_ event: String, _ args: JSONValue...) { emit(event, args: args) }

    public func emit(_ event: String, args: [JSONValue]) {
        guard !reservedEventNames.contains(event) else {
            namespace.server.logger.error("refusing to emit reserved event", metadata: ["event": "\(event)"])
            return
        }
        let packet = SocketIOPacket.event(event, args, namespace: namespace.name)
        namespace.server.stats.eventSent()
        if pid != nil {
            // With recovery on, a direct emit is logged like a broadcast to the socket's own room.
            namespace.adapter.broadcast(packet, options: BroadcastOptions(rooms: [id], local: true))
        } else {
            namespace.server.stats.delivered(1)
            send(packet)
        }
    }

    /// Emits and waits for the client's acknowledgement; throws `AckError.timeout` or `.disconnected`.
    public func emitWithAck(_ event: String, _ args: JSONValue..., timeout: Duration? = nil) async throws -> [JSONValue] {
        try await emitWithAck(event, args: args, timeout: timeout)
    }

    public func emitWithAck(_ event: String, args: [JSONValue], timeout: Duration? = nil) async throws -> [JSONValue] {
        let timeout = timeout ?? namespace.server.configuration.ackTimeout
        return try await withCheckedThrowingContinuation { continuation in
            onLoop { [self] in
                let id: Int? = state.withLock { locked -> Int? in
                    guard locked.connected else { return nil }
                    let id = locked.nextAckID
                    locked.nextAckID += 1
                    let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) { [self] in
                        let pending = state.withLock { $0.pendingAcks.removeValue(forKey: id) }
                        pending?.continuation.resume(throwing: AckError.timeout)
                    }
                    locked.pendingAcks[id] = PendingAck(continuation: continuation, timer: timer)
                    return id
                }
                guard let id else {
                    continuation.resume(throwing: AckError.disconnected)
                    return
                }
                namespace.server.stats.eventSent()
                namespace.server.stats.delivered(1)
                send(.event(event, args, namespace: namespace.name, id: id))
            }
        }
    }

    func send(_ packet: SocketIOPacket) {
        let message = packet.prepared()
        onLoop { [connection] in connection.transport.send(message) }
    }

    // MARK: Rooms

    /// Joins rooms whose names the server chose itself (unchecked; names from outside are `RoomName`s). A join
    /// that would take the socket past `SocketIOConfiguration.maxRoomsPerSocket` adds none of its rooms and is
    /// counted in `SocketIOStats.roomJoinsRefused`; `joinReachable` reports it to the caller.
    public func join(_ rooms: String...) { join(rooms) }

    public func join(_ rooms: [String]) {
        onLoop { [self] in _ = joinOnLoop(rooms) }
    }

    /// Joins rooms named from outside (checked at the edge).
    public func join(_ rooms: [RoomName]) { join(rooms.map(\.rawValue)) }

    enum JoinOutcome { case joined, refused, left }

    /// Adds the rooms, all or none: none when the socket has left, or when they would take it past the room cap
    /// (its own room does not count). Joins made before the socket is connected (in middleware) are remembered
    /// and reach the adapter in `didConnect`.
    func joinOnLoop(_ rooms: [String]) -> JoinOutcome {
        let limit = namespace.server.configuration.maxRoomsPerSocket
        let (outcome, added): (JoinOutcome, [String]) = state.withLock { state in
            guard !state.left else { return (.left, []) }
            var fresh = Set<String>()
            for room in rooms where room != id && !state.rooms.contains(room) {
                fresh.insert(room)
                // Stop counting at the first room beyond the cap: a request for a million rooms costs no more.
                if fresh.count > limit { return (.refused, []) }
            }
            let joined = state.rooms.count - (state.rooms.contains(id) ? 1 : 0)
            guard joined + fresh.count <= limit else { return (.refused, []) }
            let added = rooms.filter { state.rooms.insert($0).inserted }
            return (.joined, state.connected ? added : [])
        }
        if outcome == .refused {
            namespace.server.stats.roomJoinRefused()
            namespace.server.logger.debug("join refused: room cap reached", metadata: ["sid": "\(id)", "limit": "\(limit)"])
        }
        if !added.isEmpty {
            namespace.adapter.join(self, rooms: added)
            namespace.membershipChanged(self, .joined(added))
        }
        return outcome
    }

    /// Whether joining these rooms would stay within the room cap now (a quick check before subscribing them).
    private func fitsRoomCap(_ rooms: [String]) -> Bool {
        let limit = namespace.server.configuration.maxRoomsPerSocket
        return state.withLock { state in
            var fresh = Set<String>()
            for room in rooms where room != id && !state.rooms.contains(room) {
                fresh.insert(room)
                if fresh.count > limit { return false }
            }
            return state.rooms.count - (state.rooms.contains(id) ? 1 : 0) + fresh.count <= limit
        }
    }

    /// Joins, and returns once a broadcast to these rooms from any node reaches this socket: a cluster adapter
    /// subscribes a room's channel asynchronously, so answer "subscribed" to a client only after this.
    /// Meant for a connected socket (joins in middleware are made reachable before the CONNECT reply).
    /// Throws `RoomLimitError` (and joins none of them) when the rooms would take the socket past the room cap.
    public func joinReachable(_ rooms: [RoomName]) async throws(RoomLimitError) {
        guard await joinReachable(rooms.map(\.rawValue)) else {
            throw RoomLimitError(limit: namespace.server.configuration.maxRoomsPerSocket)
        }
    }

    /// `joinReachable` for names the server chose itself; false when the room cap refused the join.
    @discardableResult
    public func joinReachable(_ rooms: [String]) async -> Bool {
        // Refused before anything is subscribed on the bus: rooms beyond the cap never cost a SUBSCRIBE.
        guard fitsRoomCap(rooms) else {
            namespace.server.stats.roomJoinRefused()
            return false
        }
        let adapter = namespace.adapter
        // The hold subscribes the channels and waits for them; the join then counts as a member on its loop.
        await adapter.holdRooms(rooms)
        let outcome = try? await eventLoop.submit { [self] in joinOnLoop(rooms) }.get()
        adapter.releaseRooms(rooms)
        return outcome != .refused
    }

    public func leave(_ room: String) {
        onLoop { [self] in leaveOnLoop(room) }
    }

    func leaveOnLoop(_ room: String) {
        let (removed, connected) = state.withLock { ($0.rooms.remove(room) != nil, $0.connected) }
        if removed {
            namespace.adapter.leave(self, room: room)
            if connected { namespace.membershipChanged(self, .left([room])) }
        }
    }

    /// Joins and leaves on the socket's loop, returning once done: `socketsJoin`/`socketsLeave` return with this
    /// node's sockets already moved, as the reference server's local adapter does.
    func changeRooms(join: [String] = [], leave: [String] = []) async {
        try? await eventLoop.submit { [self] in
            if !join.isEmpty { _ = joinOnLoop(join) }
            for room in leave { leaveOnLoop(room) }
        }.get()
    }

    /// Leaves a room named from outside.
    public func leave(_ room: RoomName) { leave(room.rawValue) }

    /// Broadcast to a room, to everyone in it but this socket.
    public func to(_ rooms: String...) -> BroadcastOperator {
        BroadcastOperator(namespace: namespace, options: BroadcastOptions(rooms: Set(rooms), except: [id]))
    }

    /// Broadcast to rooms named from outside, to everyone in them but this socket.
    public func to(_ rooms: RoomName...) -> BroadcastOperator {
        BroadcastOperator(namespace: namespace, options: BroadcastOptions(rooms: Set(rooms.map(\.rawValue)), except: [id]))
    }

    /// Broadcast to the whole namespace but this socket.
    public var broadcast: BroadcastOperator {
        BroadcastOperator(namespace: namespace, options: BroadcastOptions(except: [id]))
    }

    // MARK: Disconnecting

    /// Leaves the namespace ("server namespace disconnect"); with `close`, closes the whole connection.
    public func disconnect(close: Bool = false) {
        onLoop { [self] in
            if close {
                connection.close(reason: .forcedServerClose)
            } else if connected {
                send(.disconnect(namespace: namespace.name))
                didDisconnect(reason: .serverNamespaceDisconnect)
            }
        }
    }

    // MARK: Internals (on the event loop)

    func onLoop(_ body: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }

    func didConnect() {
        let rooms = state.withLock { state in
            state.connected = true
            state.rooms.insert(id)
            return Array(state.rooms)
        }
        namespace.adapter.join(self, rooms: rooms)
        namespace.membershipChanged(self, .joined(rooms))
        namespace.socketConnected(self)
    }

    func dispatch(_ packet: SocketIOPacket) {
        guard case .array(var args)? = packet.data, case .string(let name)? = args.first else { return }
        args.removeFirst()
        var acknowledge: (@Sendable ([JSONValue]) -> Void)?
        if let ackID = packet.id {
            let once = Mutex(false)
            acknowledge = { [self] values in
                guard once.withLock({ sent in defer { sent = true }; return !sent }) else { return }
                send(.ack(id: ackID, args: values, namespace: namespace.name))
            }
        }
        let event = SocketIOEvent(name: name, args: args, acknowledge: acknowledge)
        let (handler, anyHandlers, gates) = state.withLock { ($0.handlers[name], $0.anyHandlers, $0.gates) }
        for gate in gates where !gate(event) { return }
        for any in anyHandlers { any(event) }
        handler?(event)
    }

    /// Drops a socket refused by middleware (or whose connection closed meanwhile): no later joins, and the
    /// handlers it registered are released, since they usually capture the socket.
    func discard() {
        state.withLock { state in
            state.left = true
            state.rooms = []
            state.handlers = [:]
            state.anyHandlers = []
            state.gates = []
            state.disconnecting = []
            state.disconnect = []
        }
    }

    func receiveAck(_ packet: SocketIOPacket) {
        guard let id = packet.id else { return }
        guard let pending = state.withLock({ $0.pendingAcks.removeValue(forKey: id) }) else { return }
        pending.timer.cancel()
        pending.continuation.resume(returning: packet.data?.arrayValue ?? [])
    }

    /// Leaves every room and runs the disconnect handlers; idempotent.
    func didDisconnect(reason: DisconnectReason) {
        let disconnecting = state.withLock { state -> [@Sendable (DisconnectReason) -> Void]? in
            guard state.connected else { return nil }
            return state.disconnecting
        }
        guard let disconnecting else { return }
        for handler in disconnecting { handler(reason) }
        if let pid, recoverableReasons.contains(reason) {
            let (rooms, data, offset) = state.withLock { ($0.rooms, $0.data, $0.connectOffset) }
            let session = RecoverableSession(
                id: id, pid: pid, rooms: rooms.subtracting([id]).sorted(), data: data, connectOffset: offset)
            namespace.adapter.persistSession(session)
        }
        namespace.adapter.leaveAll(self)
        let (handlers, acks, rooms) = state.withLock { state in
            let rooms = state.rooms
            state.connected = false
            state.left = true
            state.rooms = []
            let result = (state.disconnect, state.pendingAcks)
            // Dropping the handlers breaks the cycles closures make by capturing their socket.
            state.handlers = [:]
            state.anyHandlers = []
            state.gates = []
            state.disconnecting = []
            state.disconnect = []
            state.pendingAcks = [:]
            return (result.0, result.1, rooms)
        }
        if !rooms.isEmpty { namespace.membershipChanged(self, .left(Array(rooms))) }
        for pending in acks.values {
            pending.timer.cancel()
            pending.continuation.resume(throwing: AckError.disconnected)
        }
        connection.socketLeft(self)
        namespace.socketDisconnected(self)
        for handler in handlers { handler(reason) }
    }
}
