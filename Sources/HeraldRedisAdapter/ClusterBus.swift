// Concurrency: a protocol for Sendable implementations; each says its own rule (RedisClusterBus, InMemoryClusterBus).
import NIOCore

/// The publish/subscribe service nodes talk through: Redis in production, an in-memory hub in tests.
public protocol ClusterBus: Sendable {
    /// Publishes and returns once the bus took the message; throws when the bus cannot be reached.
    func publish(channel: String, message: ByteBuffer) async throws
    /// Publishes without waiting (broadcasts on the hot path); failures go to `onFailure`.
    func publishDetached(channel: String, message: ByteBuffer, onFailure: @escaping @Sendable (any Error) -> Void)
    /// Starts delivering the channel's messages to `handler`. Subscribing to a subscribed channel replaces its handler.
    func subscribe(channel: String, handler: @escaping @Sendable (ByteBuffer) -> Void) async throws
    func unsubscribe(channel: String) async throws
    /// `subscribe(channel:handler:)` for several channels at once: one command where the bus allows (a connect
    /// storm joins thousands of rooms in a moment; one round trip each would queue them).
    func subscribe(channels: [String], handler: @escaping @Sendable (ByteBuffer) -> Void) async throws
    func unsubscribe(channels: [String]) async throws
    /// How many connections across the cluster subscribe to the channel (Redis `PUBSUB NUMSUB`).
    func subscriberCount(channel: String) async throws -> Int
}

extension ClusterBus {
    public func subscribe(channels: [String], handler: @escaping @Sendable (ByteBuffer) -> Void) async throws {
        for channel in channels { try await subscribe(channel: channel, handler: handler) }
    }

    public func unsubscribe(channels: [String]) async throws {
        for channel in channels { try await unsubscribe(channel: channel) }
    }

    public func publishDetached(channel: String, message: ByteBuffer, onFailure: @escaping @Sendable (any Error) -> Void) {
        Task {
            do { try await publish(channel: channel, message: message) } catch { onFailure(error) }
        }
    }
}
