import Foundation
import Herald
import HeraldTesting
import Logging
import NIOCore
import NIOPosix
import HeraldRedis
import SocketIO
import SocketIOProtocol
import Testing

/// Real nodes on real ports: `dashboard:stats` to the dashboard room, business figures through the publish
/// API, `/metrics` and `/ready`.
@Suite struct DashboardLiveTests {
    @Test func dashboardRoomReceivesPlausibleStats() async throws {
        try await withDashboardNode { node, port in
            node.io.onConnection { socket in
                // Every `say` is broadcast to the chat room: events in, events out and deliveries.
                socket.on("say") { event in node.io.to("chat").emit("said", event.args.first ?? .null) }
            }
            let watcher = try await DashboardClient.connect(port: port, room: "dashboard")
            let talker = try await RawSocketIOClient.open(port: port, group: MultiThreadedEventLoopGroup.singleton)
            try await talker.connect(auth: #"{"room":"chat"}"#)
            let sent = 40
            for i in 0..<sent { talker.emit("say", "\(i)") }
            // The talker reads its echoes back, so all of them were delivered before the figures are checked.
            for i in 0..<sent { try await talker.expectEvent("said", "\(i)") }

            var sawSamples = false
            let stats = try await watcher.stats(until: { stats in
                sawSamples = sawSamples || (stats["totals"]?["fanOutMs"]?["samples"]?.intValue ?? 0) > 0
                return (stats["nodes"]?[0]?["eventsIn"]?.intValue ?? 0) >= sent && sawSamples
            })
            let me = try #require(stats["nodes"]?[0]?.objectValue)
            #expect(me["node"] == "node-1")
            #expect(me["sessions"] == .int(2))
            #expect(me["sockets"]?["/"] == .int(2))
            #expect(me["rooms"] == .int(2), "dashboard and chat, not the sockets' own rooms")
            #expect(me["redis"] == "off")
            #expect(me["eventsIn"]?.intValue == sent)
            #expect((me["eventsOut"]?.intValue ?? 0) >= sent)
            #expect((me["deliveries"]?.intValue ?? 0) >= sent)
            #expect((me["uptime"]?.doubleValue ?? 0) > 0)
            #expect((me["time"]?.doubleValue ?? 0) > 1_700_000_000)
            let fan = try #require(stats["totals"]?["fanOutMs"]?.objectValue)
            #expect((fan["p50"]?.doubleValue ?? -1) >= 0 && (fan["p99"]?.doubleValue ?? 0) < 5_000)
            #expect(stats["totals"]?["nodes"] == .int(1))
            #expect(sawSamples)
        }
    }

    @Test func backendsPushBusinessFiguresThroughThePublishAPI() async throws {
        try await withDashboardNode(api: true) { node, port in
            let watcher = try await DashboardClient.connect(port: port, room: "dashboard")
            let api = try #require(node.apiListeningAddress?.port)
            let body = #"{"room":"dashboard","event":"dashboard:business","data":{"ordersPerMinute":42,"revenue":1234.5,"currency":"EUR"}}"#
            let answer = try await PublishAPIClient(port: api).post(body)
            #expect(answer.status == 202, "\(answer.raw)")
            let business = try await watcher.next(event: "dashboard:business")
            #expect(business == .object(["ordersPerMinute": 42, "revenue": 1234.5, "currency": "EUR"]))
        }
    }

    @Test func metricsAreServedInTheTextFormat() async throws {
        try await withDashboardNode { node, port in
            let watcher = try await DashboardClient.connect(port: port, room: "dashboard")
            // One tick after the connection, so the figures include it.
            _ = try await watcher.stats(until: { ($0["nodes"]?[0]?["sessions"]?.intValue ?? 0) == 1 })
            let metrics = try await RawHTTP.get("/metrics", port: port)
            #expect(metrics.status == 200)
            #expect(metrics.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
            for name in ["# TYPE herald_events_received_total counter", "# TYPE herald_sessions gauge",
                         "herald_deliveries_total", "herald_events_sent_total", "herald_rooms",
                         "herald_fanout_latency_seconds_bucket", #"herald_sockets{namespace="/"} 1"#, "herald_uptime_seconds",
                         "# TYPE herald_published_total counter", "# TYPE herald_heartbeat_timer_entries gauge",
                         "# TYPE herald_head_timer_entries gauge", "# TYPE herald_connect_timer_entries gauge"] {
                #expect(metrics.body.contains(name), "\(name) missing in:\n\(metrics.body)")
            }
            #expect(metrics.body.contains("herald_sessions 1"), "\(metrics.body)")
            #expect(!metrics.body.contains("herald_redis_connected"), "a single node has no Redis gauge")
        }
    }

    @Test func readyOnceListening() async throws {
        try await withDashboardNode { node, port in
            let ready = try await RawHTTP.get("/ready", port: port)
            #expect(ready.status == 200, "\(ready.raw)")
            #expect(ready.header("content-type")?.hasPrefix("application/json") == true)
            #expect(try JSONValue(parsing: ready.body) == .object(["listening": true, "status": "ready"]))
            // /health keeps its own answer.
            let health = try await RawHTTP.get("/health", port: port)
            #expect(try JSONValue(parsing: health.body)["status"] == "ok")
        }
    }

    /// Until Redis has connected once the node has not joined the cluster, and is not ready.
    @Test func notReadyUntilRedisHasConnected() async throws {
        let closed = try await freePort()
        var redis = RedisConfiguration(host: "127.0.0.1", port: closed)
        redis.reconnectInitialDelay = .milliseconds(20)
        redis.reconnectMaxDelay = .milliseconds(200)
        try await withDashboardNode(redis: redis) { node, port in
            let ready = try await RawHTTP.get("/ready", port: port)
            #expect(ready.status == 503, "\(ready.raw)")
            #expect(ready.header("content-type")?.hasPrefix("application/json") == true)
            #expect(try JSONValue(parsing: ready.body) == .object(["listening": true, "redis": "unreachable", "status": "not ready"]))
            let metrics = try await RawHTTP.get("/metrics", port: port)
            #expect(metrics.body.contains("herald_redis_connected"), "\(metrics.body)")
        }
    }

    /// A Redis outage after the node joined keeps it ready: every node sees the same outage, and a probe failing
    /// on all of them would empty the load balancer while each node can still serve its own clients.
    @Test(.enabled(if: RedisServerProcess.liveTestsEnabled, "needs redis-server"))
    func staysReadyWhenRedisGoesAwayAfterJoining() async throws {
        let server = try await RedisServerProcess.start()
        var redis = server.configuration
        redis.reconnectInitialDelay = .milliseconds(20)
        redis.reconnectMaxDelay = .milliseconds(200)
        try await withDashboardNode(redis: redis) { node, port in
            try await waitUntilReady("redis connected", timeout: .seconds(5)) {
                node.readiness.ready ? nil : "\(node.readiness.body)"
            }
            server.kill()
            try await waitUntilReady("redis seen down", timeout: .seconds(5)) {
                node.health["status"] == "degraded" ? nil : "\(node.health)"
            }
            let ready = try await RawHTTP.get("/ready", port: port)
            #expect(ready.status == 200, "\(ready.raw)")
            #expect(try JSONValue(parsing: ready.body) == .object(["listening": true, "redis": "unreachable", "status": "ready"]))
        }
    }

    @Test(.enabled(if: RedisServerProcess.liveTestsEnabled, "needs redis-server"))
    func clusterPayloadCarriesEveryNodeAndTotals() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.kill() }
        try await withDashboardNode(id: "node-a", redis: redis.configuration) { a, portA in
            try await withDashboardNode(id: "node-b", redis: redis.configuration) { b, portB in
                let ready = try await RawHTTP.get("/ready", port: portA)
                #expect(ready.status == 200, "\(ready.raw)")
                let watcher = try await DashboardClient.connect(port: portA, room: "dashboard")
                let other = try await RawSocketIOClient.open(port: portB, group: MultiThreadedEventLoopGroup.singleton)
                try await other.connect(auth: #"{"room":"chat"}"#)
                let stats = try await watcher.stats(until: { stats in
                    stats["nodes"]?.arrayValue?.compactMap { $0["node"]?.stringValue } == ["node-a", "node-b"]
                        && stats["totals"]?["sessions"] == .int(2)
                })
                let nodes = try #require(stats["nodes"]?.arrayValue)
                #expect(nodes.map { $0["redis"] } == ["connected", "connected"])
                #expect(nodes.map { $0["sessions"] } == [.int(1), .int(1)])
                #expect(stats["totals"]?["nodes"] == .int(2))
                #expect(stats["totals"]?["sockets"]?["/"] == .int(2))
                #expect(stats["totals"]?["rooms"] == .int(2))
                _ = b
            }
            _ = a
        }
    }
}

/// A socket in a room of the node's choosing, reading `dashboard:*` events.
struct DashboardClient {
    let client: RawSocketIOClient

    static func connect(port: Int, room: String) async throws -> DashboardClient {
        let client = try await RawSocketIOClient.open(port: port, group: MultiThreadedEventLoopGroup.singleton)
        try await client.connect(auth: JSONValue.object(["room": .string(room)]).jsonString)
        return DashboardClient(client: client)
    }

    /// The first argument of the next `event`, skipping other events; each read is bounded.
    func next(event: String, maxFrames: Int = 100) async throws -> JSONValue {
        for _ in 0..<maxFrames {
            let text = try await client.nextText(timeout: .seconds(5))
            guard text.hasPrefix("42[") else { continue }
            let packet = try JSONValue(parsing: String(text.dropFirst(2)))
            if packet[0] == .string(event) { return packet[1] ?? .null }
        }
        throw TestFailure("no \(event) in \(maxFrames) frames")
    }

    /// Reads `dashboard:stats` payloads until one satisfies `done` (at most 60, i.e. a few seconds at 100 ms).
    func stats(until done: (JSONValue) -> Bool) async throws -> JSONValue {
        var last: JSONValue = .null
        for _ in 0..<60 {
            last = try await next(event: "dashboard:stats")
            if done(last) { return last }
        }
        throw TestFailure("no matching dashboard:stats; last: \(last.jsonString)")
    }
}

/// A node with a 100 ms dashboard whose clients join the room named in their CONNECT auth; always stopped.
private func withDashboardNode(
    id: String = "node-1", api: Bool = false, redis: RedisConfiguration? = nil,
    _ body: (HeraldNode, Int) async throws -> Void
) async throws {
    var logger = Logger(label: "dashboard-test")
    logger.logLevel = .critical
    var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 2, preDrainDelay: .zero, drainWindow: .zero, drainTimeout: .seconds(1))
    configuration.dashboard = DashboardConfiguration(interval: .milliseconds(100), nodeID: id)
    configuration.redis = redis
    if api { configuration.publishing = PublishingConfiguration(apiPort: 0, apiKey: PublishingAPILiveTests.key) }
    let node = HeraldNode(configuration: configuration, logger: logger)
    node.io.use { socket in
        if let room = socket.handshake.auth["room"]?.stringValue { socket.join(room) }
    }
    try await withRunningNode(node, body)
}
