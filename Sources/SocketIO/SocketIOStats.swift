import CoreMetrics
import Synchronization

/// Running totals of one server's traffic, read by the dashboard and metrics once a second.
/// Counting is one relaxed atomic add per event or per (broadcast × event loop), never per recipient,
/// so it adds no lock and no allocation to the fan-out path.
///
/// Atomic counters; the sampled latencies alone are lock-protected.
public final class SocketIOStats: Sendable {
    private let received = Atomic<Int>(0)
    private let sent = Atomic<Int>(0)
    private let delivered = Atomic<Int>(0)
    private let broadcasts = Atomic<Int>(0)
    private let refusedJoins = Atomic<Int>(0)
    /// Fan-out latencies of sampled broadcasts since the last `drainFanOutSamples()`, bounded.
    private let samples = Mutex<[Duration]>([])
    /// One broadcast in this many has its fan-out timed; timing costs a clock read and an allocation.
    public let fanOutSampleEvery: Int
    /// Samples kept between two drains; later ones are dropped (the dashboard drains every second).
    public let maxSamples: Int
    /// Where each sampled fan-out also goes as it completes (the server's `SocketIOMetrics`).
    private let fanOutTimer: CoreMetrics.Timer?

    public convenience init(fanOutSampleEvery: Int = 16, maxSamples: Int = 4096) {
        self.init(fanOutSampleEvery: fanOutSampleEvery, maxSamples: maxSamples, fanOutTimer: nil)
    }

    init(fanOutSampleEvery: Int = 16, maxSamples: Int = 4096, fanOutTimer: CoreMetrics.Timer?) {
        self.fanOutSampleEvery = max(1, fanOutSampleEvery)
        self.maxSamples = maxSamples
        self.fanOutTimer = fanOutTimer
    }

    /// Events received from clients.
    public var eventsReceived: Int { received.load(ordering: .relaxed) }
    /// Events emitted by this node: direct emits and broadcasts (a broadcast counts once).
    public var eventsSent: Int { sent.load(ordering: .relaxed) }
    /// Messages handed to clients' connections on this node (a broadcast counts once per recipient).
    public var deliveries: Int { delivered.load(ordering: .relaxed) }

    /// Joins refused because they would take a socket past the room cap.
    public var roomJoinsRefused: Int { refusedJoins.load(ordering: .relaxed) }

    func roomJoinRefused() { refusedJoins.wrappingAdd(1, ordering: .relaxed) }
    func eventReceived() { received.wrappingAdd(1, ordering: .relaxed) }
    func eventSent() { sent.wrappingAdd(1, ordering: .relaxed) }
    func delivered(_ count: Int) { if count > 0 { delivered.wrappingAdd(count, ordering: .relaxed) } }

    /// A probe for every `fanOutSampleEvery`-th broadcast delivered on this node, nil for the others.
    func sampleBroadcast(shards: Int) -> FanOutProbe? {
        let n = broadcasts.wrappingAdd(1, ordering: .relaxed).newValue
        guard n % fanOutSampleEvery == 0, shards > 0 else { return nil }
        return FanOutProbe(stats: self, shards: shards)
    }

    func record(fanOut: Duration) {
        samples.withLock { if $0.count < maxSamples { $0.append(fanOut) } }
        if let fanOutTimer {
            let (seconds, attoseconds) = fanOut.components
            fanOutTimer.recordNanoseconds(seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000)
        }
    }

    /// Takes the fan-out latencies measured since the previous call.
    public func drainFanOutSamples() -> [Duration] {
        samples.withLock { samples in defer { samples = [] }; return samples }
    }
}

/// Times one broadcast from its emit to the last shard's writes on this node.
final class FanOutProbe: Sendable {
    private let start = ContinuousClock.now
    private let remaining: Atomic<Int>
    private let recipients = Atomic<Int>(0)
    private let stats: SocketIOStats

    init(stats: SocketIOStats, shards: Int) {
        self.stats = stats
        self.remaining = Atomic(shards)
    }

    /// Called by each shard after writing; the last one records, if anyone received the broadcast.
    func shardDone(recipients count: Int) {
        recipients.wrappingAdd(count, ordering: .relaxed)
        guard remaining.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
        if recipients.load(ordering: .relaxed) > 0 { stats.record(fanOut: ContinuousClock.now - start) }
    }
}
