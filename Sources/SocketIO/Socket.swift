import EngineIO
import Logging
import NIOCore
import SocketIOProtocol
import Synchronization

/// A client's membership of one namespace.
///
/// Loop-confined: its handlers and pending acknowledgements live on `eventLoop` (its connection's) and are used
/// there without a lock; a public method called from another thread hops there once. `rooms`, `data` and the
/// connected flags alone sit behind `shared`'s lock, because middleware, async handlers and cluster requests
/// read them from other threads (and a socket not yet connected records its joins at once, with no adapter
/// involved, so that its CONNECT reply needs no barrier to see them).
public final class Socket: @unchecked Sendable {
    /// Random per socket, and the name of the socket's own room.
    public let id: String
    public let namespace: Namespace
    public let handshake: SocketIOHandshake
    /// The private session id a client presents to recover this socket (only with connection state recovery).
    public let pid: String?
    /// Whether this socket is a recovered one: same id, rooms and data, missed events replayed.
    public let recovered: Bool
    let connection: SocketIOConnection
    /// The log position when the socket connected (connection state recovery; empty without).
    let connectOffset: String
    private let shared = Mutex(Shared())

    struct Shared {
        var connected = false
        /// Disconnected or refused: joins are ignored from then on.
        var left = false
        var rooms: Set<String> = []
        var data: JSONValue = .null
    }

    // On the loop only.
    private var handlers: [String: @Sendable (SocketIOEvent) -> Void] = [:]
    private var anyHandlers: [@Sendable (SocketIOEvent) -> Void] = []
    private var gates: [@Sendable (SocketIOEvent) -> Bool] = []
    private var disconnectingHandlers: [@Sendable (DisconnectReason) -> Void] = []
    private var disconnectHandlers: [@Sendable (DisconnectReason) -> Void] = []
    private var nextAckID = 0
    private var pendingAcks: [Int: PendingAck] = [:]
    /// Set with `left`, on the loop: handlers registered from then on are dropped (they would keep the socket).
    private var released = false

    struct PendingAck {
        let continuation: CheckedContinuation<[JSONValue], any Error>
        let timer: Scheduled<Void>
    }

    init(id: String, namespace: Namespace, handshake: SocketIOHandshake, connection: SocketIOConnection,
         pid: String? = nil, recovered: Bool = false, connectOffset: String = "") {
        self.id = id
        self.connectOffset = connectOffset
        self.namespace = namespace
        self.handshake = handshake
        self.connection = connection
        self.pid = pid
        self.recovered = recovered
    }

    public var eventLoop: any EventLoop { connection.eventLoop }
    public var connected: Bool { shared.withLock { $0.connected } }
    /// Rooms this socket is in, its own id included.
    public var rooms: Set<String> { shared.withLock { $0.rooms } }
    var loopRooms: Set<String> { rooms }
    /// The Engine.IO transport currently in use.
    public var transport: EngineIOTransportKind { connection.transport.kind }

    /// Application data attached to the socket (for example the authenticated user), visible to `fetchSockets`.
    public var data: JSONValue {
        get { shared.withLock { $0.data } }
        set { shared.withLock { $0.data = newValue } }
    }

    // MARK: Listening

    /// Handles one event; `event.ack(...)` answers a client that asked for an acknowledgement.
    public func on(_ event: String, _ handler: @escaping @Sendable (SocketIOEvent) -> Void) {
        onLoop { [self] in if !released { handlers[event] = handler } }
    }

    /// Handles one event in a new task, for handlers that await (database, other services).
    public func onAsync(_ event: String, _ handler: @escaping @Sendable (SocketIOEvent) async -> Void) {
        on(event) { received in Task { await handler(received) } }
    }

    /// Incoming-event middleware: runs before any handler; returning false drops the event (the gate answers
    /// the client itself if it should hear about it). Used for rate and size limits.
    public func use(_ gate: @escaping @Sendable (SocketIOEvent) -> Bool) {
        onLoop { [self] in if !released { gates.append(gate) } }
    }

    /// Sees every event before its own handler.
    public func onAny(_ handler: @escaping @Sendable (SocketIOEvent) -> Void) {
        onLoop { [self] in if !released { anyHandlers.append(handler) } }
    }

    /// Called when the socket is about to leave, while it is still in its rooms.
    public func onDisconnecting(_ handler: @escaping @Sendable (DisconnectReason) -> Void) {
        onLoop { [self] in if !released { disconnectingHandlers.append(handler) } }
    }

    /// Called once the socket has left every room.
    public func onDisconnect(_ handler: @escaping @Sendable (DisconnectReason) -> Void) {
        onLoop { [self] in if !released { disconnectHandlers.append(handler) } }
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
                guard connected else {
                    continuation.resume(throwing: AckError.disconnected)
                    return
                }
                let id = nextAckID
                nextAckID += 1
                let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) { [self] in
                    let pending = pendingAcks.removeValue(forKey: id)
                    pending?.continuation.resume(throwing: AckError.timeout)
                }
                pendingAcks[id] = PendingAck(continuation: continuation, timer: timer)
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
        if eventLoop.inEventLoop { return _ = joinOnLoop(rooms) }
        // Not connected yet (in middleware): the rooms are only recorded, at once. Connected: the adapter's
        // shard lives on the loop.
        let recorded = shared.withLock { !$0.connected }
        if recorded, record(rooms) { return }
        eventLoop.execute { [self] in _ = joinOnLoop(rooms) }
    }

    /// Records the rooms of a socket not yet connected (they reach the adapter in `didConnect`); false when it
    /// connected meanwhile, and the join must run on the loop.
    private func record(_ rooms: [String]) -> Bool {
        let outcome: JoinOutcome? = shared.withLock { state in
            guard !state.connected else { return nil }
            return admit(rooms, into: &state).outcome
        }
        guard let outcome else { return false }
        if outcome == .refused { refused() }
        return true
    }

    /// Joins rooms named from outside (checked at the edge).
    public func join(_ rooms: [RoomName]) { join(rooms.map(\.rawValue)) }

    enum JoinOutcome { case joined, refused, left }

    /// Adds the rooms, all or none: none when the socket has left, or when they would take it past the room cap
    /// (its own room does not count). Joins made before the socket is connected (in middleware) are remembered
    /// and reach the adapter in `didConnect`.
    func joinOnLoop(_ rooms: [String]) -> JoinOutcome {
        let (outcome, added) = shared.withLock { admit(rooms, into: &$0) }
        if outcome == .refused { refused() }
        if !added.isEmpty {
            namespace.adapter.join(self, rooms: added)
            namespace.membershipChanged(self, .joined(added))
        }
        return outcome
    }

    /// Adds the rooms to `state`, all or none; `added` are the ones that must reach the adapter now (none
    /// while the socket is not connected).
    private func admit(_ rooms: [String], into state: inout Shared) -> (outcome: JoinOutcome, added: [String]) {
        let limit = namespace.server.configuration.maxRoomsPerSocket
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

    private func refused() {
        namespace.server.stats.roomJoinRefused()
        namespace.server.logger.debug(
            "join refused: room cap reached",
            metadata: ["sid": "\(id)", "limit": "\(namespace.server.configuration.maxRoomsPerSocket)"])
    }

    /// Whether joining these rooms would stay within the room cap now (a quick check before subscribing them).
    private func fitsRoomCap(_ rooms: [String]) -> Bool {
        let limit = namespace.server.configuration.maxRoomsPerSocket
        return shared.withLock { state in
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
        let outcome = await completedOnLoop { [self] in joinOnLoop(rooms) }
        adapter.releaseRooms(rooms)
        return outcome != .refused
    }

    public func leave(_ room: String) {
        onLoop { [self] in leaveOnLoop(room) }
    }

    /// `disconnect`, returning once the socket is gone.
    func disconnectCompletely(close: Bool) async {
        _ = await completedOnLoop { [self] in disconnectOnLoop(close: close) }
    }

    private func leaveOnLoop(_ room: String) {
        let (removed, connected) = shared.withLock { ($0.rooms.remove(room) != nil, $0.connected) }
        guard removed else { return }
        namespace.adapter.leave(self, room: room)
        if connected { namespace.membershipChanged(self, .left([room])) }
    }

    /// Joins and leaves for these sockets on their loops, returning once done (one hop per event loop, not per
    /// socket): `socketsJoin`/`socketsLeave` return with this node's sockets already moved, as the reference
    /// server's local adapter does, and a cluster node answers a request only after its sockets moved.
    package static func changeRooms(of sockets: [Socket], join: [String] = [], leave: [String] = []) async {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, sockets: [Socket])] = [:]
        for socket in sockets {
            byLoop[ObjectIdentifier(socket.eventLoop as AnyObject), default: (socket.eventLoop, [])].sockets.append(socket)
        }
        await withTaskGroup(of: Void.self) { group in
            for (loop, members) in byLoop.values {
                group.addTask {
                    try? await loop.submit {
                        for socket in members {
                            if !join.isEmpty { _ = socket.joinOnLoop(join) }
                            for room in leave { socket.leaveOnLoop(room) }
                        }
                    }.get()
                }
            }
        }
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
        onLoop { [self] in disconnectOnLoop(close: close) }
    }

    private func disconnectOnLoop(close: Bool) {
        if close {
            connection.close(reason: .forcedServerClose)
        } else if connected {
            send(.disconnect(namespace: namespace.name))
            didDisconnect(reason: .serverNamespaceDisconnect)
        }
    }

    // MARK: Internals (on the event loop)

    /// The one hop of a public entry point called off the loop.
    func onLoop(_ body: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }

    /// Runs `body` on the loop and returns its result once it ran (nil when the loop is gone): the explicit
    /// completion for callers that go on only once the effect (a join) is in place.
    func completedOnLoop<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T? {
        if eventLoop.inEventLoop { return body() }
        return try? await eventLoop.submit(body).get()
    }

    func didConnect() {
        eventLoop.assertInEventLoop()
        let rooms = shared.withLock { state in
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
            // Handlers may answer from any thread: the first answer wins.
            let once = Atomic(false)
            acknowledge = { [self] values in
                guard once.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
                send(.ack(id: ackID, args: values, namespace: namespace.name))
            }
        }
        let event = SocketIOEvent(name: name, args: args, acknowledge: acknowledge)
        // Copies: a handler may register or drop handlers while they run.
        let (handler, anyHandlers, gates) = (handlers[name], anyHandlers, gates)
        for gate in gates where !gate(event) { return }
        for any in anyHandlers { any(event) }
        handler?(event)
    }

    /// Drops a socket refused by middleware (or whose connection closed meanwhile): no later joins, and the
    /// handlers it registered are released, since they usually capture the socket.
    func discard() {
        eventLoop.assertInEventLoop()
        shared.withLock { state in
            state.left = true
            state.rooms = []
        }
        releaseHandlers()
    }

    /// Drops every handler (breaking the cycles closures make by capturing their socket) and refuses new ones.
    private func releaseHandlers() {
        released = true
        handlers = [:]
        anyHandlers = []
        gates = []
        disconnectingHandlers = []
        disconnectHandlers = []
    }

    func receiveAck(_ packet: SocketIOPacket) {
        guard let id = packet.id else { return }
        guard let pending = pendingAcks.removeValue(forKey: id) else { return }
        pending.timer.cancel()
        pending.continuation.resume(returning: packet.data?.arrayValue ?? [])
    }

    /// Leaves every room and runs the disconnect handlers; idempotent.
    func didDisconnect(reason: DisconnectReason) {
        eventLoop.assertInEventLoop()
        guard connected else { return }
        for handler in disconnectingHandlers { handler(reason) }
        if let pid, recoverableReasons.contains(reason) {
            let (rooms, data) = shared.withLock { ($0.rooms, $0.data) }
            let session = RecoverableSession(
                id: id, pid: pid, rooms: rooms.subtracting([id]).sorted(), data: data, connectOffset: connectOffset)
            namespace.adapter.persistSession(session)
        }
        namespace.adapter.leaveAll(self)
        let rooms = shared.withLock { state in
            let rooms = state.rooms
            state.connected = false
            state.left = true
            state.rooms = []
            return rooms
        }
        let (handlers, acks) = (disconnectHandlers, pendingAcks)
        pendingAcks = [:]
        releaseHandlers()
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
