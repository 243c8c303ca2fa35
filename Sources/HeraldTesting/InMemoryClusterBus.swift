import NIOCore
import RedisAdapter
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
    }

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

    public final class Node: ClusterBus {
        let hub: InMemoryClusterBus
        let id: Int

        init(hub: InMemoryClusterBus, id: Int) {
            self.hub = hub
            self.id = id
        }

        public func publish(channel: String, message: ByteBuffer) async throws {
            let handlers = try hub.state.withLock { state -> [@Sendable (ByteBuffer) -> Void] in
                guard !state.down else { throw Unavailable() }
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

        public func subscriberCount(channel: String) async throws -> Int {
            try hub.state.withLock { state in
                guard !state.down else { throw Unavailable() }
                return state.subscriptions[channel]?.count ?? 0
            }
        }
    }
}
