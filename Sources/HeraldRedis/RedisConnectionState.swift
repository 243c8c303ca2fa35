/// What a reconnecting `RedisClient` or `RedisSubscriber` is doing, for health reporting.
public enum RedisConnectionState: Sendable, Hashable {
    /// Before the first connection is up.
    case connecting
    /// Connected (for a subscriber: and every subscription confirmed).
    case connected
    /// The connection was lost; `attempt` counts reconnect attempts so far (1 = the first retry).
    case reconnecting(attempt: Int)
    /// `close()` was called; final.
    case closed
}

/// Exponential backoff with jitter, pure so tests can check it with a fixed random source.
struct RedisBackoff: Sendable {
    var initial: Duration
    var maximum: Duration
    var jitter: Double

    init(configuration: RedisConfiguration) {
        self.initial = configuration.reconnectInitialDelay
        self.maximum = configuration.reconnectMaxDelay
        self.jitter = configuration.reconnectJitter
    }

    /// Delay before reconnect attempt `attempt` (1-based); `random` is uniform in 0...1.
    func delay(attempt: Int, random: Double) -> Duration {
        let shift = min(max(attempt - 1, 0), 30)
        let doubled = initial * (1 << shift)
        let capped = min(doubled, maximum)
        let factor = 1 - min(max(jitter, 0), 1) * min(max(random, 0), 1)
        return capped * factor
    }
}
