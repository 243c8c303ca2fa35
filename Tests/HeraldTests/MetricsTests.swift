@testable import Herald
import Testing

/// `/metrics` counters fed from cumulative stats: each reading brings the counter to the total, never adds it twice.
@Suite struct MetricsTests {
    @Test func cumulativeStatsBecomeCountersAtTheirTotal() {
        let metrics = HeraldMetrics(redis: false, bootstrapMetricsSystem: false)
        var auth = AuthStats()
        auth.accepted = 5
        auth.refused[.tokenExpired] = 2
        metrics.update(auth: auth)
        auth.accepted = 7
        metrics.update(auth: auth)
        metrics.update(auth: auth)
        var publishing = PublishingStats()
        publishing.envelope = .init(delivered: 3, duplicates: 1, bad: 0)
        metrics.update(publishing: publishing)

        let text = metrics.exposition()
        #expect(text.contains(#"herald_auth_connections_total{result="accepted"} 7"#), "\(text)")
        #expect(text.contains(#"herald_auth_connections_total{result="token_expired"} 2"#), "\(text)")
        #expect(text.contains("herald_abusive_disconnects_total 0"), "\(text)")
        #expect(text.contains(#"source="envelope""#) && text.contains("herald_published_total"), "\(text)")
    }

    @Test func figuresAndResourcesBecomeGauges() {
        let metrics = HeraldMetrics(redis: true, bootstrapMetricsSystem: false)
        let figures = NodeFigures(
            node: "n", uptimeSeconds: 12, sessions: 3, sockets: ["/": 3, "/admin": 1], rooms: 4,
            rates: TrafficRates(), totals: TrafficTotals(eventsIn: 10, eventsOut: 20, deliveries: 300),
            fanOut: LatencySummary(), redis: "connected", time: 0)
        metrics.update(figures)
        metrics.update(NodeResources(
            sessions: 3, socketsByNamespace: ["/": 3, "/admin": 1], rooms: 4, heartbeatTimerEntries: 5,
            headTimerEntries: 6, connectTimerEntries: 7,
            redisRoomSubscriptions: 4, redisSubscriptions: 9, openFileDescriptors: 17))
        let text = metrics.exposition()
        for line in ["herald_uptime_seconds 12", "herald_rooms 4", "herald_redis_connected 1",
                     "herald_heartbeat_timer_entries 5", "herald_head_timer_entries 6", "herald_connect_timer_entries 7",
                     "herald_redis_room_subscriptions 4", "herald_redis_subscriptions 9",
                     "herald_open_fds 17"] {
            #expect(text.contains(line), "\(line) missing in:\n\(text)")
        }
    }

    /// The Socket.IO figures are the server's own metrics, in the node's registry under the node's names: the
    /// gateway no longer counts them a second time.
    @Test func theServersMetricsLandInTheNodesRegistry() {
        let metrics = HeraldMetrics(redis: false, bootstrapMetricsSystem: false)
        let io = SocketIOServer(metrics: metrics.socketIOMetrics())
        _ = io.of("/admin")
        io.reportMetrics()
        io.reportMetrics()
        let text = metrics.exposition()
        for line in ["herald_sessions 0", #"herald_sockets{namespace="/admin"} 0"#, "herald_events_received_total 0",
                     "herald_events_sent_total 0", "herald_deliveries_total 0", "herald_volatile_drops_total 0",
                     "herald_slow_client_closes_total 0", "herald_room_joins_refused_total 0",
                     "# TYPE herald_fanout_latency_seconds histogram"] {
            #expect(text.contains(line), "\(line) missing in:\n\(text)")
        }
        #expect(text.components(separatedBy: "# TYPE herald_events_received_total").count == 2, "\(text)")
    }
}
