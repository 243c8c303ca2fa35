/// Exponential backoff with full jitter: attempt n waits a uniform random time in
/// [0, min(maxDelay, initialDelay · 2^(n-1))], so clients dropped together by a restart spread out
/// over the whole window instead of arriving in waves.
public enum ReconnectionBackoff {
    /// The ceiling for attempt `attempt` (counted from 1), without jitter.
    public static func ceiling(attempt: Int, initialDelay: Duration, maxDelay: Duration) -> Duration {
        let initial = nanoseconds(initialDelay)
        let limit = nanoseconds(maxDelay)
        let shift = min(max(attempt - 1, 0), 62)
        let (scaled, overflow) = initial.multipliedReportingOverflow(by: UInt64(1) << UInt64(shift))
        return .nanoseconds(Int64(min(overflow ? limit : scaled, limit)))
    }

    /// The delay before attempt `attempt`; pure apart from `generator`, so tests pass a seeded one.
    public static func delay<Generator: RandomNumberGenerator>(
        attempt: Int, initialDelay: Duration, maxDelay: Duration, using generator: inout Generator
    ) -> Duration {
        let bound = UInt64(nanoseconds(ceiling(attempt: attempt, initialDelay: initialDelay, maxDelay: maxDelay)))
        return .nanoseconds(Int64(UInt64.random(in: 0...bound, using: &generator)))
    }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? UInt64(Int64.max) : min(whole + UInt64(attoseconds / 1_000_000_000), UInt64(Int64.max))
    }
}
