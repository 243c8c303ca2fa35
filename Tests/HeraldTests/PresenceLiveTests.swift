import Foundation
import Herald
import HeraldTesting
import SocketIOProtocol
import Testing

/// Presence and the server API across two live `herald serve` nodes sharing redis-server, with python-socketio
/// clients connected straight to each node.
@Suite(.serialized) struct PresenceLiveTests {
    static let secret = "presence-live-test-secret-32-bytes"
    static let rules = #"""
        {"auth": {"rooms": [
          {"pattern": "doc:{id}", "presence": true, "allow": [{"authenticated": true}]},
          {"pattern": "news", "allow": [{"claim": "role", "equals": "admin"}]}
        ]}}
        """#
    /// Small, so a killed node's members leave within seconds.
    static let nodeTimeout = 1500

    /// Two nodes with the rules above, stopped whatever `body` does.
    static func withPresenceCluster(extra: [String] = [], nodeTimeout: Int = nodeTimeout,
                                    _ body: (ClusterFixture) async throws -> Void) async throws {
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("herald-presence-\(UUID().uuidString).json")
        try rules.write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }
        try await withCluster(nodeArguments: [
            "--jwt-secret", secret, "--config", config.path, "--presence-node-timeout", "\(nodeTimeout)", "--max-rooms", "3",
        ] + extra, body)
    }

    static func auth(_ sub: String, name: String) async throws -> JSONValue {
        ["token": .string(try await TokenSigner.hs256(secret: secret, claims: ["sub": .string(sub), "name": .string(name)], ttl: .seconds(600)))]
    }

    /// Connects `name` as `sub` to `node` and subscribes it to `room`.
    static func join(_ fixture: ClusterFixture, _ name: String, sub: String, node: HeraldNodeProcess, room: String) async throws {
        _ = try await fixture.agent.connect(name, url: node.url, transport: "websocket", auth: try await auth(sub, name: sub.capitalized))
        let answer = try await fixture.agent.call(name, "subscribe", ["room": .string(room)])
        #expect(answer == ["ok": true], "\(name): \(answer)")
    }

    static func member(_ sub: String) -> JSONValue { ["sub": .string(sub), "claims": ["name": .string(sub.capitalized)]] }

    @Test func presenceAcrossTwoNodesCountsUsersNotTabs() async throws {
        try await Self.withPresenceCluster { fixture in
            let (a, b) = (fixture.nodes[0], fixture.nodes[1])
            let agent = fixture.agent
            try await Self.join(fixture, "bob", sub: "bob", node: b, room: "doc:1")
            // A member hears its own join too (as with Phoenix.Presence): the room's view, the same for everyone in it.
            #expect(try await agent.next("bob", event: "presence:join") == [["room": "doc:1", "member": Self.member("bob")]])
            try await Self.join(fixture, "alice-1", sub: "alice", node: a, room: "doc:1")
            #expect(try await agent.next("bob", event: "presence:join") == [["room": "doc:1", "member": Self.member("alice")]])
            // The second tab, on the other node, is no join: bob's node decides it, so bob's presence:get after it
            // is answered after any join it would have sent.
            try await Self.join(fixture, "alice-2", sub: "alice", node: b, room: "doc:1")
            let seen = try await agent.call("bob", "presence:get", ["room": "doc:1"])
            #expect(seen == [
                "ok": true, "room": "doc:1", "users": 2, "connections": 3, "truncated": false,
                "members": [Self.member("alice"), Self.member("bob")],
            ])
            #expect(try await agent.call("received", ["name": "bob", "event": "presence:join"])["args"]?.arrayValue?.count == 2)

            // The same answer from the API of either node.
            for node in [a, b] {
                let api = try await fixture.api(node, "GET", "/api/rooms/doc:1/presence")
                #expect(api.status == 200, "\(api.raw)")
                #expect(try JSONValue(parsing: api.body)["users"] == 2)
            }
            // One tab closing leaves alice present; the last one makes her leave, once.
            try await agent.call("close", ["name": "alice-1"])
            try await agent.call("close", ["name": "alice-2"])
            #expect(try await agent.next("bob", event: "presence:leave") == [["room": "doc:1", "member": Self.member("alice")]])
            let after = try await agent.call("bob", "presence:get", ["room": "doc:1"])
            #expect(after["users"] == 1 && after["connections"] == 1, "\(after)")
            #expect(try await agent.call("received", ["name": "bob", "event": "presence:leave"])["args"]?.arrayValue?.count == 1)
            // A room without presence, and one the socket is not in, answer errors.
            #expect(try await agent.call("bob", "presence:get", ["room": "doc:2"])["error"]?["code"] == "forbidden")
            #expect(try await agent.call("bob", "presence:get", ["room": "news"])["error"]?["code"] == "invalid_room")
        }
    }

    @Test func aKilledNodesUsersLeaveWithinTheBound() async throws {
        try await Self.withPresenceCluster { fixture in
            let (a, b) = (fixture.nodes[0], fixture.nodes[1])
            try await Self.join(fixture, "bob", sub: "bob", node: b, room: "doc:7")
            _ = try await fixture.agent.next("bob", event: "presence:join")
            try await Self.join(fixture, "alice", sub: "alice", node: a, room: "doc:7")
            #expect(try await fixture.agent.next("bob", event: "presence:join") == [["room": "doc:7", "member": Self.member("alice")]])
            let killed = ContinuousClock.now
            await a.process.kill()
            let leave = try await fixture.agent.next("bob", event: "presence:leave", timeout: .seconds(10))
            let waited = ContinuousClock.now - killed
            #expect(leave == [["room": "doc:7", "member": Self.member("alice")]])
            // The bound: the timeout, plus a heartbeat period (a third of it) for some node to notice, plus slack.
            #expect(waited < .milliseconds(Self.nodeTimeout * 2 + 1000), "left after \(waited)")
            let presence = try JSONValue(parsing: try await fixture.api(b, "GET", "/api/rooms/doc:7/presence").body)
            #expect(presence["users"] == 1 && presence["connections"] == 1, "\(presence)")
            let stats = try JSONValue(parsing: try await fixture.api(b, "GET", "/api/stats").body)
            #expect(stats["total"]?["users"] == 1, "\(stats)")
        }
    }

    @Test func presenceSurvivesAFlushOfRedisScripts() async throws {
        try await Self.withPresenceCluster { fixture in
            let (a, b) = (fixture.nodes[0], fixture.nodes[1])
            let agent = fixture.agent
            try await Self.join(fixture, "bob", sub: "bob", node: b, room: "doc:3")
            _ = try await agent.next("bob", event: "presence:join")
            // The scripts are cached by now; the nodes call them by EVALSHA and must send them again.
            let flushed = try await tcpExchange("CONFIG RESETSTAT\r\nSCRIPT FLUSH\r\nQUIT\r\n", port: fixture.redisPort)
            #expect(flushed.hasPrefix("+OK\r\n+OK\r\n"), "\(flushed.debugDescription)")
            try await Self.join(fixture, "alice", sub: "alice", node: a, room: "doc:3")
            #expect(try await agent.next("bob", event: "presence:join") == [["room": "doc:3", "member": Self.member("alice")]])
            let seen = try await agent.call("bob", "presence:get", ["room": "doc:3"])
            #expect(seen["users"] == 2 && seen["connections"] == 2, "\(seen)")
            try await agent.call("close", ["name": "alice"])
            #expect(try await agent.next("bob", event: "presence:leave") == [["room": "doc:3", "member": Self.member("alice")]])
            // EVALSHA was refused once per script and node at most, and EVAL sent the scripts again.
            let stats = try await tcpExchange("INFO commandstats\r\nQUIT\r\n", port: fixture.redisPort)
            func calls(_ command: String) -> Int {
                guard let line = stats.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_\(command):") }),
                      let field = line.split(separator: ",").first(where: { $0.hasPrefix("cmdstat_\(command):calls=") })
                else { return 0 }
                return Int(field.split(separator: "=").last ?? "") ?? 0
            }
            #expect(calls("eval") >= 1 && calls("evalsha") > calls("eval"), "\(stats)")
        }
    }

    @Test func aNodePutsItsPresenceRightWhenRedisIsBack() async throws {
        // A long node timeout: no node is reaped during the outage, so only the nodes asserting their own share
        // can put the room right.
        try await Self.withPresenceCluster(nodeTimeout: 30_000) { fixture in
            let (a, b) = (fixture.nodes[0], fixture.nodes[1])
            let agent = fixture.agent
            try await Self.join(fixture, "bob", sub: "bob", node: b, room: "doc:5")
            _ = try await agent.next("bob", event: "presence:join")
            try await Self.join(fixture, "alice", sub: "alice", node: a, room: "doc:5")
            #expect(try await agent.next("bob", event: "presence:join") == [["room": "doc:5", "member": Self.member("alice")]])
            // Redis comes back with what it held (saved now, loaded at the restart), alice still present in it.
            #expect(try await tcpExchange("SAVE\r\nQUIT\r\n", port: fixture.redisPort).hasPrefix("+OK"))
            await fixture.redis?.kill()
            try await agent.call("close", ["name": "alice"])
            // Node A has seen alice go (its change to Redis failed) before Redis is back.
            #expect(await eventually { (try? await fixture.health(a))?["sessions"] == 0 })
            try await fixture.startRedis()
            #expect(try await agent.next("bob", event: "presence:leave", timeout: .seconds(10)) == [["room": "doc:5", "member": Self.member("alice")]])
            let presence = try JSONValue(parsing: try await fixture.api(b, "GET", "/api/rooms/doc:5/presence").body)
            #expect(presence["users"] == 1 && presence["connections"] == 1, "\(presence)")
        }
    }

    @Test func theServerAPISubscribesAndDisconnectsAUserOnEveryNode() async throws {
        try await Self.withPresenceCluster { fixture in
            let (a, b) = (fixture.nodes[0], fixture.nodes[1])
            let agent = fixture.agent
            _ = try await agent.connect("alice-a", url: a.url, transport: "websocket", auth: try await Self.auth("alice", name: "Alice"))
            _ = try await agent.connect("alice-b", url: b.url, transport: "polling", auth: try await Self.auth("alice", name: "Alice"))

            // news is an admin room by the rules; the backend may put anyone in it, within the room cap (3).
            let subscribed = try await fixture.api(b, "POST", "/api/users/alice/subscribe", #"{"rooms":["news","doc:9"]}"#)
            #expect(subscribed.status == 200, "\(subscribed.raw)")
            let answer = try JSONValue(parsing: subscribed.body)
            #expect(answer["connections"] == 2 && answer["sockets"]?.arrayValue?.allSatisfy { $0["ok"] == true } == true, "\(answer)")
            #expect(try await fixture.publish(via: a, room: "news", event: "headline", data: "extra").status == 202)
            #expect(try await agent.next("alice-a", event: "headline") == ["extra"])
            #expect(try await agent.next("alice-b", event: "headline") == ["extra"])
            let capped = try JSONValue(parsing: try await fixture.api(a, "POST", "/api/users/alice/subscribe", #"{"rooms":["doc:10","doc:11"]}"#).body)
            #expect(capped["sockets"]?.arrayValue?.allSatisfy { $0["refused"]?[0]?["error"]?["code"] == "too_many_rooms" } == true, "\(capped)")

            let user = try JSONValue(parsing: try await fixture.api(a, "GET", "/api/users/alice").body)
            #expect(user["connected"] == true && user["connections"] == 2, "\(user)")
            #expect(user["rooms"] == ["doc:10", "doc:9", "news"], "\(user)")
            let stats = try JSONValue(parsing: try await fixture.api(a, "GET", "/api/stats").body)
            #expect(stats["total"]?["connections"] == 2 && stats["total"]?["users"] == 1 && stats["total"]?["nodes"] == 2, "\(stats)")
            // Per node: alice's one connection, in user:alice, news, doc:9 and doc:10.
            #expect(stats["nodes"]?.arrayValue?.map { [$0["connections"], $0["rooms"], $0["users"]] } == [[1, 4, 1], [1, 4, 1]], "\(stats)")

            // The herald commands are the same calls.
            let listed = try JSONValue(parsing: try Self.herald(["users", "alice"], node: b))
            #expect(listed["connections"] == 2, "\(listed)")
            let kicked = try JSONValue(parsing: try Self.herald(["kick", "alice", "--reason", "account closed"], node: b))
            #expect(kicked == ["sub": "alice", "disconnected": 2], "\(kicked)")
            for name in ["alice-a", "alice-b"] {
                #expect(try await agent.next(name, event: "herald:disconnect") == [["reason": "account closed"]])
                let gone = try await agent.call("disconnected", ["name": .string(name)])
                #expect(gone["reason"]?.stringValue?.contains("server") == true, "\(name): \(gone)")
            }
            let after = try JSONValue(parsing: try await fixture.api(b, "GET", "/api/users/alice").body)
            #expect(after["connected"] == false, "\(after)")
            // The same key and error shape as the publish API.
            let refused = try await fixture.api(a, "GET", "/api/stats", key: "wrong")
            #expect(refused.status == 401, "\(refused.raw)")
            #expect(try JSONValue(parsing: refused.body)["error"] != nil, "\(refused.raw)")
            #expect(try await fixture.api(a, "GET", "/api/rooms/news/presence").status == 404)
        }
    }
}

extension PresenceLiveTests {
    /// Runs `herald ARGUMENTS --url … --key …` against the node's API and returns what it printed.
    static func herald(_ arguments: [String], node: HeraldNodeProcess) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(ClusterLiveEnvironment.herald))
        process.arguments = arguments + ["--url", "http://127.0.0.1:\(node.apiPort)", "--key", ClusterFixture.apiKey]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "herald \(arguments): \(text)")
        return text
    }
}

extension ClusterFixture {
    /// One request to the node's API listener with the fixture's key.
    func api(_ node: HeraldNodeProcess, _ method: String, _ path: String, _ body: String = "", key: String = ClusterFixture.apiKey) async throws -> RawHTTP.Response {
        let request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(node.apiPort)\r\nConnection: close\r\n"
            + "Authorization: Bearer \(key)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        return try await RawHTTP.exchange(request, port: node.apiPort)
    }
}
