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
    /// How many connections across the cluster subscribe to the channel (Redis `PUBSUB NUMSUB`).
    func subscriberCount(channel: String) async throws -> Int
}

extension ClusterBus {
    public func publishDetached(channel: String, message: ByteBuffer, onFailure: @escaping @Sendable (any Error) -> Void) {
        Task {
            do { try await publish(channel: channel, message: message) } catch { onFailure(error) }
        }
    }
}
