import HeraldTesting
import Foundation
import SocketIOProtocol
import Testing

/// The deployment, live: redis-server, two `herald serve` nodes sharing rooms through it, and nginx in front
/// (deploy/nginx/herald.conf, read timeout cut to 3 s), driven by python-socketio clients. Every process is
/// started here; `scripts/test.sh` installs them and builds `herald`. In CI a missing one fails the suite.
@Suite(.serialized, .enabled(if: ClusterLiveEnvironment.missing.isEmpty || TestEnvironment.isCI,
                              "needs redis-server, nginx, HERALD_TEST_PYTHON and a built herald: run scripts/test.sh"))
struct ClusterLiveTests {
    init() {
        // Under CI the suite runs even with something missing, so that it fails here, loudly.
        let missing = ClusterLiveEnvironment.missing
        if !missing.isEmpty { Issue.record("missing for the cluster tests: \(missing.joined(separator: ", "))") }
    }

    /// A client behind nginx lands on one node; an event published through the other node's API reaches it.
    @Test("cross-node publish through nginx", arguments: ["websocket", "polling"])
    func crossNodePublish(transport: String) async throws {
        try await withCluster { cluster in
            let agent = cluster.agent
            // Every socket is in the room named by its own id: publishing to it addresses exactly one client.
            let sid = try await agent.connect("behind-nginx", url: cluster.nginxURL, transport: transport)
            let (home, other) = try await cluster.homeAndOther()

            let data: JSONValue = ["via": .string(other.name), "transport": .string(transport)]
            let answer = try await cluster.publish(via: other, room: sid, event: "news", data: data)
            #expect(answer.status == 202, "publish via \(other.name): \(answer.raw)")
            #expect(try await agent.next("behind-nginx", event: "news") == [data])

            // And the other way round: a client straight on the other node, published through the home node.
            let direct = try await agent.connect("direct", url: other.url, transport: transport)
            let back: JSONValue = ["via": .string(home.name)]
            let backAnswer = try await cluster.publish(via: home, room: direct, event: "news", data: back)
            #expect(backAnswer.status == 202, "publish via \(home.name): \(backAnswer.raw)")
            #expect(try await agent.next("direct", event: "news") == [back])
        }
    }

    /// nginx drops a proxied connection after `proxy_read_timeout` without upstream data. With the heartbeat
    /// more frequent than that, idle clients outlive it; the control node, pinging every 8 s, is cut at 3 s.
    @Test("heartbeat keeps idle clients alive through nginx's read timeout")
    func heartbeatOutlivesReadTimeout() async throws {
        try await withCluster(slowNode: true) { cluster in
            let agent = cluster.agent
            var sids: [String: String] = [:]
            for transport in ["websocket", "polling"] {
                sids["idle-\(transport)"] = try await agent.connect("idle-\(transport)", url: cluster.nginxURL, transport: transport)
                _ = try await agent.connect("control-\(transport)", url: cluster.slowNginxURL, transport: transport)
            }
            let idleSince = ContinuousClock.now

            // The control: cut by nginx (bounded well below the 8 s + 8 s the heartbeat would need to notice).
            for transport in ["websocket", "polling"] {
                let cut = try await agent.call("disconnected", ["name": .string("control-\(transport)")], timeout: .seconds(7))
                #expect(cut["reason"] != nil, "control-\(transport): \(cut)")
            }
            #expect(cluster.nginxErrorLog(slow: true).contains("upstream timed out"),
                    "nginx did not log the read timeout:\n\(cluster.nginxErrorLog(slow: true))")

            // Staying idle for twice the read timeout is the point here: no event marks "long enough".
            try await Task.sleep(until: idleSince + .seconds(2 * ClusterFixture.readTimeout), clock: .continuous)
            let (_, other) = try await cluster.homeAndOther(sessions: 2)
            for (name, sid) in sids.sorted(by: { $0.key < $1.key }) {
                let state = try await agent.call("state", ["name": .string(name)])
                #expect(state["connected"] == true, "\(name): \(state)")
                #expect(state["sid"]?.stringValue == sid, "\(name) has a new session: \(state)")
                #expect(state["disconnects"] == [], "\(name): \(state)")
                let data: JSONValue = ["after": "idle"]
                let answer = try await cluster.publish(via: other, room: sid, event: "still-there", data: data)
                #expect(answer.status == 202, "\(answer.raw)")
                #expect(try await agent.next(name, event: "still-there") == [data])
            }
            #expect(!cluster.nginxErrorLog(slow: false).contains("upstream timed out"),
                    "the main nginx timed out a connection:\n\(cluster.nginxErrorLog(slow: false))")
        }
    }

    /// Redis down: the nodes say "degraded" and local delivery goes on; Redis back on the same port: "ok" again
    /// and events cross nodes again, to the same, still connected client.
    @Test("Redis down: degraded, local delivery continues; back: cross-node again")
    func redisDownAndBack() async throws {
        try await withCluster { cluster in
            let agent = cluster.agent
            let sid = try await agent.connect("watcher", url: cluster.nginxURL, transport: "websocket")
            let (home, other) = try await cluster.homeAndOther()
            let before: JSONValue = ["phase": "before"]
            #expect(try await cluster.publish(via: other, room: sid, event: "news", data: before).status == 202)
            #expect(try await agent.next("watcher", event: "news") == [before])

            await cluster.killRedis()
            try await cluster.waitForHealth("degraded")

            // Through the other node the event cannot reach the client; through its home node it still does.
            let lost: JSONValue = ["phase": "during, via the other node"]
            let lostAnswer = try await cluster.publish(via: other, room: sid, event: "news", data: lost, idempotencyKey: "retry-1")
            let during: JSONValue = ["phase": "during"]
            let answer = try await cluster.publish(via: home, room: sid, event: "news", data: during)
            #expect(try await agent.next("watcher", event: "news") == [during])
            // The API does not pretend: 503, and it says this node's members were served (docs/publishing.md).
            for (node, answer) in [(other, lostAnswer), (home, answer)] {
                let body = try? JSONValue(parsing: answer.body)
                #expect(answer.status == 503, "publish via \(node.name) with Redis down: \(answer.raw)")
                #expect(body?["delivered"] == "local" && body?["error"]?.stringValue != nil, "via \(node.name): \(answer.body)")
            }

            try await cluster.startRedis()
            try await cluster.waitForHealth("ok")
            // The documented retry of the 503 with the same key is delivered, not taken for a repeat.
            let retry = try await cluster.publish(via: other, room: sid, event: "news", data: lost, idempotencyKey: "retry-1")
            #expect(retry.status == 202, "\(retry.raw)")
            #expect(try await agent.next("watcher", event: "news") == [lost])
            let after: JSONValue = ["phase": "after"]
            #expect(try await cluster.publish(via: other, room: sid, event: "news", data: after).status == 202)
            #expect(try await agent.next("watcher", event: "news") == [after])
            let state = try await agent.call("state", ["name": "watcher"])
            #expect(state["sid"]?.stringValue == sid && state["disconnects"] == [], "\(state)")
        }
    }

    /// With recovery on, every node receives a Redis envelope and delivers it to its own members without
    /// logging it: a member on each node gets it once, not once per node (docs/publishing.md).
    @Test("Redis envelope with recovery on: once per member on each node")
    func envelopeWithRecoveryReachesEachMemberOnce() async throws {
        try await withCluster(nodeArguments: ["--recovery-window", "60000"]) { cluster in
            let agent = cluster.agent
            var sids: [String] = []
            for (index, node) in cluster.nodes.enumerated() {
                sids.append(try await agent.connect("member\(index)", url: node.url, transport: "websocket"))
            }
            let envelope = JSONValue.object(["rooms": .array(sids.map { .string($0) }), "event": "envelope", "data": 1]).jsonString
            let command = ["PUBLISH", "herald:publish", envelope].reduce("*3\r\n") { $0 + "$\($1.utf8.count)\r\n\($1)\r\n" }
            #expect(try await tcpExchange(command + "*1\r\n$4\r\nQUIT\r\n", port: cluster.redisPort).hasPrefix(":2\r\n"))
            for (index, sid) in sids.enumerated() {
                #expect(try await agent.next("member\(index)", event: "envelope") == [1])
                // Logged and fanned out after the envelope: a copy from the other node would come before it.
                #expect(try await cluster.publish(via: cluster.nodes[0], room: sid, event: "marker", data: 2).status == 202)
                #expect(try await agent.next("member\(index)", event: "marker").first == 2)
                let received = try await agent.call("received", ["name": .string("member\(index)"), "event": "envelope"])
                #expect(received["args"]?.arrayValue?.count == 1, "member\(index): \(received)")
            }
        }
    }
}
