import EngineIO
import NIOCore
import Synchronization

/// A namespace's rooms for the sockets of one event loop. Only touched on that loop, so fan-out takes no lock.
final class RoomShard: @unchecked Sendable {
    let eventLoop: any EventLoop
    let stats: SocketIOStats
    /// Told when a room (other than a socket's own) appears in or leaves this shard.
    let directory: RoomDirectory
    private(set) var rooms: [String: Set<SocketKey>] = [:]
    private(set) var sockets: Set<SocketKey> = []
    /// Transports written to by broadcasts and not flushed yet, each once (`claimFlush`); flushed in order from
    /// `flushed` on, in slices (`flushPending`).
    private var pendingFlush: [any SocketIOTransport] = []
    private var flushed = 0
    private var flushQueued = false
    /// Recovered sockets catching up with the log: what reaches them is kept here until their replay is sent
    /// (see `SocketIOAdapter.holdDeliveries`). Empty but for a few milliseconds after a recovery; bounded by
    /// `maxBufferedBytes` like any queue for a client, should the log read take long.
    private var held: [SocketKey: (messages: [EngineIOPreparedMessage], bytes: Int)] = [:]

    /// See `SocketIOConfiguration.broadcastFlushSlice`.
    let flushSlice: TimeAmount

    init(eventLoop: any EventLoop, stats: SocketIOStats, directory: RoomDirectory, flushSlice: TimeAmount) {
        self.eventLoop = eventLoop
        self.stats = stats
        self.directory = directory
        self.flushSlice = flushSlice
    }

    func add(_ socket: Socket, to names: [String]) {
        let key = SocketKey(socket)
        sockets.insert(key)
        for name in names {
            if rooms[name] == nil, name != socket.id { directory.appeared(name) }
            rooms[name, default: []].insert(key)
        }
    }

    func remove(_ socket: Socket, from name: String) {
        // In place: a copy of the member set (`var members = rooms[name]`) made each leave O(members), and a
        // drain of 19 000 sockets of one room quadratic.
        guard rooms[name]?.remove(SocketKey(socket)) != nil else { return }
        // An empty room is deleted, so a long-running node does not collect dead room names.
        if rooms[name]?.isEmpty == true {
            rooms[name] = nil
            if name != socket.id { directory.vanished(name) }
        }
    }

    func removeAll(_ socket: Socket, rooms names: Set<String>) {
        for name in names { remove(socket, from: name) }
        sockets.remove(SocketKey(socket))
        held[SocketKey(socket)] = nil
    }

    /// From now on, deliveries to `socket` are kept back instead of written.
    func hold(_ socket: Socket) { held[SocketKey(socket)] = ([], 0) }

    /// Ends `hold`: the deliveries kept back, in order.
    func release(_ socket: Socket) -> [EngineIOPreparedMessage] {
        held.removeValue(forKey: SocketKey(socket))?.messages ?? []
    }

    /// The sockets a broadcast reaches on this loop.
    func recipients(_ options: BroadcastOptions) -> [Socket] {
        var excluded: Set<SocketKey> = []
        for name in options.except { if let members = rooms[name] { excluded.formUnion(members) } }
        var result: [Socket] = []
        if options.rooms.isEmpty {
            result.reserveCapacity(sockets.count)
            for key in sockets where !excluded.contains(key) { result.append(key.socket) }
        } else if options.rooms.count == 1, let members = rooms[options.rooms.first!] {
            result.reserveCapacity(members.count)
            for key in members where !excluded.contains(key) { result.append(key.socket) }
        } else {
            var seen = excluded
            for name in options.rooms {
                guard let members = rooms[name] else { continue }
                for key in members where seen.insert(key).inserted { result.append(key.socket) }
            }
        }
        return result
    }

    /// Writes the shared message to every recipient; each connection is flushed once at the end of this loop
    /// tick, so several broadcasts (and direct sends) in one tick leave in one `writev` per connection.
    func deliver(_ message: EngineIOPreparedMessage, options: BroadcastOptions, probe: FanOutProbe? = nil) {
        let count: Int
        if options.except.isEmpty && options.rooms.count <= 1 {
            // The common cases (a whole namespace, one room) walk the member set itself: no array of recipients.
            // The set is a value: a member closed by its write (slow client) changes `rooms`, not this copy.
            let members = options.rooms.isEmpty ? sockets : (rooms[options.rooms.first!] ?? [])
            for key in members { write(message, to: key, volatile: options.volatile) }
            count = members.count
        } else {
            let recipients = recipients(options)
            for socket in recipients { write(message, to: SocketKey(socket), volatile: options.volatile) }
            count = recipients.count
        }
        // Counted once per shard, not per recipient: one atomic add whatever the room's size.
        stats.delivered(count)
        probe?.shardDone(recipients: count)
    }

    @inline(__always)
    private func write(_ message: EngineIOPreparedMessage, to key: SocketKey, volatile: Bool) {
        if !held.isEmpty, held[key] != nil {
            // A volatile event may be lost anyway; the others wait for the socket's replay.
            guard !volatile else {
                key.socket.namespace.server.engine.dropStats.volatileDropped()
                return
            }
            held[key]!.messages.append(message)
            held[key]!.bytes &+= message.wireSize
            if held[key]!.bytes > key.socket.namespace.server.configuration.engine.maxBufferedBytes {
                // Like a slow client: the session ends (recoverably) rather than the queue growing.
                held[key] = nil
                key.socket.namespace.server.engine.dropStats.slowClientClosed()
                key.socket.connection.transport.close()
            }
            return
        }
        let transport = key.socket.connection.transport
        transport.write(message, volatile: volatile)
        guard transport.claimFlush() else { return }
        pendingFlush.append(transport)
        if !flushQueued {
            flushQueued = true
            eventLoop.execute { self.flushPending() }
        }
    }

    /// Flushes the pending transports (one `writev` each, the bulk of a broadcast's cost), but for at most
    /// `flushSlice` at a time (checked every 16): then the rest waits for a later loop tick. NIO runs every queued task before it
    /// reads again, so with several loops a loop busy flushing the others' broadcasts could go hundreds of
    /// milliseconds without reading its own clients' events; yielding lets it read between slices, and what is
    /// written meanwhile to a transport still pending leaves in the same `writev`. Writes are never delayed, only
    /// flushes, so the order of everything sent to a client is unchanged.
    private func flushPending() {
        let deadline = NIODeadline.now() + flushSlice
        while flushed < pendingFlush.count {
            // Indexed, not iterated: a flush can end a session, whose handlers may broadcast again and append.
            let end = min(flushed + 16, pendingFlush.count)
            while flushed < end {
                let transport = pendingFlush[flushed]
                flushed += 1
                transport.flushClaimed()
            }
            if flushed < pendingFlush.count, NIODeadline.now() >= deadline {
                // Under sustained load the queue may never empty: drop the flushed head (amortised: at least half).
                if flushed >= pendingFlush.count / 2 {
                    pendingFlush.removeFirst(flushed)
                    flushed = 0
                }
                eventLoop.scheduleTask(in: Self.flushYield) { self.flushPending() }
                return
            }
        }
        pendingFlush.removeAll(keepingCapacity: true)
        flushed = 0
        flushQueued = false
    }

    /// The rest of a flush is scheduled this far ahead rather than enqueued: an enqueued task would run in the same
    /// tick, before the loop reads; a deadline still in the future when the loop looks for ready tasks ends the tick.
    static let flushYield = TimeAmount.microseconds(50)

    var isEmpty: Bool { sockets.isEmpty }
}

/// Identity of a socket in room sets.
struct SocketKey: Hashable, @unchecked Sendable {
    let socket: Socket
    init(_ socket: Socket) { self.socket = socket }
    static func == (lhs: SocketKey, rhs: SocketKey) -> Bool { lhs.socket === rhs.socket }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(socket)) }
}

/// The rooms with members on this node, across a namespace's shards, without the sockets' own rooms: how many
/// shards hold each, kept as rooms appear in and leave shards, so that counting them is O(1) instead of a walk
/// over every socket or shard. Lock-protected; taken only when a room appears in or leaves a shard.
final class RoomDirectory: Sendable {
    private let shardsPerRoom = Mutex<[String: Int]>([:])

    func appeared(_ room: String) { shardsPerRoom.withLock { $0[room, default: 0] += 1 } }

    func vanished(_ room: String) {
        shardsPerRoom.withLock { rooms in
            if let shards = rooms[room], shards > 1 { rooms[room] = shards - 1 } else { rooms[room] = nil }
        }
    }

    var count: Int { shardsPerRoom.withLock { $0.count } }
}
