/// Counters for the Redis side of publishing (metrics come later; this is what they will read).
public struct PublishingStats: Sendable, Hashable {
    public struct Counters: Sendable, Hashable {
        public var delivered = 0
        /// Repeats suppressed by an idempotency key.
        public var duplicates = 0
        /// Messages that were malformed or did not fit: logged, never delivered.
        public var bad = 0
        public init(delivered: Int = 0, duplicates: Int = 0, bad: Int = 0) {
            self.delivered = delivered
            self.duplicates = duplicates
            self.bad = bad
        }
    }

    /// The envelope channel (`herald:publish`).
    public var envelope = Counters()
    /// Per bridge, by name, in configuration order.
    public var bridges: [(name: String, counters: Counters)] = []

    public init() {}

    public static func == (lhs: PublishingStats, rhs: PublishingStats) -> Bool {
        lhs.envelope == rhs.envelope && lhs.bridges.map(\.name) == rhs.bridges.map(\.name)
            && lhs.bridges.map(\.counters) == rhs.bridges.map(\.counters)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(envelope)
        for bridge in bridges { hasher.combine(bridge.name); hasher.combine(bridge.counters) }
    }

    public func bridge(named name: String) -> Counters? { bridges.first { $0.name == name }?.counters }
}
