/// socket.io-client's reconnection backoff: before attempt n (from 1) the client waits
/// `initialDelay · 2^(n-1)`, moved by up to ±`randomization` of itself, then capped at `maxDelay`. With the
/// defaults (1 s, 5 s, 0.5) that is 0.5–1.5 s, 1–3 s, 2–5 s, 4–5 s, then 5 s: clients dropped together by a restart
/// spread over each window, and none comes back sooner than half the initial delay.
public enum ReconnectionBackoff {
    /// The delay before attempt `attempt` (counted from 1) without randomization, capped at `maxDelay`.
    public static func ceiling(attempt: Int, initialDelay: Duration, maxDelay: Duration) -> Duration {
        .nanoseconds(Int64(min(base(attempt: attempt, initialDelay: initialDelay), nanoseconds(maxDelay))))
    }

    /// The delay before attempt `attempt`; pure apart from `generator`, so tests pass a seeded one. A
    /// `randomization` outside (0, 1] means none, as in socket.io-client.
    public static func delay<Generator: RandomNumberGenerator>(
        attempt: Int, initialDelay: Duration, maxDelay: Duration, randomization: Double = 0.5, using generator: inout Generator
    ) -> Duration {
        var delay = base(attempt: attempt, initialDelay: initialDelay)
        if randomization > 0 && randomization <= 1 {
            // Randomized before the cap (as socket.io-client does): from the attempt whose lower bound passes
            // the cap, every delay is the cap.
            let deviation = UInt64((Double.random(in: 0..<1, using: &generator) * randomization * Double(delay)).rounded(.down))
            // deviation ≤ delay ≤ Int64.max: neither side overflows.
            delay = Bool.random(using: &generator) ? delay - deviation : delay + deviation
        }
        return .nanoseconds(Int64(min(delay, nanoseconds(maxDelay))))
    }

    /// `initialDelay · 2^(attempt-1)` in nanoseconds, saturating.
    private static func base(attempt: Int, initialDelay: Duration) -> UInt64 {
        let shift = min(max(attempt - 1, 0), 62)
        let (scaled, overflow) = nanoseconds(initialDelay).multipliedReportingOverflow(by: UInt64(1) << UInt64(shift))
        return overflow ? UInt64(Int64.max) : min(scaled, UInt64(Int64.max))
    }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? UInt64(Int64.max) : min(whole + UInt64(attoseconds / 1_000_000_000), UInt64(Int64.max))
    }
}
