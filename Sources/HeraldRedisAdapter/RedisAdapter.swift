import EngineIO
import Logging
import NIOCore
import SocketIO
import SocketIOProtocol
import Synchronization

/// A namespace adapter for many nodes. Broadcasts are delivered locally and published once on the cluster bus;
/// a node subscribes to a room's channel only while it has members in that room, so a broadcast to a room
/// reaches only the nodes that serve it. Requests (fetchSockets, socketsJoin, serverSideEmit…) go to every
/// node and wait for their answers, with a timeout.
///
/// Channels: see `channelName(prefix:namespace:_:)` and docs/cluster.md.
public final class RedisAdapter: SocketIOAdapter {
    public let configuration: RedisAdapterConfiguration
    /// This node's id, random per process.
    public let nodeID: String
    public let logger: Logger
    let bus: any ClusterBus
    /// The cluster-wide event log for connection state recovery; without one, recovery is off for this adapter.
    let log: (any ClusterLog)?
    let local = InMemoryAdapter()
    private let state = Mutex(State())
    /// Rooms whose subscription may have to change, reconciled in batches by one task at a time (so a quick
    /// join/leave/join never leaves the subscription in the wrong state), and who waits for them.
    private let subscriptions = Mutex(SubscriptionWork())
    private let publishFailures = Mutex(0)
    private let drops = Mutex(0)
    /// Recovery sessions being written to the cluster log (see `sessionsPersisted()`).
    let savesInFlight = Mutex(SavesInFlight())

    struct SubscriptionWork {
        var rooms: Set<String> = []
        /// Waiters for every change requested before them: resumed after the batch that takes them.
        var barriers: [CheckedContinuation<Void, Never>] = []
        /// Whether a task is reconciling (it takes what is queued until nothing is).
        var running = false
    }

    struct State {
        var namespace: Namespace?
        var recovery: ConnectionStateRecovery?
        var memberCounts: [String: Int] = [:]
        var subscribedRooms: Set<String> = []
        var pending: [String: PendingRequest] = [:]
        var ready: [CheckedContinuation<Void, any Error>] = []
        var started: Result<Void, any Error>?
    }

    final class PendingRequest: Sendable {
        let expected: Int
        let responses = Mutex<[ClusterResponse]>([])
        let continuation: Mutex<CheckedContinuation<[ClusterResponse], any Error>?>

        init(expected: Int, continuation: CheckedContinuation<[ClusterResponse], any Error>) {
            self.expected = expected
            self.continuation = Mutex(continuation)
        }

        /// Resumes once, with every response or with the timeout's error.
        func finish(_ result: Result<[ClusterResponse], any Error>) {
            continuation.withLock { $0.take() }?.resume(with: result)
        }
    }

    public init(bus: any ClusterBus, log: (any ClusterLog)? = nil, configuration: RedisAdapterConfiguration = RedisAdapterConfiguration(),
                logger: Logger = Logger(label: "herald.cluster")) {
        self.bus = bus
        self.log = log
        self.configuration = configuration
        self.logger = logger
        self.nodeID = EngineIOServer.makeSessionID()
    }

    /// A factory for `SocketIOServer(adapterFactory:)`: every namespace gets an adapter on the same bus.
    public static func factory(bus: any ClusterBus, log: (any ClusterLog)? = nil, configuration: RedisAdapterConfiguration = RedisAdapterConfiguration(),
                               logger: Logger = Logger(label: "herald.cluster")) -> @Sendable (String) -> any SocketIOAdapter {
        { _ in RedisAdapter(bus: bus, log: log, configuration: configuration, logger: logger) }
    }

    var namespaceName: String { state.withLock { $0.namespace?.name } ?? "/" }
    var namespace: Namespace? { state.withLock { $0.namespace } }
    var recoveryConfiguration: ConnectionStateRecovery? { state.withLock { $0.recovery } }
    /// The server's bound on room names read from the bus (requests, saved sessions).
    var maxRoomNameBytes: Int { namespace?.server.configuration.maxRoomNameBytes ?? RoomName.defaultMaxBytes }

    func register(_ pending: PendingRequest, id: String) { state.withLock { $0.pending[id] = pending } }
    func unregister(id: String) -> PendingRequest? { state.withLock { $0.pending.removeValue(forKey: id) } }
    func pendingRequest(id: String) -> PendingRequest? { state.withLock { $0.pending[id] } }

    // MARK: Channels

    func channel(_ kind: ChannelKind = .namespace) -> String {
        Self.channelName(prefix: configuration.channelPrefix, namespace: namespaceName, kind)
    }

    func channel(_ room: String) -> String { channel(.room(room)) }

    var requestChannel: String { channel(.request) }
    var responseChannel: String { channel(.response(node: nodeID)) }

    // MARK: Lifecycle

    public func attach(to namespace: Namespace) {
        let recovery = namespace.server.configuration.connectionStateRecovery
        if recovery != nil && log == nil {
            logger.warning("connection state recovery needs a cluster log; it is off for this namespace", metadata: ["namespace": "\(namespace.name)"])
        }
        state.withLock {
            $0.namespace = namespace
            $0.recovery = log == nil ? nil : recovery
        }
        Task {
            let result: Result<Void, any Error>
            do {
                try await bus.subscribe(channel: channel()) { [weak self] message in self?.receiveBroadcast(message) }
                try await bus.subscribe(channel: requestChannel) { [weak self] message in self?.receiveRequest(message) }
                try await bus.subscribe(channel: responseChannel) { [weak self] message in self?.receiveResponse(message) }
                result = .success(())
            } catch {
                logger.error("cluster adapter could not subscribe", metadata: ["namespace": "\(namespace.name)", "error": "\(error)"])
                result = .failure(error)
            }
            let waiters = state.withLock { state in
                state.started = result
                defer { state.ready = [] }
                return state.ready
            }
            for waiter in waiters { waiter.resume(with: result) }
        }
    }

    /// Returns once the adapter listens on the bus (or throws why it cannot).
    public func ready() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let started = state.withLock { state -> Result<Void, any Error>? in
                if state.started == nil { state.ready.append(continuation) }
                return state.started
            }
            if let started { continuation.resume(with: started) }
        }
    }

    /// Broadcasts that could not be published since the process started.
    public var failedPublishes: Int { publishFailures.withLock { $0 } }

    /// Messages from the bus or the log dropped as malformed (undecodable, or naming an invalid room) since the
    /// process started.
    public var droppedMessages: Int { drops.withLock { $0 } }

    /// Counts and logs a malformed message; it is then dropped (what comes from the bus is outside input).
    func dropped(_ what: String, metadata: Logger.Metadata = [:]) {
        drops.withLock { $0 += 1 }
        logger.warning("\(what) dropped", metadata: metadata)
    }

    // MARK: Rooms

    public func join(_ socket: Socket, rooms: [String]) {
        local.join(socket, rooms: rooms)
        // The socket's own room travels on the namespace channel (see `clusterMessage`): no subscription per
        // connection, so a connect storm sends no SUBSCRIBE and a new socket is reachable at once.
        count(rooms.filter { $0 != socket.id })
    }

    public func leave(_ socket: Socket, room: String) {
        local.leave(socket, room: room)
        if room != socket.id { release([room]) }
    }

    public func leaveAll(_ socket: Socket) {
        let rooms = socket.rooms.subtracting([socket.id])
        local.leaveAll(socket)
        release(Array(rooms))
    }

    /// A hold counts like a member: the room's channel is subscribed (and settled) before the socket is accepted.
    public func holdRooms(_ rooms: [String]) async {
        count(rooms)
        await subscriptionsSettled()
    }

    public func releaseRooms(_ rooms: [String]) { release(rooms) }

    /// Counts a member (or hold) in each room, and subscribes the rooms that got their first. Only rooms whose
    /// broadcasts travel on their own channel are counted (see `carriesOnRoomChannel`).
    private func count(_ rooms: [String]) {
        let firstMembers = state.withLock { state in
            rooms.filter { room in
                guard Self.carriesOnRoomChannel(room) else { return false }
                state.memberCounts[room, default: 0] += 1
                return state.memberCounts[room] == 1
            }
        }
        reconcile(firstMembers)
    }

    private func release(_ rooms: [String]) {
        let emptied = state.withLock { state in
            rooms.filter { room in
                guard let count = state.memberCounts[room] else { return false }
                state.memberCounts[room] = count > 1 ? count - 1 : nil
                return count == 1
            }
        }
        reconcile(emptied)
    }

    /// Queues the rooms for a subscription check, and starts the task that makes them when none runs.
    private func reconcile(_ rooms: [String]) {
        guard !rooms.isEmpty else { return }
        let start = subscriptions.withLock { work in
            work.rooms.formUnion(rooms)
            defer { work.running = true }
            return !work.running
        }
        if start { Task { await reconcileQueued() } }
    }

    /// Takes what is queued, batch after batch: the rooms whose members and subscription disagree are
    /// subscribed (or unsubscribed) together, then the waiters of that batch resume.
    private func reconcileQueued() async {
        while true {
            let (rooms, barriers) = subscriptions.withLock { work -> (Set<String>, [CheckedContinuation<Void, Never>]) in
                defer { (work.rooms, work.barriers) = ([], []) }
                if work.rooms.isEmpty && work.barriers.isEmpty { work.running = false }
                return (work.rooms, work.barriers)
            }
            if rooms.isEmpty && barriers.isEmpty { return }
            let (wanted, unwanted) = state.withLock { state in
                (rooms.filter { state.memberCounts[$0] != nil && !state.subscribedRooms.contains($0) },
                 rooms.filter { state.memberCounts[$0] == nil && state.subscribedRooms.contains($0) })
            }
            if !wanted.isEmpty {
                do {
                    try await bus.subscribe(channels: wanted.map { channel($0) }) { [weak self] message in self?.receiveBroadcast(message) }
                    state.withLock { $0.subscribedRooms.formUnion(wanted) }
                } catch {
                    logger.warning("room subscription failed", metadata: ["rooms": "\(wanted.count)", "first": "\(wanted.first ?? "")", "error": "\(error)"])
                }
            }
            if !unwanted.isEmpty {
                do {
                    try await bus.unsubscribe(channels: unwanted.map { channel($0) })
                    state.withLock { $0.subscribedRooms.subtract(unwanted) }
                } catch {
                    logger.warning("room unsubscription failed", metadata: ["rooms": "\(unwanted.count)", "first": "\(unwanted.first ?? "")", "error": "\(error)"])
                }
            }
            for barrier in barriers { barrier.resume() }
        }
    }

    /// Returns once every room subscription change requested so far has reached the bus; at once when none
    /// is queued or under way (a room that is already subscribed costs nothing).
    public func subscriptionsSettled() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let idle = subscriptions.withLock { work in
                guard work.running else { return true }
                work.barriers.append(waiter)
                return false
            }
            if idle { waiter.resume() }
        }
    }

    /// Rooms this node subscribes to on the bus (for tests and health).
    public var subscribedRooms: Set<String> { state.withLock { $0.subscribedRooms } }

    // MARK: Broadcasting

    public func broadcast(_ packet: SocketIOPacket, options: BroadcastOptions) {
        if let (log, maxAge) = recoveryLog(for: packet, options: options) {
            _ = try? broadcastLogged(packet, options: options, log: log, maxAge: maxAge)
            return
        }
        let prepared = packet.prepared()
        // Publish before writing to local members: the other nodes then fan out while this one does,
        // instead of waiting for every local write (19 000 frames ≈ 0.4 s on a loaded node).
        if !options.local {
            do {
                let (channel, message) = try clusterMessage(prepared, options: options)
                bus.publishDetached(channel: channel, message: message) { [weak self] error in
                    self?.publishFailed(error)
                }
            } catch {
                publishFailed(error)
            }
        }
        local.deliverLocally(prepared, options: options)
    }

    public func broadcastConfirmed(_ packet: SocketIOPacket, options: BroadcastOptions) async throws {
        if let (log, maxAge) = recoveryLog(for: packet, options: options) {
            try await broadcastLogged(packet, options: options, log: log, maxAge: maxAge).get()
            return
        }
        let prepared = packet.prepared()
        guard !options.local else {
            local.deliverLocally(prepared, options: options)
            return
        }
        let (channel, message) = try clusterMessage(prepared, options: options)
        // Runs alongside the local writes (as in `broadcast`, the other nodes need not wait for them).
        async let published: Void = bus.publish(channel: channel, message: message)
        local.deliverLocally(prepared, options: options)
        try await published
    }

    private func publishFailed(_ error: any Error) {
        publishFailures.withLock { $0 += 1 }
        logger.warning("broadcast not published to the cluster", metadata: ["error": "\(error)"])
    }

    /// The log to record this packet in: events without ack that are not volatile nor local, when recovery is on.
    /// A local broadcast is not logged: logging publishes to every node, and a local broadcast is one that every
    /// node makes for its own members (a Redis envelope), so logging it would deliver it once per node. It
    /// reaches local members without an offset.
    private func recoveryLog(for packet: SocketIOPacket, options: BroadcastOptions) -> (any ClusterLog, Duration)? {
        guard !options.local, let log, let recovery = state.withLock({ $0.recovery }), packet.type == .event, packet.id == nil,
              !options.volatile, case .array? = packet.data
        else { return nil }
        return (log, recovery.maxDisconnectionDuration)
    }

    /// The namespace's event log key (see `logName(prefix:namespace:)`).
    var logName: String { Self.logName(prefix: configuration.channelPrefix, namespace: namespaceName) }

    /// Logs and publishes in one step, then delivers here with the offset the log gave. When the log cannot
    /// be reached, this node's members still get the event, without an offset (it cannot be recovered).
    private func broadcastLogged(_ packet: SocketIOPacket, options: BroadcastOptions, log: any ClusterLog, maxAge: Duration) throws -> EventLoopFuture<Void> {
        let prepared = packet.prepared()
        let local = self.local
        let channel: String, message: ByteBuffer
        do {
            (channel, message) = try clusterMessage(prepared, options: options)
        } catch {
            local.deliverLocally(prepared, options: options)
            publishFailed(error)
            throw error
        }
        return log.appendAndPublish(log: logName, entry: message, channel: channel, maxAge: maxAge)
            .flatMapErrorThrowing { [weak self] error in
                local.deliverLocally(prepared, options: options)
                self?.publishFailed(error)
                throw error
            }
            .flatMapThrowing { offset in
                local.deliverLocally(try Self.prepared(ClusterBroadcast.decode(message), offset: offset), options: options)
            }
    }

    /// Frames a broadcast from another node once for all local members, with its offset as last argument.
    static func prepared(_ broadcast: ClusterBroadcast, offset: String?) -> EngineIOPreparedMessage {
        EngineIOPreparedMessage(capacity: broadcast.text.readableBytes + (offset?.utf8.count ?? 0) + 4) { buffer in
            var text = broadcast.text
            if let offset, text.readableBytes > 0 {
                // An event's text is a JSON array: the offset goes in as its last element.
                var head = text.readSlice(length: text.readableBytes - 1)!
                buffer.writeBuffer(&head)
                // Escaped like any JSON string: the offset came from Redis.
                buffer.writeString(",")
                JSONValue.string(offset).write(to: &buffer)
                buffer.writeString("]")
            } else {
                buffer.writeBuffer(&text)
            }
            return broadcast.attachments
        }
    }

    private func clusterMessage(_ prepared: EngineIOPreparedMessage, options: BroadcastOptions) throws -> (String, ByteBuffer) {
        var text = prepared.textPacket
        text.moveReaderIndex(forwardBy: 1)   // Engine.IO's "4"
        let message = ClusterBroadcast(
            origin: nodeID, rooms: options.rooms.sorted(), except: options.except.sorted(),
            volatile: options.volatile, text: text, attachments: prepared.attachments)
        // One room: only the nodes with members hear it. Several rooms or everyone: the namespace channel, once.
        let single = options.rooms.count == 1 ? options.rooms.first : nil
        let channel = if let single, Self.carriesOnRoomChannel(single) { channel(single) } else { channel() }
        return (channel, try message.encode())
    }

    /// Whether a broadcast to this room alone goes on the room's channel (else on the namespace channel, which
    /// every node hears: correct for any room, only less selective), and so whether members subscribe to it.
    /// A socket's own room is never subscribed (see `join`), and a sender cannot know the sockets of other
    /// nodes: a room that has the form of a socket id may be one, so it goes on the namespace channel, where the
    /// socket's node hears it and any node with members of a user room of that name delivers to them too.
    static func carriesOnRoomChannel(_ room: String) -> Bool { !EngineIOServer.hasSessionIDForm(room) }

    func receiveBroadcast(_ message: ByteBuffer) {
        let logged = LoggedBroadcast.split(message)
        guard let broadcast = try? ClusterBroadcast.decode(logged?.entry ?? message) else {
            dropped("undecodable cluster broadcast")
            return
        }
        // This node delivered its own broadcasts already.
        guard broadcast.origin != nodeID else { return }
        local.deliverLocally(Self.prepared(broadcast, offset: logged?.offset), options: broadcast.options)
    }

    public func localSockets(_ options: BroadcastOptions) async -> [Socket] {
        await local.localSockets(options)
    }

    /// Room names and member counts on this node.
    public func roomCounts() async -> [String: Int] { await local.roomCounts() }

    /// Rooms with members on this node, not counting each socket's own room.
    public func roomCount() async -> Int { await local.roomCount() }
}
