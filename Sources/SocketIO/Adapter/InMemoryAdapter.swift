import EngineIO
import NIOCore
import SocketIOProtocol
import Synchronization

/// One node's rooms, sharded per event loop: a broadcast is encoded once and hops to each loop once.
///
/// Lock-protected: the table of shards (one per loop) and the recovery log; each shard is confined to its loop.
public final class InMemoryAdapter: SocketIOAdapter {
    private let shards = Mutex<[ObjectIdentifier: RoomShard]>([:])
    private let log = Mutex<InMemoryRecoveryLog?>(nil)
    private let directory = RoomDirectory()

    public init() {}

    public func attach(to namespace: Namespace) {
        if let recovery = namespace.server.configuration.connectionStateRecovery {
            log.withLock { $0 = InMemoryRecoveryLog(configuration: recovery) }
        }
    }

    private func shard(for socket: Socket) -> RoomShard {
        let eventLoop = socket.eventLoop
        return shards.withLock { shards in
            let key = ObjectIdentifier(eventLoop as AnyObject)
            if let shard = shards[key] { return shard }
            let shard = RoomShard(eventLoop: eventLoop, stats: socket.namespace.server.stats, directory: directory,
                                  flushSlice: TimeAmount(socket.namespace.server.configuration.broadcastFlushSlice))
            shards[key] = shard
            return shard
        }
    }

    private var allShards: [RoomShard] { shards.withLock { Array($0.values) } }

    public func join(_ socket: Socket, rooms: [String]) {
        shard(for: socket).add(socket, to: rooms)
    }

    public func leave(_ socket: Socket, room: String) {
        shard(for: socket).remove(socket, from: room)
    }

    public func leaveAll(_ socket: Socket) {
        shard(for: socket).removeAll(socket, rooms: socket.loopRooms)
    }

    public func broadcast(_ packet: SocketIOPacket, options: BroadcastOptions) {
        deliverLocally(prepare(packet, options: options), options: options)
    }

    /// Encodes once; with recovery on, an event without ack that is not volatile gets its offset as last
    /// argument (where Socket.IO clients look for it) and is logged.
    func prepare(_ packet: SocketIOPacket, options: BroadcastOptions) -> EngineIOPreparedMessage {
        guard let log = log.withLock({ $0 }), packet.type == .event, packet.id == nil, !options.volatile,
              case .array(let args)? = packet.data
        else { return packet.prepared() }
        return log.append(rooms: options.rooms, except: options.except) { offset in
            var logged = packet
            logged.data = .array(args + [.string(offset)])
            return logged.prepared()
        }
    }

    public func recoveryOffset() async -> String { log.withLock { $0 }?.currentOffset ?? "" }

    public func persistSession(_ session: RecoverableSession) { log.withLock { $0 }?.save(session) }

    public func restoreSession(pid: String, offset: String?) async -> RecoveryOutcome {
        log.withLock { $0 }?.restore(pid: pid, offset: offset) ?? .unavailable
    }

    public func missedEvents(rooms: Set<String>, after offset: String) async -> [EngineIOPreparedMessage]? {
        log.withLock { $0 }?.missed(rooms: rooms, after: offset)
    }

    public func holdDeliveries(to socket: Socket) { shard(for: socket).hold(socket) }

    public func releaseDeliveries(to socket: Socket) -> [EngineIOPreparedMessage] { shard(for: socket).release(socket) }

    /// Delivers an already encoded message to this node's matching sockets.
    public func deliverLocally(_ message: EngineIOPreparedMessage, options: BroadcastOptions) {
        let shards = allShards
        // Shards share the server's stats; no shard means no member here, so nothing to time.
        let probe = shards.first?.stats.sampleBroadcast(shards: shards.count)
        for shard in shards {
            if shard.eventLoop.inEventLoop {
                shard.deliver(message, options: options, probe: probe)
            } else {
                shard.eventLoop.execute { shard.deliver(message, options: options, probe: probe) }
            }
        }
    }

    public func localSockets(_ options: BroadcastOptions) async -> [Socket] {
        var result: [Socket] = []
        for shard in allShards {
            let sockets = try? await shard.eventLoop.submit { shard.recipients(options) }.get()
            result.append(contentsOf: sockets ?? [])
        }
        return result
    }

    /// Rooms with members on this node (each once, whatever the event loops of its members), not counting each
    /// socket's own room. O(1): kept as rooms appear and vanish (unlike `roomCounts`), so a dashboard or
    /// `GET /api/stats` can ask whatever the number of rooms and sockets.
    public func roomCount() async -> Int {
        directory.count
    }

    /// Room names and member counts on this node (for tests and metrics).
    public func roomCounts() async -> [String: Int] {
        var result: [String: Int] = [:]
        for shard in allShards {
            let counts = try? await shard.eventLoop.submit { shard.rooms.mapValues(\.count) }.get()
            for (room, count) in counts ?? [:] { result[room, default: 0] += count }
        }
        return result
    }
}
