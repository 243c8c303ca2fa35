import Logging
import NIOCore
import HeraldRedis
import Synchronization

/// The cluster bus and log on a Redis server: one pipelined command connection (PUBLISH, streams, sessions)
/// and one subscriber connection, both reconnecting by themselves; the subscriber resubscribes every
/// channel after a reconnect.
public final class RedisClusterBus: ClusterBus, ClusterLog {
    public let client: RedisClient
    public let subscriber: RedisSubscriber
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
    }

    /// `onStateChange` reports whether both connections are up (false while either reconnects).
    public init(configuration: RedisConfiguration, eventLoop: any EventLoop, logger: Logger = Logger(label: "herald.redis"),
                onStateChange: @escaping @Sendable (Bool) -> Void = { _ in }) {
        let routing = self.routing
        self.client = RedisClient(configuration: configuration, eventLoop: eventLoop, logger: logger) { state in
            onStateChange(routing.update(client: state))
        }
        self.subscriber = RedisSubscriber(configuration: configuration, eventLoop: eventLoop, logger: logger, onStateChange: { state in
            onStateChange(routing.update(subscriber: state))
        }) { channel, pattern, payload in
            let key = pattern.map { "p:" + $0 } ?? "c:" + channel
            routing.handlers.withLock { $0[key] }?(channel, payload)
        }
    }

    /// Connects both connections (they keep retrying in the background when this throws).
    public func connect() async throws {
        try await client.connect()
        try await subscriber.connect()
    }

    /// Channels and patterns subscribed on this bus (one handler each).
    public var subscriptionCount: Int { routing.handlers.withLock { $0.count } }

    public var isConnected: Bool { routing.states.withLock { $0.client == .connected && $0.subscriber == .connected } }

    public func close() async {
        guard routing.closed.withLock({ closed in defer { closed = true }; return !closed }) else { return }
        await subscriber.close()
        await client.close()
    }

    // MARK: ClusterBus

    public func publish(channel: String, message: ByteBuffer) async throws {
        _ = try await client.publish(channel, message: message)
    }

    public func publishDetached(channel: String, message: ByteBuffer, onFailure: @escaping @Sendable (any Error) -> Void) {
        client.publishFuture(channel, message: message).whenFailure(onFailure)
    }

    public func subscribe(channel: String, handler: @escaping @Sendable (ByteBuffer) -> Void) async throws {
        try await subscribe(key: "c:" + channel, handler: { _, payload in handler(payload) }) {
            try await self.subscriber.subscribe(channel)
        }
    }

    public func unsubscribe(channel: String) async throws {
        guard !routing.closed.withLock({ $0 }) else { return }
        guard routing.handlers.withLock({ $0.removeValue(forKey: "c:" + channel) }) != nil else { return }
        try await subscriber.unsubscribe(channel)
    }

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
        let reply = try await client.send("PUBSUB", "NUMSUB", channel)
        // A count is never negative: anything else is a reply this client does not understand (and would make
        // the caller's arithmetic overflow).
        guard let elements = reply.elements, elements.count == 2, let count = elements[1].integer, count >= 0 else {
            throw RedisError.unexpectedReply(reply)
        }
        return Int(count)
    }

    // MARK: ClusterLog

    /// XADD (trimmed by age) and PUBLISH in one step, so every node sees the event with its offset.
    /// KEYS: stream, epoch key. ARGV: min id, entry, channel, epoch candidate.
    static let appendScript = """
        local epoch = redis.call('GET', KEYS[2])
        if not epoch then
          epoch = ARGV[4]
          redis.call('SET', KEYS[2], epoch)
        end
        local id = redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[1], '*', 'e', ARGV[2])
        local offset = epoch .. ':' .. id
        redis.call('PUBLISH', ARGV[3], 'H2' .. offset .. '\\n' .. ARGV[2])
        return offset
        """

    public func appendAndPublish(log: String, entry: ByteBuffer, channel: String, maxAge: Duration) -> EventLoopFuture<String> {
        let cutoff = max(0, Self.nowMilliseconds() - maxAge.components.seconds * 1000)
        return client.sendFuture(RedisCommand("EVAL", arguments: [
            ByteBuffer(string: Self.appendScript), ByteBuffer(string: "2"), ByteBuffer(string: log), ByteBuffer(string: log + ":epoch"),
            ByteBuffer(string: "\(cutoff)-0"), entry, ByteBuffer(string: channel), ByteBuffer(string: Self.newEpoch()),
        ])).flatMapThrowing { reply in
            guard let offset = reply.string else { throw RedisError.unexpectedReply(reply) }
            return offset
        }
    }

    public func entries(log: String, after offset: String) async throws -> [(offset: String, entry: ByteBuffer)]? {
        let parts = offset.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let seen = StreamID(parts[1]) else { return nil }
        let replies = try await client.send(batch: [
            RedisCommand("GET", log + ":epoch"),
            RedisCommand("XINFO", "STREAM", log),
            RedisCommand("XRANGE", log, "(" + parts[1], "+"),
        ])
        guard replies[0].string == String(parts[0]) else { return nil }
        // Redis 7 records the newest id it ever trimmed: anything after our offset trimmed means a gap.
        if let info = replies[1].elements, let index = info.firstIndex(where: { $0.string == "max-deleted-entry-id" }),
           index + 1 < info.count, let deleted = info[index + 1].string.flatMap({ StreamID(Substring($0)) }), seen < deleted {
            return nil
        }
        if case .error = replies[2] { return [] }
        return (replies[2].elements ?? []).compactMap { item in
            guard let pair = item.elements, pair.count == 2, let id = pair[0].string, let fields = pair[1].elements,
                  fields.count >= 2, case .bulkString(let entry?) = fields[1]
            else { return nil }
            return (parts[0] + ":" + id, entry)
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
