import Logging
import NIOCore
import HeraldRedis
import Synchronization

/// The cluster bus and log on a Redis server: one pipelined command connection (PUBLISH, streams, sessions)
/// and one subscriber connection, both reconnecting by themselves; the subscriber resubscribes every
/// channel after a reconnect.
///
/// On a Redis Cluster (`init(cluster:…)`) the adapter's channels use sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`
/// on each channel's slot, through `RedisClusterClient`), keys go to their slot's primary, and the plain
/// subscriber (the publishing envelope and bridges, which backends `PUBLISH` cluster-wide) is on one primary, and
/// moves to another when that one leaves the slot map.
public final class RedisClusterBus: ClusterBus, ClusterLog {
    /// Commands: a `RedisClient`, or on a Redis Cluster the `RedisClusterClient` that routes them by slot.
    public let client: any RedisCommandSending
    public let subscriber: RedisSubscriber
    /// Set on a Redis Cluster.
    public let cluster: RedisClusterClient?
    private let routing = Routing()

    /// Message handlers by `c:channel` or `p:pattern`, and the two connections' states.
    final class Routing: Sendable {
        let handlers = Mutex<[String: @Sendable (String, ByteBuffer) -> Void]>([:])
        /// After `close()` nothing touches the connections (their event loop may be gone).
        let closed = Mutex(false)
        let states = Mutex<(client: RedisConnectionState, subscriber: RedisConnectionState)>((.connecting, .connecting))

        func update(client: RedisConnectionState? = nil, subscriber: RedisConnectionState? = nil) -> Bool {
            states.withLock { states in
                if let client { states.client = client }
                if let subscriber { states.subscriber = subscriber }
                return states.client == .connected && states.subscriber == .connected
            }
        }

        func deliver(channel: String, pattern: String?, payload: ByteBuffer) {
            let key = pattern.map { "p:" + $0 } ?? "c:" + channel
            handlers.withLock { $0[key] }?(channel, payload)
        }
    }

    /// `onStateChange` reports whether both connections are up (false while either reconnects).
    public init(configuration: RedisConfiguration, eventLoop: any EventLoop, logger: Logger = Logger(label: "herald.redis"),
                onStateChange: @escaping @Sendable (Bool) -> Void = { _ in }) {
        let routing = self.routing
        self.cluster = nil
        self.client = RedisClient(configuration: configuration, eventLoop: eventLoop, logger: logger) { state in
            onStateChange(routing.update(client: state))
        }
        self.subscriber = RedisSubscriber(configuration: configuration, eventLoop: eventLoop, logger: logger, onStateChange: { state in
            onStateChange(routing.update(subscriber: state))
        }) { channel, pattern, payload in
            routing.deliver(channel: channel, pattern: pattern, payload: payload)
        }
    }

    /// On the primary that `sentinels` watch under `masterName`, followed across failovers: every reconnect asks
    /// the sentinels again.
    public init(sentinels: [RedisEndpoint], masterName: String, configuration: RedisConfiguration, eventLoop: any EventLoop,
                logger: Logger = Logger(label: "herald.redis"), onStateChange: @escaping @Sendable (Bool) -> Void = { _ in }) {
        let routing = self.routing
        let sentinel = RedisSentinel(sentinels: sentinels, masterName: masterName, configuration: configuration, logger: logger)
        self.cluster = nil
        self.client = RedisClient(configuration: configuration, eventLoop: eventLoop, logger: logger, sentinel: sentinel) { state in
            onStateChange(routing.update(client: state))
        }
        self.subscriber = RedisSubscriber(configuration: configuration, eventLoop: eventLoop, logger: logger, onStateChange: { state in
            onStateChange(routing.update(subscriber: state))
        }, sentinel: sentinel) { channel, pattern, payload in
            routing.deliver(channel: channel, pattern: pattern, payload: payload)
        }
    }

    /// On a Redis Cluster reached through `seeds`; `configuration` gives auth, TLS and timeouts. `onStateChange`
    /// reports false while any shard is unreachable, some slot has no primary or a channel waits for its new owner.
    public init(cluster seeds: [RedisEndpoint], configuration: RedisConfiguration, eventLoop: any EventLoop,
                logger: Logger = Logger(label: "herald.redis"), refreshInterval: Duration = .seconds(5),
                onStateChange: @escaping @Sendable (Bool) -> Void = { _ in }) {
        let routing = self.routing
        let cluster = RedisClusterClient(
            seeds: seeds, configuration: configuration, eventLoop: eventLoop, logger: logger, refreshInterval: refreshInterval,
            onHealthChange: { healthy in onStateChange(routing.update(client: healthy ? .connected : .reconnecting(attempt: 1))) }
        ) { channel, payload in
            routing.deliver(channel: channel, pattern: nil, payload: payload)
        }
        self.cluster = cluster
        self.client = cluster
        self.subscriber = cluster.plainSubscriber(onStateChange: { state in
            onStateChange(routing.update(subscriber: state))
        }) { channel, pattern, payload in
            routing.deliver(channel: channel, pattern: pattern, payload: payload)
        }
    }

    /// Connects both connections (they keep retrying in the background when this throws).
    public func connect() async throws {
        if let cluster { try await cluster.connect() } else if let client = client as? RedisClient { try await client.connect() }
        try await subscriber.connect()
    }

    /// On a Redis Cluster: each primary (`host:port`) and whether its connections are up.
    public var shardStates: [String: String]? { cluster?.shardStates }

    /// Channels and patterns subscribed on this bus (one handler each).
    public var subscriptionCount: Int { routing.handlers.withLock { $0.count } }

    public var isConnected: Bool { routing.states.withLock { $0.client == .connected && $0.subscriber == .connected } }

    public func close() async {
        guard routing.closed.withLock({ closed in defer { closed = true }; return !closed }) else { return }
        await subscriber.close()
        if let cluster { await cluster.close() } else if let client = client as? RedisClient { await client.close() }
    }

    // MARK: ClusterBus

    public func publish(channel: String, message: ByteBuffer) async throws {
        _ = try await publishFuture(channel: channel, message: message).get()
    }

    public func publishDetached(channel: String, message: ByteBuffer, onFailure: @escaping @Sendable (any Error) -> Void) {
        publishFuture(channel: channel, message: message).whenFailure(onFailure)
    }

    /// `SPUBLISH` on a Redis Cluster (one shard carries the channel), `PUBLISH` otherwise.
    private func publishFuture(channel: String, message: ByteBuffer) -> EventLoopFuture<Int> {
        cluster != nil ? client.spublishFuture(channel, message: message) : client.publishFuture(channel, message: message)
    }

    /// The adapter's channels: sharded on a Redis Cluster.
    private func subscribeChannels(_ channels: [String]) async throws {
        if let cluster { try await cluster.ssubscribe(channels) } else { try await subscriber.subscribe(channels) }
    }

    private func unsubscribeChannels(_ channels: [String]) async throws {
        if let cluster { try await cluster.sunsubscribe(channels) } else { try await subscriber.unsubscribe(channels) }
    }

    public func subscribe(channel: String, handler: @escaping @Sendable (ByteBuffer) -> Void) async throws {
        try await subscribe(key: "c:" + channel, handler: { _, payload in handler(payload) }) {
            try await self.subscribeChannels([channel])
        }
    }

    public func unsubscribe(channel: String) async throws {
        guard !routing.closed.withLock({ $0 }) else { return }
        guard routing.handlers.withLock({ $0.removeValue(forKey: "c:" + channel) }) != nil else { return }
        try await unsubscribeChannels([channel])
    }

    public func subscribe(channels: [String], handler: @escaping @Sendable (ByteBuffer) -> Void) async throws {
        let named: @Sendable (String, ByteBuffer) -> Void = { _, payload in handler(payload) }
        let fresh = routing.handlers.withLock { handlers in
            channels.filter { channel in
                defer { handlers["c:" + channel] = named }
                return handlers["c:" + channel] == nil
            }
        }
        guard !fresh.isEmpty, !routing.closed.withLock({ $0 }) else { return }
        do {
            // Bounded commands: a storm's thousands of rooms go in a few SUBSCRIBEs, pipelined on one connection.
            for start in stride(from: 0, to: fresh.count, by: Self.channelsPerCommand) {
                try await subscribeChannels(Array(fresh[start..<min(start + Self.channelsPerCommand, fresh.count)]))
            }
        } catch {
            routing.handlers.withLock { handlers in for channel in fresh { handlers["c:" + channel] = nil } }
            throw error
        }
    }

    public func unsubscribe(channels: [String]) async throws {
        guard !routing.closed.withLock({ $0 }) else { return }
        let gone = routing.handlers.withLock { handlers in channels.filter { handlers.removeValue(forKey: "c:" + $0) != nil } }
        for start in stride(from: 0, to: gone.count, by: Self.channelsPerCommand) {
            try await unsubscribeChannels(Array(gone[start..<min(start + Self.channelsPerCommand, gone.count)]))
        }
    }

    /// Most channels in one SUBSCRIBE or UNSUBSCRIBE.
    static let channelsPerCommand = 1000

    /// Subscribes to a pattern; the handler gets each matching message with the channel it came on.
    public func subscribe(pattern: String, handler: @escaping @Sendable (String, ByteBuffer) -> Void) async throws {
        try await subscribe(key: "p:" + pattern, handler: handler) {
            try await self.subscriber.psubscribe(pattern)
        }
    }

    /// Subscribes a channel with a handler that also gets the channel name.
    public func subscribe(channel: String, namedHandler handler: @escaping @Sendable (String, ByteBuffer) -> Void) async throws {
        try await subscribe(key: "c:" + channel, handler: handler) {
            try await self.subscriber.subscribe(channel)
        }
    }

    /// Redis counts subscriptions per name, so only the first handler for a key subscribes; later ones replace it.
    private func subscribe(key: String, handler: @escaping @Sendable (String, ByteBuffer) -> Void,
                           command: () async throws -> Void) async throws {
        let isNew = routing.handlers.withLock { handlers in
            defer { handlers[key] = handler }
            return handlers[key] == nil
        }
        guard isNew, !routing.closed.withLock({ $0 }) else { return }
        do {
            try await command()
        } catch {
            _ = routing.handlers.withLock { $0.removeValue(forKey: key) }
            throw error
        }
    }

    public func subscriberCount(channel: String) async throws -> Int {
        // Sharded subscribers are counted by the channel's shard (the command is routed by its channel).
        let reply = try await client.send("PUBSUB", cluster != nil ? "SHARDNUMSUB" : "NUMSUB", channel)
        // A count is never negative: anything else is a reply this client does not understand (and would make
        // the caller's arithmetic overflow).
        guard let elements = reply.elements, elements.count == 2, let count = elements[1].integer, count >= 0 else {
            throw RedisError.unexpectedReply(reply)
        }
        return Int(count)
    }

    // MARK: ClusterLog

    /// The log append both scripts share: the epoch (set once) and the XADD trimmed by age.
    /// KEYS: stream, epoch key. ARGV: min id, entry, channel, epoch candidate.
    private static let appendToLog = """
        local epoch = redis.call('GET', KEYS[2])
        if not epoch then
          epoch = ARGV[4]
          redis.call('SET', KEYS[2], epoch)
        end
        local id = redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[1], '*', 'e', ARGV[2])

        """

    /// XADD and PUBLISH in one step, so every node sees the event with its offset.
    static let appendScript = appendToLog + """
        local offset = epoch .. ':' .. id
        redis.call('PUBLISH', ARGV[3], 'H2' .. offset .. '\\n' .. ARGV[2])
        return offset
        """

    /// The same without the publish, for a Redis Cluster: a script may only touch its own slot, and the log's
    /// slot is not the channel's. The node sends `SPUBLISH` once the offset is back.
    static let appendOnlyScript = appendToLog + """
        return epoch .. ':' .. id
        """

    public func appendAndPublish(log: String, entry: ByteBuffer, channel: String, maxAge: Duration) -> EventLoopFuture<String> {
        let cutoff = max(0, Self.nowMilliseconds() - maxAge.components.seconds * 1000)
        let appended = client.sendFuture(RedisCommand("EVAL", arguments: [
            ByteBuffer(string: cluster == nil ? Self.appendScript : Self.appendOnlyScript), ByteBuffer(string: "2"),
            ByteBuffer(string: log), ByteBuffer(string: log + ":epoch"),
            ByteBuffer(string: "\(cutoff)-0"), entry, ByteBuffer(string: channel), ByteBuffer(string: Self.newEpoch()),
        ])).flatMapThrowing { reply in
            guard let offset = reply.string else { throw RedisError.unexpectedReply(reply) }
            return offset
        }
        guard cluster != nil else { return appended }
        // Two steps on a cluster: a node that dies between them leaves the event in the log only, where a
        // recovering client still finds it. Replies arrive in order, so one node's events keep their order.
        return appended.flatMap { offset in
            self.client.spublishFuture(channel, message: LoggedBroadcast.join(offset: offset, entry: entry)).map { _ in offset }
        }
    }

    public func entries(log: String, after offset: String) async throws -> [(offset: String, entry: ByteBuffer)]? {
        let parts = offset.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let seen = StreamID(parts[1]) else { return nil }
        return try await read(log: log, epoch: parts[0], after: seen, start: "(" + parts[1])
    }

    public func entries(log: String, after offset: String, issuedSince floor: String) async throws -> [(offset: String, entry: ByteBuffer)]? {
        guard offset != floor else { return try await entries(log: log, after: floor) }
        let parts = offset.split(separator: ":", maxSplits: 1), floorParts = floor.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, floorParts.count == 2, parts[0] == floorParts[0],
              let seen = StreamID(parts[1]), let since = StreamID(floorParts[1]), since < seen
        else { return nil }
        // From the offset itself (inclusive): its presence proves the log issued it.
        guard let read = try await read(log: log, epoch: parts[0], after: seen, start: String(parts[1])),
              read.first?.offset == offset
        else { return nil }
        return Array(read.dropFirst())
    }

    /// XRANGE from `start` to the end, in one round trip with the epoch and trim checks; nil on another epoch or
    /// when entries after `seen` were trimmed.
    private func read(log: String, epoch: Substring, after seen: StreamID, start: String) async throws -> [(offset: String, entry: ByteBuffer)]? {
        let replies = try await client.send(batch: [
            RedisCommand("GET", log + ":epoch"),
            RedisCommand("XINFO", "STREAM", log),
            RedisCommand("XRANGE", log, start, "+"),
        ])
        guard replies[0].string == String(epoch) else { return nil }
        if let info = replies[1].elements, Self.lostEntries(after: seen, info: info) { return nil }
        if case .error = replies[2] { return [] }
        return (replies[2].elements ?? []).compactMap { item in
            guard let pair = item.elements, pair.count == 2, let id = pair[0].string, let fields = pair[1].elements,
                  fields.count >= 2, case .bulkString(let entry?) = fields[1]
            else { return nil }
            return (epoch + ":" + id, entry)
        }
    }

    public func currentOffset(log: String) async throws -> String {
        let replies = try await client.send(batch: [
            RedisCommand("SET", log + ":epoch", Self.newEpoch(), "NX"),
            RedisCommand("GET", log + ":epoch"),
            RedisCommand("XREVRANGE", log, "+", "-", "COUNT", "1"),
        ])
        guard let epoch = replies[1].string else { throw RedisError.unexpectedReply(replies[1]) }
        let newest = replies[2].elements?.first?.elements?.first?.string ?? "0-0"
        return epoch + ":" + newest
    }

    public func saveSession(log: String, pid: String, session: ByteBuffer, ttl: Duration) async throws {
        let milliseconds = max(1, ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000)
        _ = try await client.send(RedisCommand("SET", arguments: [
            ByteBuffer(string: log + ":session:" + pid), session, ByteBuffer(string: "PX"), ByteBuffer(string: "\(milliseconds)"),
        ]))
    }

    public func takeSession(log: String, pid: String) async throws -> ByteBuffer? {
        let reply = try await client.send("GETDEL", log + ":session:" + pid)
        if case .bulkString(let session?) = reply { return session }
        return nil
    }

    static func nowMilliseconds() -> Int64 {
        let now = Duration.seconds(0) + .nanoseconds(Int64(clock_gettime_realtime()))
        return now.components.seconds * 1000 + now.components.attoseconds / 1_000_000_000_000_000
    }

    static func newEpoch() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 36)
    }

    /// Whether the stream (its `XINFO STREAM` reply) may have lost an entry after `seen`. `max-deleted-entry-id`
    /// covers XDEL only: Redis 7.0 leaves it at 0-0 when XADD's MINID trims. Trimming removes the oldest entries,
    /// so when any entry is gone (`entries-added` above `length`) and the oldest one left is newer than `seen`
    /// (or none is left but newer ones were added), what followed `seen` may be among the trimmed.
    static func lostEntries(after seen: StreamID, info: [RESPValue]) -> Bool {
        func field(_ name: String) -> RESPValue? {
            guard let index = info.firstIndex(where: { $0.string == name }), index + 1 < info.count else { return nil }
            return info[index + 1]
        }
        func id(_ value: RESPValue?) -> StreamID? { value?.string.flatMap { StreamID(Substring($0)) } }
        if let deleted = id(field("max-deleted-entry-id")), seen < deleted { return true }
        guard let added = field("entries-added")?.integer, let length = field("length")?.integer, added > length else { return false }
        if let oldest = id(field("first-entry")?.elements?.first) { return seen < oldest }
        return id(field("last-generated-id")).map { seen < $0 } ?? true
    }

    /// A stream id `ms-seq`, ordered numerically.
    struct StreamID: Comparable {
        let milliseconds: UInt64
        let sequence: UInt64

        init?(_ text: Substring) {
            let parts = text.split(separator: "-")
            guard parts.count == 2, let milliseconds = UInt64(parts[0]), let sequence = UInt64(parts[1]) else { return nil }
            self.milliseconds = milliseconds
            self.sequence = sequence
        }

        static func < (lhs: StreamID, rhs: StreamID) -> Bool {
            (lhs.milliseconds, lhs.sequence) < (rhs.milliseconds, rhs.sequence)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

private func clock_gettime_realtime() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}
