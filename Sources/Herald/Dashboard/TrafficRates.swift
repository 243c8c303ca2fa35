/// Cumulative traffic counters of one node at one instant.
public struct TrafficTotals: Sendable, Equatable {
    public var eventsIn: Int
    public var eventsOut: Int
    public var deliveries: Int

    public init(eventsIn: Int = 0, eventsOut: Int = 0, deliveries: Int = 0) {
        self.eventsIn = eventsIn
        self.eventsOut = eventsOut
        self.deliveries = deliveries
    }
}

/// Per-second rates between two readings of `TrafficTotals`.
public struct TrafficRates: Sendable, Equatable {
    public var eventsIn: Double
    public var eventsOut: Double
    public var deliveries: Double

    public init(eventsIn: Double = 0, eventsOut: Double = 0, deliveries: Double = 0) {
        self.eventsIn = eventsIn
        self.eventsOut = eventsOut
        self.deliveries = deliveries
    }
}

/// Turns successive counter readings into rates. Time is passed in, so tests drive it with their own clock.
public struct RateMeter: Sendable {
    private var last: (totals: TrafficTotals, at: ContinuousClock.Instant)?

    public init() {}

    /// Rates since the previous reading; zero for the first reading or when no time has passed.
    public mutating func rates(for totals: TrafficTotals, at now: ContinuousClock.Instant) -> TrafficRates {
        defer { last = (totals, now) }
        guard let last else { return TrafficRates() }
        let seconds = Self.seconds(now - last.at)
        guard seconds > 0 else { return TrafficRates() }
        // A counter never goes down; a negative delta could only come from a wrap, so it reads as zero.
        func rate(_ new: Int, _ old: Int) -> Double { Double(max(0, new &- old)) / seconds }
        return TrafficRates(
            eventsIn: rate(totals.eventsIn, last.totals.eventsIn),
            eventsOut: rate(totals.eventsOut, last.totals.eventsOut),
            deliveries: rate(totals.deliveries, last.totals.deliveries))
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// Percentiles of the fan-out latencies sampled in one interval, in milliseconds.
public struct LatencySummary: Sendable, Equatable {
    public var samples: Int
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double

    public init(samples: Int = 0, p50: Double = 0, p90: Double = 0, p99: Double = 0, max: Double = 0) {
        self.samples = samples
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
    }

    /// Nearest-rank percentiles: each is a measured value, never an interpolation between two.
    public init(_ durations: [Duration]) {
        guard !durations.isEmpty else {
            self.init()
            return
        }
        let sorted = durations.sorted()
        func rank(_ p: Double) -> Double {
            let index = Swift.max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1)
            return RateMeter.seconds(sorted[Swift.min(index, sorted.count - 1)]) * 1000
        }
        self.init(samples: sorted.count, p50: rank(0.5), p90: rank(0.9), p99: rank(0.99),
                  max: RateMeter.seconds(sorted[sorted.count - 1]) * 1000)
    }
}
