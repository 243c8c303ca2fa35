/// Percentiles of a set of latency samples, in milliseconds (samples are recorded in microseconds).
public struct LatencySummary: Codable, Sendable, Equatable {
    public var count: Int
    public var min: Double
    public var mean: Double
    public var p50: Double
    public var p90: Double
    public var p95: Double
    public var p99: Double
    public var max: Double

    /// `micros` need not be sorted; an empty set gives all zeros (count 0 says there was nothing to measure).
    public init(micros: [UInt32]) {
        let sorted = micros.sorted()
        count = sorted.count
        guard let first = sorted.first, let last = sorted.last else {
            min = 0; mean = 0; p50 = 0; p90 = 0; p95 = 0; p99 = 0; max = 0
            return
        }
        func ms(_ value: UInt32) -> Double { Double(value) / 1000 }
        min = ms(first)
        max = ms(last)
        mean = sorted.reduce(0.0) { $0 + Double($1) } / Double(sorted.count) / 1000
        p50 = ms(Self.percentile(sorted, 50))
        p90 = ms(Self.percentile(sorted, 90))
        p95 = ms(Self.percentile(sorted, 95))
        p99 = ms(Self.percentile(sorted, 99))
    }

    /// Nearest-rank percentile (the smallest sample with at least `p`% of samples at or below it), so every
    /// reported value is one that was actually measured. `sorted` must be ascending and non-empty.
    public static func percentile<T: Comparable>(_ sorted: [T], _ p: Double) -> T {
        precondition(!sorted.isEmpty, "percentile of nothing")
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]
    }
}
