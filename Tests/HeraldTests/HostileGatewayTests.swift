import Foundation
@testable import Herald
import Logging
import HeraldTesting
import NIOPosix
import SocketIO
import SocketIOProtocol
import Testing

/// Attacks on the gateway by clients on real sockets against a running node: each checks the answer, that the
/// node is still up and that a fresh client still connects.
@Suite struct HostileGatewayTests {
    let auth = AuthLiveTests()

    func expectFreshClientConnects(_ port: Int) async throws {
        let client = try await auth.client(port)
        let sid = try await client.connect(auth: AuthLiveTests.authJSON(try await AuthLiveTests.token(sub: "fresh")))
        #expect(!sid.isEmpty)
        await client.disconnectTransport()
    }

    /// A validly signed token whose NumericDates are in milliseconds used to trap in the expiry timer.
    @Test func millisecondClaimsAreRefusedNotTrapped() async throws {
        try await auth.withNode { node, port in
            let refusal = { (name: String) in
                #"44{"message":"\#(name) 1700000000000 is after the year 9999: NumericDates are seconds since 1970, not milliseconds","data":{"code":"token_invalid"}}"#
            }
            for name in ["exp", "nbf", "iat"] {
                let client = try await auth.client(port)
                client.send("40" + AuthLiveTests.authJSON(try await AuthLiveTests.token([name: .int(1_700_000_000_000)])))
                #expect(try await client.nextText() == refusal(name))
                await client.disconnectTransport()
            }
            // At the far edge of what is accepted, the timer saturates instead of trapping.
            let client = try await auth.client(port)
            try await client.connect(auth: AuthLiveTests.authJSON(try await AuthLiveTests.token(["exp": .int(253_402_300_799)])))
            client.emit("refresh", #"{"token":"\#(try await AuthLiveTests.token(["exp": .int(1_700_000_000_000)]))"}"#, ackID: 1)
            #expect(try await client.nextText() == #"431[{"ok":false,"error":{"code":"token_invalid","message":"exp 1700000000000 is after the year 9999: NumericDates are seconds since 1970, not milliseconds"}}]"#)
            client.emit("refresh", #"{"token":"\#(try await AuthLiveTests.token(["exp": .double(253_402_300_000.5)]))"}"#, ackID: 2)
            #expect(try await client.nextText() == #"432[{"ok":true}]"#)
            try await expectFreshClientConnects(port)
            #expect(node.auth?.stats.refused == [.tokenInvalid: 3])
        }
    }
}

/// Chat abuse: texts huge in bytes but short in characters, history pages huge in bytes, repeated and
/// countless joins, over-long room names.
@Suite struct HostileChatTests {
    @Test func chatIsBoundedInBytesAndRooms() async throws {
        let chat = try await ChatTestNode.start(historyOnJoin: 50, chat: { chat in
            chat.maxMessageBytes = 1_000
            chat.historyMaxBytes = 3_000
            chat.maxRooms = 3
        })
        do {
            let client = try await chat.client()
            try await client.join("chat:a")
            // One character, 60 001 bytes: refused by its bytes, nothing stored or broadcast.
            let marks = try await client.send("chat:a", "a" + String(repeating: "\u{301}", count: 30_000))
            #expect(marks == ["ok": false, "error": ["code": "text_too_long", "message": "text is longer than 1000 bytes"]])
            for index in 0..<10 {
                let ack = try await client.send("chat:a", "\(index)" + String(repeating: "x", count: 899))
                #expect(ack["ok"] == true, "\(ack)")
                _ = try await client.next("chat:message")
            }
            // The history on join and the API page stop at 3 000 bytes (two of these messages) and page on.
            let reader = try await chat.client()
            try await reader.join("chat:a")
            let history = try await reader.next("chat:history")
            let onJoin = try #require(history["messages"]?.arrayValue)
            #expect(onJoin.count == 2 && onJoin.map(\.jsonString.utf8.count).reduce(0, +) <= 3_000, "\(onJoin.count)")
            #expect(history["next"] == onJoin.first?["id"])
            let (status, page) = try await chat.get("/api/rooms/chat:a/messages?limit=200")
            #expect(status == 200)
            #expect(page["messages"]?.arrayValue?.count == 2)
            let older = try await chat.get("/api/rooms/chat:a/messages?before=\(try #require(page["next"]?.stringValue))")
            #expect(older.body["messages"]?.arrayValue?.count == 2)

            // A repeated join is acknowledged without a second history.
            try await reader.join("chat:a")
            _ = try await reader.send("chat:a", "after the repeat")
            _ = try await reader.next("chat:message")
            #expect(reader.keptCount("chat:history") == 0)

            // Rooms per socket: three chat rooms at most; an over-long or control-character name is refused.
            try await reader.join("chat:b")
            try await reader.join("chat:c")
            let fourth = try await reader.emitWithAck("chat:join", ["room": "chat:d"])
            #expect(fourth.errorCode == "too_many_rooms", "\(fourth)")
            let long = try await reader.emitWithAck("chat:join", ["room": .string("chat:" + String(repeating: "A", count: 70_000))])
            #expect(long.errorCode == "invalid_room", "\(long)")
            let control = try await reader.emitWithAck("chat:join", ["room": "chat:\n2026-01-01 forged"])
            #expect(control.errorCode == "invalid_room", "\(control)")
            let sockets = chat.node.io.sockets.sockets
            #expect(sockets.allSatisfy { $0.rooms.count <= 4 }, "\(sockets.map(\.rooms))")

            let fresh = try await chat.client()
            try await fresh.join("chat:a")
            await fresh.close()
            await client.close()
            await reader.close()
        } catch {
            try await chat.stop()
            throw error
        }
        try await chat.stop()
    }
}

/// Connection state recovery with auth on: a recovery is a connection, and gets nothing a new one would not.
@Suite struct HostileRecoveryTests {
    let auth = AuthLiveTests()
    static let token = AuthLiveTests.token
    static let authJSON = AuthLiveTests.authJSON

    /// Connects with `auth` (JSON object text) and returns the reply's sid and pid.
    static func connect(_ client: RawSocketIOClient, _ auth: String) async throws -> (sid: String, pid: String) {
        client.send("40" + auth)
        let reply = try await client.nextText()
        return (try #require(reply.jsonStringField("sid"), "\(reply)"), try #require(reply.jsonStringField("pid"), "\(reply)"))
    }

    /// `auth` with `pid` added, as a client coming back sends it.
    static func returning(_ token: String?, pid: String) -> String {
        token.map { #"{"token":"\#($0)","pid":"\#(pid)"}"# } ?? #"{"pid":"\#(pid)"}"#
    }

    @Test func recoveryNeedsAValidTokenForTheSameUserAndStillGrantedRooms() async throws {
        try await auth.withNode(limits: ConnectionLimits(maxRooms: 2), recovery: ConnectionStateRecovery()) { node, port in
            let gone = Mailbox<String>("disconnects")
            node.io.sockets.onConnection { socket in socket.onDisconnect { _ in gone.send(socket.id) } }
            let orders: JSONObject = ["orders": ["1", "2", "3"]]

            /// A connected socket holding order:1 and a grant's support:7, then cut off: its sid and pid.
            func away() async throws -> (sid: String, pid: String) {
                let client = try await auth.client(port)
                let (sid, pid) = try await Self.connect(client, Self.authJSON(try await Self.token(orders, "alice", 600)))
                client.emit("subscribe", #"{"room":"order:1"}"#, ackID: 1)
                #expect(try await client.nextText() == #"431[{"ok":true}]"#)
                let grant = try await Self.token(["room": "support:7", "token_use": "subscribe"], "alice", 60)
                client.emit("subscribe", #"{"room":"support:7","token":"\#(grant)"}"#, ackID: 2)
                #expect(try await client.nextText() == #"432[{"ok":true}]"#)
                await client.disconnectTransport()
                #expect(try await gone.next() == sid)
                return (sid, pid)
            }

            // No token: not recovered, and a new session without a token is refused.
            var (sid, pid) = try await away()
            var client = try await auth.client(port)
            client.send("40" + Self.returning(nil, pid: pid))
            #expect(try await client.nextText().hasPrefix(#"44{"message":"authentication required"#))
            // An expired token: the same.
            (sid, pid) = try await away()
            client = try await auth.client(port)
            client.send("40" + Self.returning(try await Self.token(orders, "alice", -3600), pid: pid))
            #expect(try await client.nextText().hasPrefix(#"44{"message":"the token expired"#))
            // Another user's valid token: a new session for that user.
            (sid, pid) = try await away()
            client = try await auth.client(port)
            var reply = try await Self.connect(client, Self.returning(try await Self.token(orders, "bob", 600), pid: pid))
            #expect(reply.sid != sid)
            #expect(node.io.sockets.socket(id: reply.sid)?.rooms == [reply.sid, "user:bob"])
            // Claims that no longer grant order:1: a new session, not a socket still in order:1.
            (sid, pid) = try await away()
            client = try await auth.client(port)
            reply = try await Self.connect(client, Self.returning(try await Self.token(["orders": ["2"]], "alice", 600), pid: pid))
            #expect(reply.sid != sid)
            #expect(node.io.sockets.socket(id: reply.sid)?.rooms == [reply.sid, "user:alice"])

            // A valid token whose claims still grant everything: recovered, with the new claims and the missed event.
            (sid, pid) = try await away()
            node.io.to("order:1").emit("order:updated", "while away")
            client = try await auth.client(port)
            reply = try await Self.connect(client, Self.returning(try await Self.token(["orders": ["1", "2", "3"], "tier": "gold"], "alice", 600), pid: pid))
            #expect(reply.sid == sid)
            #expect(try await client.nextText().hasPrefix(#"42["order:updated","while away","#))
            let socket = try #require(node.io.sockets.socket(id: sid))
            #expect(socket.recovered)
            #expect(socket.data["claims"]?["tier"] == "gold")
            #expect(socket.rooms == [sid, "user:alice", "order:1", "support:7"])
            // The restored rooms still count: two is the cap here.
            client.emit("subscribe", #"{"room":"order:2"}"#, ackID: 3)
            #expect(try await client.nextText() == #"433[{"ok":false,"error":{"code":"too_many_rooms","message":"at most 2 rooms per connection"}}]"#)

            let stats = try #require(node.auth).stats
            #expect(stats.recovered == 1)
            #expect(stats.recoveryRefused == 4)
            let fresh = try await auth.client(port)
            #expect(try await Self.connect(fresh, Self.authJSON(try await Self.token([:], "fresh", 600))).sid != sid)
        }
    }

    /// A subscription grant opens no connection and refreshes none; an access token is no grant.
    @Test func grantsAndAccessTokensAreNotInterchangeable() async throws {
        try await auth.withNode { node, port in
            let grant = try await Self.token(["room": "support:7", "token_use": "subscribe"], "alice", 60)
            let refused = try await auth.client(port)
            refused.send("40" + Self.authJSON(grant))
            #expect(try await refused.nextText() == #"44{"message":"a subscription grant (token_use subscribe) cannot open a connection or refresh one","data":{"code":"token_invalid"}}"#)

            let client = try await auth.client(port)
            try await client.connect(auth: Self.authJSON(try await Self.token([:], "alice", 600)))
            client.emit("refresh", #"{"token":"\#(grant)"}"#, ackID: 1)
            #expect(try await client.nextText() == #"431[{"ok":false,"error":{"code":"token_invalid","message":"a subscription grant (token_use subscribe) cannot open a connection or refresh one"}}]"#)
            let access = try await Self.token(["room": "support:7", "token_use": "access"], "alice", 60)
            client.emit("subscribe", #"{"room":"support:7","token":"\#(access)"}"#, ackID: 2)
            #expect(try await client.nextText() == #"432[{"ok":false,"error":{"code":"token_invalid","message":"subscription token: not a subscription grant (token_use subscribe)"}}]"#)
            client.emit("subscribe", #"{"room":"support:7","token":"\#(grant)"}"#, ackID: 3)
            #expect(try await client.nextText() == #"433[{"ok":true}]"#)
            #expect(node.auth?.stats.refused == [.tokenInvalid: 1])
        }
    }
}

@Suite struct GrantSettingTests {
    @Test func untypedGrantsSettingAndDefault() throws {
        var configuration = HeraldConfiguration()
        #expect(configuration.auth.acceptUntypedGrants)
        try configuration.apply(["HERALD_JWT_UNTYPED_GRANTS": "0"])
        #expect(!configuration.auth.acceptUntypedGrants)
        #expect(throws: HeraldConfiguration.SettingError.self) { try configuration.apply(["HERALD_JWT_UNTYPED_GRANTS": "maybe"]) }
    }
}

/// Text a client chose (room and event names, user agents, ids) cannot forge or disguise a log line.
@Suite struct LogEscapingTests {
    @Test func clientTextCannotStartALineInEitherFormat() throws {
        let room = "chat:x\n2026-12-07T20:00:00.000Z critical herald: admin logged in\u{202E}\u{85}\\"
        let line = HeraldLogHandler.textLine(time: "T", level: .info, label: "herald", message: "joined \(room)",
                                       metadata: ["room": .string(room), "agent": "a\rb\u{1b}[31m"])
        #expect(line == #"T info herald: agent=a\rb\u{1b}[31m room=chat:x\n2026-12-07T20:00:00.000Z critical herald: admin logged in\u{202e}\u{85}\\ joined chat:x\n2026-12-07T20:00:00.000Z critical herald: admin logged in\u{202e}\u{85}\\"# + "\n")
        #expect(line.filter(\.isNewline).count == 1)
        let json = HeraldLogHandler.jsonEscape(room)
        #expect(json == #"chat:x\n2026-12-07T20:00:00.000Z critical herald: admin logged in\u202e\u0085\\"#)
        #expect(try JSONValue(parsing: "\"\(json)\"") == .string(room))
    }
}

/// `/metrics` tells outsiders the node's traffic and refusals: on the private API listener when it is on.
@Suite struct MetricsListenerTests {
    func withAPINode(_ listener: DashboardConfiguration.MetricsListener, _ body: (Int, Int) async throws -> Void) async throws {
        var logger = Logger(label: "metrics-listener-test")
        logger.logLevel = .critical
        var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, drainTimeout: .seconds(1))
        configuration.publishing = PublishingConfiguration(apiPort: 0, apiKey: "metrics-test-key")
        configuration.dashboard.metricsListener = listener
        configuration.dashboard.bootstrapMetricsSystem = false
        try await withRunningNode(HeraldNode(configuration: configuration, logger: logger)) { node, port in
            try await body(port, try #require(node.apiListeningAddress?.port))
        }
    }

    @Test func metricsMoveToTheAPIListenerUnlessKeptPublic() async throws {
        try await withAPINode(.automatic) { port, api in
            #expect(try await RawHTTP.get("/metrics", port: port).status == 404)
            let metrics = try await RawHTTP.get("/metrics", port: api)
            #expect(metrics.status == 200)
            #expect(metrics.body.contains("herald_sessions"), "\(metrics.body)")
        }
        try await withAPINode(.publicListener) { port, api in
            let onPublic = try await RawHTTP.get("/metrics", port: port)
            let onAPI = try await RawHTTP.get("/metrics", port: api)
            #expect(onPublic.status == 200)
            #expect(onAPI.status == 404)
        }
        var configuration = HeraldConfiguration()
        #expect(configuration.dashboard.metricsListener == .automatic)
        #expect(!configuration.dashboard.metricsOnAPIListener(apiEnabled: false))
        try configuration.apply(["HERALD_METRICS_LISTENER": "public"])
        #expect(configuration.dashboard.metricsListener == .publicListener)
        #expect(throws: HeraldConfiguration.SettingError.self) { try configuration.apply(["HERALD_METRICS_LISTENER": "private"]) }
    }
}
