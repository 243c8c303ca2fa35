import EngineIO
import Foundation
import Logging
import HeraldRedisAdapter
import SocketIO
import SocketIOProtocol
import Synchronization

/// Computes this node's live figures every interval, pushes every node's figures to the dashboard room, and
/// shares its own with the other nodes (server-side emit over the cluster adapter). Turned off, it still
/// measures, so `/metrics` stays current.
public final class Dashboard: Sendable {
    public let configuration: DashboardConfiguration
    public let nodeID: String
    let io: SocketIOServer
    let metrics: HeraldMetrics?
    let logger: Logger
    private let clustered: Bool
    /// The cluster bus, for its subscription count on `/metrics`.
    private let bus: RedisClusterBus?
    private let redisState: @Sendable () -> String
    /// Other components' counters for `/metrics` (auth, publishing), read once per tick.
    private let gatewayStats: @Sendable (HeraldMetrics) -> Void
    private let now: @Sendable () -> ContinuousClock.Instant
    /// Users with a connection on this node (presence's user count).
    private let users: @Sendable () -> Int
    private let started: ContinuousClock.Instant
    private let state = Mutex(State())

    struct State {
        var meter = RateMeter()
        /// Other nodes' latest figures and when they arrived.
        var peers: [String: (figures: NodeFigures, received: ContinuousClock.Instant)] = [:]
        var latest: ClusterFigures?
    }

    init(configuration: DashboardConfiguration, io: SocketIOServer, clustered: Bool, metrics: HeraldMetrics?, logger: Logger,
         redisState: @escaping @Sendable () -> String, gatewayStats: @escaping @Sendable (HeraldMetrics) -> Void = { _ in },
         now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }, bus: RedisClusterBus? = nil,
         users: @escaping @Sendable () -> Int = { 0 }) {
        self.users = users
        self.configuration = configuration
        self.bus = bus
        self.nodeID = configuration.nodeID ?? String(EngineIOServer.makeSessionID().prefix(12))
        self.io = io
        self.clustered = clustered
        self.metrics = metrics
        self.logger = logger
        self.redisState = redisState
        self.gatewayStats = gatewayStats
        self.now = now
        self.started = now()
        if clustered {
            io.sockets.onServerSideEmit { [weak self] event in
                guard event.name == DashboardConfiguration.shareEvent, let self,
                      let figures = event.args.first.flatMap(NodeFigures.init(json:)), figures.node != self.nodeID
                else { return }
                let received = self.now()
                self.state.withLock { $0.peers[figures.node] = (figures, received) }
            }
        }
    }

    /// The last payload pushed, for tests and the `/metrics` side.
    public var latest: ClusterFigures? { state.withLock { $0.latest } }

    /// Ticks until the task is cancelled.
    func run() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.interval) } catch { return }
            await tick()
        }
    }

    /// One interval: measure, update metrics, push to the room (this node's members only: every node pushes to
    /// its own, each with the whole cluster's figures), then share this node's figures with the others.
    @discardableResult
    func tick() async -> ClusterFigures {
        let own = await measure()
        let instant = now()
        // A node silent for three intervals is gone (stopped, or cut off from Redis).
        let horizon = configuration.interval * 3
        let figures = state.withLock { state -> ClusterFigures in
            state.peers = state.peers.filter { instant - $0.value.received <= horizon }
            let figures = ClusterFigures(nodes: [own] + state.peers.values.map(\.figures), time: own.time)
            state.latest = figures
            return figures
        }
        guard configuration.enabled else { return figures }
        io.sockets.local.to(configuration.room).emit(DashboardConfiguration.statsEvent, figures.json)
        if clustered {
            do {
                try await io.sockets.serverSideEmit(DashboardConfiguration.shareEvent, own.json)
            } catch {
                logger.debug("dashboard figures not shared", metadata: ["error": "\(error)"])
            }
        }
        return figures
    }

    /// This node's figures now.
    func measure() async -> NodeFigures {
        let stats = io.stats
        let totals = TrafficTotals(eventsIn: stats.eventsReceived, eventsOut: stats.eventsSent, deliveries: stats.deliveries)
        let samples = stats.drainFanOutSamples()
        let instant = now()
        let rates = state.withLock { $0.meter.rates(for: totals, at: instant) }
        let resources = await NodeResources.measure(io, bus: bus)
        let figures = NodeFigures(
            node: nodeID, uptimeSeconds: RateMeter.seconds(instant - started), sessions: resources.sessions,
            sockets: resources.socketsByNamespace, rooms: resources.rooms, rates: rates, totals: totals, fanOut: LatencySummary(samples),
            redis: redisState(), time: Date().timeIntervalSince1970, users: users())
        if let metrics {
            // The Socket.IO figures are the server's own metrics, reported into this node's registry.
            io.reportMetrics()
            metrics.update(figures)
            metrics.update(resources)
            gatewayStats(metrics)
        }
        return figures
    }
}
