import CoreMetrics
import EngineIO
import HeraldRedisAdapter
import SocketIO
import Metrics
import Prometheus
import Synchronization

/// A node's Prometheus registry and the swift-metrics handles of its live figures, served at `/metrics`.
/// The Socket.IO figures (sessions, sockets, events, deliveries, drops, fan-out latency) are the server's own
/// `SocketIOMetrics` (`socketIOMetrics()`, prefix `herald`) in this registry; this class adds the node's.
///
/// Each node has its own registry, and its own figures go to it through an explicit factory, so several nodes
/// in one process (tests) do not mix their numbers. The first node of the process also bootstraps the global
/// swift-metrics system with its registry, so metrics from other libraries appear on its `/metrics` too.
public final class HeraldMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let rooms: Meter
    let uptime: Meter
    let redisConnected: Meter?
    let heartbeatTimerEntries: Meter
    let headTimerEntries: Meter
    let connectTimerEntries: Meter
    let openFileDescriptors: Meter
    let redisSubscriptions: Meter?
    let redisRoomSubscriptions: Meter?
    let factory: PrometheusMetricsFactory
    /// Counters fed from other components' cumulative stats, with the total already counted.
    let gatewayCounters = Mutex<[String: (counter: CoreMetrics.Counter, counted: Int)]>([:])
    /// The Prometheus text exposition format's content type.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private static let bootstrapped = Mutex(false)

    public init(redis: Bool, bootstrapMetricsSystem: Bool) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Fan-out is sub-millisecond on one node and a few ms across Redis; the default buckets start at 5 ms.
        factory.durationHistogramBuckets["herald_fanout_latency_seconds"] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
            .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        self.registry = registry
        self.factory = factory
        rooms = Meter(label: "herald_rooms", factory: factory)
        uptime = Meter(label: "herald_uptime_seconds", factory: factory)
        redisConnected = redis ? Meter(label: "herald_redis_connected", factory: factory) : nil
        heartbeatTimerEntries = Meter(label: "herald_heartbeat_timer_entries", factory: factory)
        headTimerEntries = Meter(label: "herald_head_timer_entries", factory: factory)
        connectTimerEntries = Meter(label: "herald_connect_timer_entries", factory: factory)
        openFileDescriptors = Meter(label: "herald_open_fds", factory: factory)
        redisSubscriptions = redis ? Meter(label: "herald_redis_subscriptions", factory: factory) : nil
        redisRoomSubscriptions = redis ? Meter(label: "herald_redis_room_subscriptions", factory: factory) : nil
        if bootstrapMetricsSystem {
            // swift-metrics allows one bootstrap per process.
            let first = Self.bootstrapped.withLock { done in defer { done = true }; return !done }
            if first { MetricsSystem.bootstrap(factory) }
        }
    }

    /// Metrics for the node's `SocketIOServer`, reported into this registry under `herald_…`.
    public func socketIOMetrics() -> SocketIOMetrics { SocketIOMetrics(factory: factory, prefix: "herald") }

    /// Brings the node's own figures (uptime, Redis state) up to one reading.
    func update(_ figures: NodeFigures) {
        uptime.set(figures.uptimeSeconds)
        redisConnected?.set(figures.redis == "connected" ? 1 : 0)
    }

    /// Sets the gauges of what the node holds beyond the server's own metrics (rooms, timers, subscriptions,
    /// descriptors).
    public func update(_ resources: NodeResources) {
        rooms.set(resources.rooms)
        heartbeatTimerEntries.set(resources.heartbeatTimerEntries)
        headTimerEntries.set(resources.headTimerEntries)
        connectTimerEntries.set(resources.connectTimerEntries)
        if let fds = resources.openFileDescriptors { openFileDescriptors.set(fds) }
        if let count = resources.redisSubscriptions { redisSubscriptions?.set(count) }
        if let count = resources.redisRoomSubscriptions { redisRoomSubscriptions?.set(count) }
    }

    /// A `/metrics` route for a bare `SocketIOServer` (`herald bench-server`, tests): the server's figures and the
    /// resource gauges, measured at each request.
    public func resourceRoute(io: SocketIOServer, bus: RedisClusterBus? = nil) -> HTTPRouteHandler {
        let serverMetrics = socketIOMetrics()
        return { [self] request in
            guard request.method == .GET, request.path == "/metrics" else { return nil }
            serverMetrics.report(io)
            update(await NodeResources.measure(io, bus: bus))
            return .text(.ok, exposition(), contentType: Self.contentType)
        }
    }

    /// The registry in the text exposition format.
    public func exposition() -> String { registry.emitToString() }

    /// `200` with the exposition, for whichever listener serves `/metrics`.
    public func response() -> HTTPResponse { .text(.ok, exposition(), contentType: Self.contentType) }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
