@testable import Herald
import Logging
import SocketIO
import SocketIOProtocol
import Synchronization
import Testing

/// The dashboard's arithmetic, with time passed in: rates, percentiles, cluster totals, settings.
@Suite struct DashboardFiguresTests {
    @Test func ratesAreDeltasOverElapsedTime() {
        let start = ContinuousClock.now
        var meter = RateMeter()
        #expect(meter.rates(for: TrafficTotals(eventsIn: 100, eventsOut: 7, deliveries: 1000), at: start) == TrafficRates())
        let rates = meter.rates(for: TrafficTotals(eventsIn: 110, eventsOut: 9, deliveries: 1500), at: start + .seconds(2))
        #expect(rates == TrafficRates(eventsIn: 5, eventsOut: 1, deliveries: 250))
        let half = meter.rates(for: TrafficTotals(eventsIn: 111, eventsOut: 9, deliveries: 1500), at: start + .milliseconds(2500))
        #expect(half == TrafficRates(eventsIn: 2, eventsOut: 0, deliveries: 0))
        // No time passed: no rate rather than a division by zero.
        #expect(meter.rates(for: TrafficTotals(eventsIn: 200), at: start + .milliseconds(2500)) == TrafficRates())
        // A counter that went back (wrapped) reads as no traffic, never as a negative rate.
        #expect(meter.rates(for: TrafficTotals(eventsIn: 0), at: start + .seconds(3)).eventsIn == 0)
    }

    @Test func percentilesAreNearestRank() {
        let durations = (1...100).map { Duration.milliseconds($0) }.shuffled()
        let summary = LatencySummary(durations)
        #expect(summary == LatencySummary(samples: 100, p50: 50, p90: 90, p99: 99, max: 100))
        #expect(LatencySummary([]) == LatencySummary())
        let one = LatencySummary([.microseconds(250)])
        #expect(one.samples == 1 && one.p50 == 0.25 && one.p99 == 0.25 && one.max == 0.25)
        let ten = LatencySummary((1...10).map { Duration.milliseconds($0) })
        #expect(ten.p50 == 5 && ten.p90 == 9 && ten.p99 == 10)
    }

    @Test func dashboardRatesFollowTheInjectedClock() async {
        let clock = Mutex(ContinuousClock.now)
        let io = SocketIOServer()
        var configuration = DashboardConfiguration(nodeID: "n1")
        configuration.enabled = false
        let dashboard = Dashboard(configuration: configuration, io: io, clustered: false, metrics: nil,
                                  logger: Logger(label: "dashboard-test"), redisState: { "off" }, now: { clock.withLock { $0 } })
        let first = await dashboard.tick()
        #expect(first.nodes.map(\.node) == ["n1"])
        #expect(first.nodes[0].rates == TrafficRates())
        for _ in 0..<6 { io.to("nobody").emit("tick") }
        clock.withLock { $0 += .seconds(3) }
        let second = await dashboard.tick().nodes[0]
        #expect(second.rates.eventsOut == 2)
        #expect(second.totals.eventsOut == first.nodes[0].totals.eventsOut + 6)
        #expect(second.uptimeSeconds == 3)
        #expect(second.redis == "off" && second.sessions == 0 && second.rooms == 0)
        #expect(second.sockets == ["/": 0])
    }

    @Test func peersAreMergedAndForgottenAfterThreeSilentIntervals() async {
        let clock = Mutex(ContinuousClock.now)
        let io = SocketIOServer()
        var configuration = DashboardConfiguration(nodeID: "a")
        configuration.enabled = false
        let dashboard = Dashboard(configuration: configuration, io: io, clustered: true, metrics: nil,
                                  logger: Logger(label: "dashboard-test"), redisState: { "connected" }, now: { clock.withLock { $0 } })
        var peer = NodeFigures(json: await dashboard.tick().nodes[0].json)!
        peer.node = "b"
        peer.sessions = 4
        // What the cluster adapter hands over when node b shares its figures; a foreign event is ignored.
        io.sockets.receiveServerSideEmit(SocketIOEvent(name: "herald:dashboard:node", args: [peer.json]))
        io.sockets.receiveServerSideEmit(SocketIOEvent(name: "something:else", args: [.object(["node": "c"])]))
        let merged = await dashboard.tick()
        #expect(merged.nodes.map(\.node) == ["a", "b"])
        #expect(merged.totals["sessions"] == .int(4))
        clock.withLock { $0 += .seconds(3) }
        #expect(await dashboard.tick().nodes.count == 2, "three intervals of silence are still tolerated")
        clock.withLock { $0 += .milliseconds(1) }
        #expect(await dashboard.tick().nodes.map(\.node) == ["a"])
    }

    @Test func clusterTotalsSumNodesAndKeepTheWorstLatency() throws {
        func node(_ id: String, sessions: Int, p99: Double) -> NodeFigures {
            NodeFigures(node: id, uptimeSeconds: 10, sessions: sessions, sockets: ["/": sessions, "/admin": 1], rooms: 3,
                        rates: TrafficRates(eventsIn: 1.5, eventsOut: 2, deliveries: 100),
                        totals: TrafficTotals(eventsIn: 15, eventsOut: 20, deliveries: 1000),
                        fanOut: LatencySummary(samples: 4, p50: 0.1, p90: 0.2, p99: p99, max: p99 + 1),
                        redis: "connected", time: 1_700_000_000.5)
        }
        let b = node("b", sessions: 5, p99: 3), a = node("a", sessions: 2, p99: 0.5)
        // Figures survive the trip between nodes.
        #expect(NodeFigures(json: a.json) == a)
        #expect(NodeFigures(json: .object(["node": "x"])) == nil)

        let cluster = ClusterFigures(nodes: [b, a], time: 1)
        #expect(cluster.nodes.map(\.node) == ["a", "b"])
        let totals = try #require(cluster.totals.objectValue)
        #expect(totals["nodes"] == .int(2))
        #expect(totals["sessions"] == .int(7))
        #expect(totals["sockets"]?["/"] == .int(7))
        #expect(totals["sockets"]?["/admin"] == .int(2))
        #expect(totals["rooms"] == .int(6))
        #expect(totals["eventsInPerSecond"] == .double(3))
        #expect(totals["deliveriesPerSecond"] == .double(200))
        #expect(totals["fanOutMs"]?["p99"] == .double(3))
        #expect(totals["fanOutMs"]?["samples"] == .int(8))
        #expect(cluster.json["nodes"]?.arrayValue?.count == 2)
    }

    @Test func settingsAndDocumentedDefaults() throws {
        let defaults = DashboardConfiguration()
        #expect(defaults.enabled && defaults.interval == .seconds(1) && defaults.room == "dashboard")
        #expect(defaults.nodeID == nil && defaults.bootstrapMetricsSystem)
        #expect(HeraldConfiguration().dashboard.room == "dashboard")

        var configuration = HeraldConfiguration()
        try configuration.apply([
            "HERALD_DASHBOARD": "0", "HERALD_DASHBOARD_INTERVAL": "250",
            "HERALD_DASHBOARD_ROOM": "ops", "HERALD_NODE_ID": "eu-1",
        ])
        #expect(!configuration.dashboard.enabled)
        #expect(configuration.dashboard.interval == .milliseconds(250))
        #expect(configuration.dashboard.room == "ops" && configuration.dashboard.nodeID == "eu-1")
        #expect(throws: HeraldConfiguration.SettingError.self) { try configuration.apply(["HERALD_DASHBOARD_INTERVAL": "5"]) }
        #expect(throws: HeraldConfiguration.SettingError.self) { try configuration.apply(["HERALD_DASHBOARD": "yes"]) }
    }
}
