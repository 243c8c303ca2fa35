#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EngineIO
import HeraldRedisAdapter
import SocketIO

/// What a node holds for its clients, counted so a soak can show all of it back at zero once the clients are
/// gone: sessions, sockets, rooms, timer entries (heartbeat, request head, connect timeout), Redis subscriptions and file descriptors.
/// A plain value; `measure` reads each event loop's share on that loop.
public struct NodeResources: Sendable, Equatable, Codable {
    /// Engine.IO sessions.
    public var sessions: Int
    /// Connected sockets by namespace.
    public var socketsByNamespace: [String: Int]
    /// Rooms with members, not counting each socket's own room.
    public var rooms: Int
    /// Heartbeat timer entries queued, stale ones included (see `EngineIOServer.heartbeatTimerEntries`).
    public var heartbeatTimerEntries: Int
    /// Request head and keep-alive timer entries of the Socket.IO listener's connections, stale ones included
    /// (see `EngineIOServer.headTimerEntries`).
    public var headTimerEntries: Int
    /// Connect timeout entries, stale ones included (see `SocketIOServer.connectTimerEntries`).
    public var connectTimerEntries: Int
    /// Rooms whose Redis channel this node subscribes to (nil on a single node).
    public var redisRoomSubscriptions: Int?
    /// Every channel and pattern subscribed on the cluster bus: the rooms' plus each namespace's and publishing's.
    public var redisSubscriptions: Int?
    /// Entries of /proc/self/fd (nil where there is none).
    public var openFileDescriptors: Int?

    public var sockets: Int { socketsByNamespace.values.reduce(0, +) }

    public init(sessions: Int, socketsByNamespace: [String: Int], rooms: Int, heartbeatTimerEntries: Int,
                headTimerEntries: Int = 0, connectTimerEntries: Int = 0, redisRoomSubscriptions: Int?, redisSubscriptions: Int?, openFileDescriptors: Int?) {
        self.sessions = sessions
        self.socketsByNamespace = socketsByNamespace
        self.rooms = rooms
        self.heartbeatTimerEntries = heartbeatTimerEntries
        self.headTimerEntries = headTimerEntries
        self.connectTimerEntries = connectTimerEntries
        self.redisRoomSubscriptions = redisRoomSubscriptions
        self.redisSubscriptions = redisSubscriptions
        self.openFileDescriptors = openFileDescriptors
    }

    /// The namespace's rooms with members on this node, each once, without the sockets' own rooms: O(1).
    public static func roomCount(_ namespace: Namespace) async -> Int {
        if let adapter = namespace.adapter as? InMemoryAdapter { return await adapter.roomCount() }
        if let adapter = namespace.adapter as? RedisAdapter { return await adapter.roomCount() }
        return 0
    }

    /// Counts, never lists: cheap enough for every dashboard tick whatever the number of clients or rooms.
    public static func measure(_ io: SocketIOServer, bus: RedisClusterBus? = nil) async -> NodeResources {
        var sockets: [String: Int] = [:]
        var rooms = 0
        var roomSubscriptions: Int?
        for namespace in io.allNamespaces {
            sockets[namespace.name] = namespace.socketCount
            rooms += await roomCount(namespace)
            if let adapter = namespace.adapter as? RedisAdapter {
                roomSubscriptions = (roomSubscriptions ?? 0) + adapter.subscribedRooms.count
            }
        }
        if bus != nil && roomSubscriptions == nil { roomSubscriptions = 0 }
        return NodeResources(
            sessions: io.engine.sessionCount, socketsByNamespace: sockets, rooms: rooms,
            heartbeatTimerEntries: await io.engine.heartbeatTimerEntries(),
            headTimerEntries: await io.engine.headTimerEntries(), connectTimerEntries: await io.connectTimerEntries(),
            redisRoomSubscriptions: roomSubscriptions, redisSubscriptions: bus?.subscriptionCount,
            openFileDescriptors: openFileDescriptorCount())
    }

    /// Entries of /proc/self/fd, less the one `opendir` itself holds while reading.
    public static func openFileDescriptorCount() -> Int? {
        #if os(Linux)
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != 46 { count += 1 }   // not "." or ".."
        }
        return max(0, count - 1)
        #else
        return nil
        #endif
    }
}
