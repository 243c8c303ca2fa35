import CoreMetrics
import EngineIO
import Synchronization

/// A server's figures as swift-metrics, in whichever backend the application bootstrapped (or the factory it
/// passes): sessions, sockets per namespace, events in and out, deliveries, drops, refused joins and sampled
/// fan-out latencies. The hot path still only adds to `SocketIOStats`' atomics; `report` brings the counters up
/// to those totals, so each event is counted once however often it runs. Lock-protected (the totals already
/// reported and the per-namespace gauges).
///
/// Labels start with `prefix` (default `socketio`): `<prefix>_sessions`, `<prefix>_sockets{namespace}`,
/// `<prefix>_events_received_total`, `<prefix>_events_sent_total`, `<prefix>_deliveries_total`,
/// `<prefix>_volatile_drops_total`, `<prefix>_slow_client_closes_total`, `<prefix>_room_joins_refused_total`
/// and the timer `<prefix>_fanout_latency_seconds`. The herald gateway uses the prefix `herald`.
public final class SocketIOMetrics: Sendable {
    public let prefix: String
    private let factory: any MetricsFactory
    private let sessions: Meter
    private let eventsReceived: Counter
    private let eventsSent: Counter
    private let deliveries: Counter
    private let volatileDrops: Counter
    private let slowClientCloses: Counter
    private let roomJoinsRefused: Counter
    /// Recorded by `SocketIOStats` as each sampled broadcast completes.
    let fanOut: Timer
    private let state = Mutex<State>(State())

    private struct State {
        var sockets: [String: Meter] = [:]
        var counted = Totals()
    }

    /// The cumulative figures the counters follow.
    struct Totals {
        var eventsReceived = 0, eventsSent = 0, deliveries = 0, volatileDrops = 0, slowClientCloses = 0, roomJoinsRefused = 0
        static var fields: [WritableKeyPath<Totals, Int>] {
            [\.eventsReceived, \.eventsSent, \.deliveries, \.volatileDrops, \.slowClientCloses, \.roomJoinsRefused]
        }
    }

    /// `factory` defaults to the process-wide one (`MetricsSystem.bootstrap`); pass one to keep several servers'
    /// figures apart.
    public init(factory: any MetricsFactory = MetricsSystem.factory, prefix: String = "socketio") {
        self.prefix = prefix
        self.factory = factory
        sessions = Meter(label: prefix + "_sessions", factory: factory)
        eventsReceived = Counter(label: prefix + "_events_received_total", factory: factory)
        eventsSent = Counter(label: prefix + "_events_sent_total", factory: factory)
        deliveries = Counter(label: prefix + "_deliveries_total", factory: factory)
        volatileDrops = Counter(label: prefix + "_volatile_drops_total", factory: factory)
        slowClientCloses = Counter(label: prefix + "_slow_client_closes_total", factory: factory)
        roomJoinsRefused = Counter(label: prefix + "_room_joins_refused_total", factory: factory)
        fanOut = Timer(label: prefix + "_fanout_latency_seconds", factory: factory)
    }

    /// Brings every metric up to `io`'s figures now (`io.reportMetrics()` reports into its own). The fan-out timer
    /// is fed only by the server made with these metrics, as each sampled broadcast completes.
    public func report(_ io: SocketIOServer) {
        let stats = io.stats, drops = io.engine.dropStats
        let now = Totals(
            eventsReceived: stats.eventsReceived, eventsSent: stats.eventsSent, deliveries: stats.deliveries,
            volatileDrops: drops.volatileMessagesDropped, slowClientCloses: drops.slowClientsClosed,
            roomJoinsRefused: stats.roomJoinsRefused)
        let namespaces = io.allNamespaces.map { ($0.name, $0.socketCount) }
        // The deltas are taken under the lock and the totals only move up, so two reports running at once
        // never count the same events twice.
        let (delta, gauges) = state.withLock { state in
            for (name, _) in namespaces where state.sockets[name] == nil {
                state.sockets[name] = Meter(label: prefix + "_sockets", dimensions: [("namespace", name)], factory: factory)
            }
            var delta = Totals()
            func step(_ path: WritableKeyPath<Totals, Int>) {
                delta[keyPath: path] = max(0, now[keyPath: path] - state.counted[keyPath: path])
                state.counted[keyPath: path] = max(now[keyPath: path], state.counted[keyPath: path])
            }
            for path in Totals.fields { step(path) }
            return (delta, state.sockets)
        }
        func add(_ counter: Counter, _ n: Int) { if n > 0 { counter.increment(by: n) } }
        add(eventsReceived, delta.eventsReceived)
        add(eventsSent, delta.eventsSent)
        add(deliveries, delta.deliveries)
        add(volatileDrops, delta.volatileDrops)
        add(slowClientCloses, delta.slowClientCloses)
        add(roomJoinsRefused, delta.roomJoinsRefused)
        sessions.set(io.engine.sessionCount)
        for (name, count) in namespaces { gauges[name]?.set(count) }
    }
}
