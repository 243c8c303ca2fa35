import NIOCore
import NIOPosix
import HeraldRedisAdapter
import Synchronization

/// A publish/subscribe hub in memory for N nodes in one process: `node()` gives each node its own bus
/// connection. Delivery is synchronous and in publish order, like one Redis server's.
public final class InMemoryClusterBus: Sendable {
    private let state = Mutex(State())

    struct State {
        var subscriptions: [String: [Int: @Sendable (ByteBuffer) -> Void]] = [:]
        var nextNode = 0
        var down = false
        var published: [String] = []
        var logs: [String: Log] = [:]
        var sessions: [String: ByteBuffer] = [:]
        var sessionLookups: [String] = []
        var logLimit = 10_000
    }

    struct Log {
        var next: UInt64 = 1
        var entries: [(sequence: UInt64, entry: ByteBuffer)] = []
        /// Highest sequence trimmed away: an offset below it may have lost events after it.
        var trimmedThrough: UInt64 = 0
    }

    /// Offsets are `mem-SEQ`; the same for every node of this hub, like one Redis server's streams.
    static let epoch = "mem"

    /// Most entries each log keeps (older ones are trimmed), to make gaps in tests.
    public var logLimit: Int {
        get { state.withLock { $0.logLimit } }
        set { state.withLock { $0.logLimit = newValue } }
    }

    /// Every pid a node looked a session up with (`takeSession`), in order.
    public var sessionLookups: [String] { state.withLock { $0.sessionLookups } }

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String { "cluster bus unavailable" }
    }

    public init() {}

    /// A new node's connection to the hub.
    public func node() -> Node {
        Node(hub: self, id: state.withLock { state in
            defer { state.nextNode += 1 }
            return state.nextNode
        })
    }

    /// While down, publishing and subscribing fail (an outage of the Redis server).
    public var isDown: Bool {
        get { state.withLock { $0.down } }
        set { state.withLock { $0.down = newValue } }
    }

    /// Channels of every message published so far, in order (to check which channel a broadcast used).
    public var publishedChannels: [String] { state.withLock { $0.published } }

    /// Subscribers per channel.
    public func subscribers(_ channel: String) -> Int { state.withLock { $0.subscriptions[channel]?.count ?? 0 } }

    public final class Node: ClusterBus, ClusterLog {
        let hub: InMemoryClusterBus
        let id: Int

        init(hub: InMemoryClusterBus, id: Int) {
            self.hub = hub
            self.id = id
        }

        public func publish(channel: String, message: ByteBuffer) async throws {
            guard !hub.isDown else { throw Unavailable() }
            deliver(channel: channel, message: message)
        }

        /// Synchronous, in call order, like one Redis server.
        func deliver(channel: String, message: ByteBuffer) {
            let handlers = hub.state.withLock { state -> [@Sendable (ByteBuffer) -> Void] in
                state.published.append(channel)
                return state.subscriptions[channel].map { $0.sorted { $0.key < $1.key }.map(\.value) } ?? []
            }
            for handler in handlers { handler(message) }
        }

        public func subscribe(channel: String, handler: @escaping @Sendable (ByteBuffer) -> Void) async throws {
            try hub.state.withLock { state in
                guard !state.down else { throw Unavailable() }
                state.subscriptions[channel, default: [:]][id] = handler
            }
        }

        public func unsubscribe(channel: String) async throws {
            hub.state.withLock { state in
                state.subscriptions[channel]?[id] = nil
                if state.subscriptions[channel]?.isEmpty == true { state.subscriptions[channel] = nil }
            }
        }

        public func appendAndPublish(log name: String, entry: ByteBuffer, channel: String, maxAge: Duration) -> EventLoopFuture<String> {
            let loop = MultiThreadedEventLoopGroup.singleton.any()
            do {
                let offset = try hub.state.withLock { state -> String in
                    guard !state.down else { throw Unavailable() }
                    var log = state.logs[name] ?? Log()
                    let sequence = log.next
                    log.next += 1
                    log.entries.append((sequence, entry))
                    while log.entries.count > state.logLimit {
                        log.trimmedThrough = log.entries.removeFirst().sequence
                    }
                    state.logs[name] = log
                    return "\(InMemoryClusterBus.epoch)-\(sequence)"
                }
                deliver(channel: channel, message: LoggedBroadcastFormat.join(offset: offset, entry: entry))
                return loop.makeSucceededFuture(offset)
            } catch {
                return loop.makeFailedFuture(error)
            }
        }

        public func entries(log name: String, after offset: String) async throws -> [(offset: String, entry: ByteBuffer)]? {
            try hub.state.withLock { state in
                guard !state.down else { throw Unavailable() }
                let parts = offset.split(separator: "-")
                guard parts.count == 2, parts[0] == InMemoryClusterBus.epoch, let seen = UInt64(parts[1]) else { return nil }
                let log = state.logs[name] ?? Log()
                guard seen < log.next, seen >= log.trimmedThrough else { return nil }
                return log.entries.filter { $0.sequence > seen }.map { ("\(InMemoryClusterBus.epoch)-\($0.sequence)", $0.entry) }
            }
        }

        public func currentOffset(log name: String) async throws -> String {
            try hub.state.withLock { state in
                guard !state.down else { throw Unavailable() }
                return "\(InMemoryClusterBus.epoch)-\((state.logs[name]?.next ?? 1) - 1)"
            }
        }

        public func saveSession(log name: String, pid: String, session: ByteBuffer, ttl: Duration) async throws {
            try hub.state.withLock { state in
                guard !state.down else { throw Unavailable() }
                state.sessions[name + "#" + pid] = session
            }
        }

        public func takeSession(log name: String, pid: String) async throws -> ByteBuffer? {
            try hub.state.withLock { state in
                guard !state.down else { throw Unavailable() }
                state.sessionLookups.append(pid)
                return state.sessions.removeValue(forKey: name + "#" + pid)
            }
        }

        public func subscriberCount(channel: String) async throws -> Int {
            try hub.state.withLock { state in
                guard !state.down else { throw Unavailable() }
                return state.subscriptions[channel]?.count ?? 0
            }
        }
    }
}

/// `H2<offset>\n<entry>`: how a logged broadcast is published (see `ClusterLog`).
enum LoggedBroadcastFormat {
    static func join(offset: String, entry: ByteBuffer) -> ByteBuffer {
        var message = ByteBuffer(string: "H2" + offset + "\n")
        var entry = entry
        message.writeBuffer(&entry)
        return message
    }
}
