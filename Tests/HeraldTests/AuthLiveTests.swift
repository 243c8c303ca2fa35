import Foundation
import Herald
import HeraldTesting
import Logging
import NIOPosix
import SocketIO
import SocketIOProtocol
import Testing

/// A HeraldNode with auth on a real port, driven by a raw websocket client that checks exact wire frames.
@Suite struct AuthLiveTests {
    static let secret = "live-test-secret-of-32-bytes-min"
    static let rules = #"""
        {"auth": {"rooms": [
          {"pattern": "order:{id}", "allow": [{"claim": "orders", "contains": "{id}"}]},
          {"pattern": "dashboard", "allow": [{"claim": "role", "equals": "admin"}]}
        ]}}
        """#

    static func token(_ claims: JSONObject = [:], sub: String = "alice", ttl: Int = 600) async throws -> String {
        var object: JSONObject = ["sub": .string(sub)]
        for (key, value) in claims { object[key] = value }
        return try await TokenSigner.hs256(secret: secret, claims: object, ttl: .seconds(ttl))
    }

    static func authJSON(_ token: String) -> String { #"{"token":"\#(token)"}"# }

    func withNode(limits: ConnectionLimits = ConnectionLimits(), leeway: Duration = .seconds(30),
                  recovery: ConnectionStateRecovery? = nil,
                  _ body: (HeraldNode, Int) async throws -> Void) async throws {
        var logger = Logger(label: "auth-live-test")
        logger.logLevel = .critical
        var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, preDrainDelay: .zero, drainWindow: .zero, drainTimeout: .seconds(1))
        configuration.auth = AuthConfiguration(hmacSecret: Self.secret, leeway: leeway, limits: limits)
        configuration.recovery = recovery
        try configuration.auth.applyFile(Self.rules)
        // These tests read every frame in order; dashboard:stats to the room `dashboard` would interleave.
        configuration.dashboard.enabled = false
        let node = HeraldNode(configuration: configuration, logger: logger)
        try await withRunningNode(node, body)
    }

    func client(_ port: Int) async throws -> RawSocketIOClient {
        try await RawSocketIOClient.open(port: port, group: MultiThreadedEventLoopGroup.singleton)
    }

    @Test func refusedHandshakesGetActionableConnectErrors() async throws {
        try await withNode { node, port in
            let cases: [(String, String)] = [
                ("", #"44{"message":"authentication required: send auth {token} or an Authorization: Bearer header","data":{"code":"token_missing"}}"#),
                (#"{"token":"garbage"}"#, #"44{"message":"the token is not a JWT (header.payload.signature)","data":{"code":"token_invalid"}}"#),
                (Self.authJSON(try await Self.token(ttl: -3600)),
                 #"44{"message":"the token expired; get a new one and reconnect or refresh","data":{"code":"token_expired"}}"#),
                (Self.authJSON(try await TokenSigner.hs256(secret: "another-secret-of-at-least-32-bytes", claims: ["sub": "alice"], ttl: .seconds(60))),
                 #"44{"message":"the token's signature does not verify","data":{"code":"token_invalid"}}"#),
            ]
            for (auth, expected) in cases {
                let client = try await client(port)
                client.send("40" + auth)
                #expect(try await client.nextText() == expected)
                await client.disconnectTransport()
            }
            let stats = try #require(node.auth).stats
            #expect(stats.refused == [.tokenMissing: 1, .tokenInvalid: 2, .tokenExpired: 1])
            #expect(stats.accepted == 0)
        }
    }

    @Test func acceptedSocketJoinsPersonalRoomWithClaimsInData() async throws {
        try await withNode { node, port in
            let client = try await client(port)
            let sid = try await client.connect(auth: Self.authJSON(try await Self.token(["role": "admin"])))
            let socket = try #require(node.io.sockets.socket(id: sid))
            #expect(socket.data["sub"] == "alice")
            #expect(socket.data["claims"]?["role"] == "admin")
            #expect(socket.rooms.contains("user:alice"))
            #expect(node.auth?.context(of: socket)?.subject == "alice")
            node.io.to("user:alice").emit("hello", "you")
            try await client.expectEvent("hello", #""you""#)
            #expect(node.auth?.stats.accepted == 1)
        }
    }

    @Test func subscribeFollowsRulesAndSubscriptionTokens() async throws {
        try await withNode(limits: ConnectionLimits(maxRooms: 2)) { node, port in
            let client = try await client(port)
            let sid = try await client.connect(auth: Self.authJSON(try await Self.token(["orders": ["123", "124", "125"]])))
            client.emit("subscribe", #"{"room":"order:123"}"#, ackID: 1)
            #expect(try await client.nextText() == #"431[{"ok":true}]"#)
            client.emit("subscribe", #"{"room":"order:999"}"#, ackID: 2)
            #expect(try await client.nextText() == #"432[{"ok":false,"error":{"code":"forbidden","message":"not allowed to subscribe to order:999"}}]"#)
            client.emit("subscribe", #"{"room":"dashboard"}"#, ackID: 3)
            #expect(try await client.nextText() == #"433[{"ok":false,"error":{"code":"forbidden","message":"not allowed to subscribe to dashboard"}}]"#)
            client.emit("subscribe", #"{"room":""}"#, ackID: 4)
            #expect(try await client.nextText() == #"434[{"ok":false,"error":{"code":"invalid_room","message":"room name is empty"}}]"#)
            client.emit("subscribe", #""order:123""#, ackID: 5)
            #expect(try await client.nextText() == #"435[{"ok":false,"error":{"code":"invalid_request","message":"send {room, token?}"}}]"#)

            // A backend-signed grant for a room no rule covers, for this user only.
            let grant = try await Self.token(["room": "support:ticket-7"], ttl: 60)
            client.emit("subscribe", #"{"room":"support:ticket-7","token":"\#(grant)"}"#, ackID: 6)
            #expect(try await client.nextText() == #"436[{"ok":true}]"#)
            let bobsGrant = try await Self.token(["rooms": ["support:ticket-8"]], sub: "bob", ttl: 60)
            client.emit("subscribe", #"{"room":"support:ticket-8","token":"\#(bobsGrant)"}"#, ackID: 7)
            #expect(try await client.nextText() == #"437[{"ok":false,"error":{"code":"forbidden","message":"the subscription token does not grant support:ticket-8 to this user"}}]"#)
            let expiredGrant = try await Self.token(["room": "support:ticket-9"], ttl: -3600)
            client.emit("subscribe", #"{"room":"support:ticket-9","token":"\#(expiredGrant)"}"#, ackID: 8)
            let expired = try await client.nextText()
            #expect(expired.hasPrefix(#"438[{"ok":false,"error":{"code":"token_expired""#), "\(expired)")

            // Two subscribed rooms is the limit here.
            client.emit("subscribe", #"{"room":"order:124"}"#, ackID: 9)
            #expect(try await client.nextText() == #"439[{"ok":false,"error":{"code":"too_many_rooms","message":"at most 2 rooms per connection"}}]"#)

            let socket = try #require(node.io.sockets.socket(id: sid))
            #expect(socket.rooms == [sid, "user:alice", "order:123", "support:ticket-7"])
            node.io.to("order:123").emit("order:updated", ["status": "shipped"])
            try await client.expectEvent("order:updated", #"{"status":"shipped"}"#)

            client.emit("unsubscribe", #"{"room":"order:123"}"#, ackID: 10)
            #expect(try await client.nextText() == #"4310[{"ok":true}]"#)
            client.emit("unsubscribe", #"{"room":"user:alice"}"#, ackID: 11)
            #expect(try await client.nextText() == #"4311[{"ok":false,"error":{"code":"invalid_room","message":"the personal room cannot be left"}}]"#)
            client.emit("subscribe", #"{"room":"order:124"}"#, ackID: 12)
            #expect(try await client.nextText() == #"4312[{"ok":true}]"#, "unsubscribing frees a slot")

            let stats = try #require(node.auth).stats
            #expect(stats.subscribed == 3)
            #expect(stats.subscribeRefused == [.forbidden: 3, .invalidRoom: 1, .invalidRequest: 1, .tokenExpired: 1, .tooManyRooms: 1])
        }
    }

    @Test func refreshKeepsTheConnectionAndRefusesAnotherUser() async throws {
        try await withNode(leeway: .zero) { node, port in
            let client = try await client(port)
            let sid = try await client.connect(auth: Self.authJSON(try await Self.token(ttl: 600)))
            client.emit("refresh", #"{"token":"\#(try await Self.token(["role": "admin"], sub: "bob"))"}"#, ackID: 1)
            #expect(try await client.nextText() == #"431[{"ok":false,"error":{"code":"subject_mismatch","message":"a refreshed token must be for the same user (sub)"}}]"#)
            client.emit("refresh", #"{"token":"garbage"}"#, ackID: 2)
            #expect(try await client.nextText() == #"432[{"ok":false,"error":{"code":"token_invalid","message":"the token is not a JWT (header.payload.signature)"}}]"#)
            // The new token carries a new claim and a short life.
            client.emit("refresh", #"{"token":"\#(try await Self.token(["role": "admin"], ttl: 2))"}"#, ackID: 3)
            #expect(try await client.nextText() == #"433[{"ok":true}]"#)
            let socket = try #require(node.io.sockets.socket(id: sid))
            #expect(socket.data["claims"]?["role"] == "admin")
            client.emit("subscribe", #"{"room":"dashboard"}"#, ackID: 4)
            #expect(try await client.nextText() == #"434[{"ok":true}]"#, "the refreshed claims grant rooms at once")
            // The expiry timer follows the refreshed token: its 2 s, not the first token's 600.
            #expect(try await client.nextText(timeout: .seconds(6)).hasPrefix(#"42["auth:expired""#))
            #expect(try await client.nextText() == "41")
            let stats = try #require(node.auth).stats
            #expect(stats.refreshed == 1)
            #expect(stats.refreshRefused == 2)
        }
    }

    @Test func expiredTokenDisconnectsWithNotice() async throws {
        try await withNode(leeway: .zero) { node, port in
            let client = try await client(port)
            try await client.connect(auth: Self.authJSON(try await Self.token(ttl: 1)))
            // The timer fires at exp; the wait is bounded, the test never passes by timing out.
            #expect(try await client.nextText(timeout: .seconds(5))
                    == #"42["auth:expired",{"code":"token_expired","message":"the token expired; reconnect with a new one"}]"#)
            #expect(try await client.nextText() == "41")
            #expect(node.auth?.stats.expired == 1)
        }
    }

    @Test func rateAndSizeLimitsAnswerThenDisconnect() async throws {
        let limits = ConnectionLimits(eventsPerSecond: 1, burst: 2, maxEventBytes: 200, maxViolations: 3, violationWindow: .seconds(60))
        try await withNode(limits: limits) { node, port in
            let client = try await client(port)
            try await client.connect(auth: Self.authJSON(try await Self.token()))
            client.emit("unsubscribe", #"{"room":"x"}"#, ackID: 1)
            #expect(try await client.nextText() == #"431[{"ok":true}]"#)
            client.emit("ping-me", #""\#(String(repeating: "a", count: 300))""#)
            #expect(try await client.nextText() == #"42["error",{"code":"event_too_large","message":"events are limited to 200 bytes","event":"ping-me"}]"#)
            client.emit("unsubscribe", #"{"room":"x"}"#, ackID: 2)
            #expect(try await client.nextText() == #"432[{"ok":true}]"#)
            client.emit("unsubscribe", #"{"room":"x"}"#, ackID: 3)
            #expect(try await client.nextText() == #"433[{"ok":false,"error":{"code":"rate_limited","message":"too many events: at most 1 per second"}}]"#)
            client.emit("unsubscribe", #"{"room":"x"}"#, ackID: 4)
            #expect(try await client.nextText() == #"434[{"ok":false,"error":{"code":"rate_limited","message":"too many events: at most 1 per second"}}]"#)
            #expect(try await client.nextText() == "41", "the third violation disconnects")
            let stats = try #require(node.auth).stats
            #expect(stats.limited == [.eventTooLarge: 1, .rateLimited: 2])
            #expect(stats.abusiveDisconnects == 1)
        }
    }
}
