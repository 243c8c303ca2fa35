import Foundation
import Herald
import HeraldTesting
import Logging
import NIOPosix
import SocketIOProtocol
import Testing

/// The demo as a node serves it: pages and their content types, `/demo/token`, 404 with the demo off,
/// and the simulated shop's events reaching a subscribed socket.
@Suite(.serialized) struct DemoRoutesTests {
    @Test func pagesAreServedWithTheirContentTypes() async throws {
        try await withDemoNode { _, port in
            let expected = [
                "/demo": "text/html; charset=utf-8", "/demo/orders": "text/html; charset=utf-8",
                "/demo/chat": "text/html; charset=utf-8", "/demo/dashboard": "text/html; charset=utf-8",
                "/demo/demo.css": "text/css; charset=utf-8", "/demo/demo.js": "text/javascript; charset=utf-8",
                "/herald.js": "text/javascript; charset=utf-8",
            ]
            for (path, type) in expected {
                let response = try await RawHTTP.get(path, port: port)
                #expect(response.status == 200, "\(path): \(response.status)")
                #expect(response.header("content-type") == type, "\(path)")
                #expect(!response.body.isEmpty, "\(path)")
            }
            let orders = try await RawHTTP.get("/demo/orders?user=alice", port: port)
            #expect(orders.body.contains("<script src=\"/herald.js\"></script>"))
            #expect(try await RawHTTP.get("/demo/nothing", port: port).status == 404)
        }
    }

    @Test func withTheDemoOffOnlyTheClientIsServed() async throws {
        try await withDemoNode(demo: false) { _, port in
            for path in ["/demo", "/demo/orders", "/demo/chat", "/demo/dashboard", "/demo/token?user=alice", "/demo/demo.css"] {
                #expect(try await RawHTTP.get(path, port: port).status == 404, "\(path)")
            }
            let client = try await RawHTTP.get("/herald.js", port: port)
            #expect(client.status == 200)
            #expect(client.body.contains("HeraldSocket"))
        }
    }

    @Test func tokensCarryTheClaimsTheDemoRulesGrant() async throws {
        try await withDemoNode { node, port in
            let response = try await RawHTTP.get("/demo/token?user=alice", port: port)
            #expect(response.status == 200, "\(response.raw)")
            #expect(response.header("content-type") == "application/json")
            #expect(response.header("cache-control") == "no-store")
            let body = try JSONValue(parsing: response.body)
            #expect(body["user"] == "alice")
            #expect(body["chatRoom"] == "chat:lobby")
            #expect(body["expiresIn"] == 900)
            let orders = try #require(body["orders"]?.arrayValue)
            #expect(orders.count == 3)
            let auth = try #require(node.auth)
            let claims = try await auth.verify(try #require(body["token"]?.stringValue))
            #expect(claims.object["sub"] == "alice")
            #expect(claims.object["role"] == "admin")
            #expect(claims.object["chats"] == ["lobby"])
            #expect(claims.object["orders"] == .array(orders.map { $0["orderId"]! }))
            let exp = try #require(claims.object["exp"]?.intValue), iat = try #require(claims.object["iat"]?.intValue)
            #expect(exp - iat == 900)
            for order in orders { #expect(auth.allows("order:\(order["orderId"]!.stringValue!)", claims: claims)) }
            #expect(auth.allows("chat:lobby", claims: claims))
            #expect(auth.allows("dashboard", claims: claims))
            // Bob's orders are not Alice's.
            let bob = try JSONValue(parsing: try await RawHTTP.get("/demo/token?user=bob", port: port).body)
            let bobOrder = try #require(bob["orders"]?[0]?["orderId"]?.stringValue)
            #expect(!auth.allows("order:\(bobOrder)", claims: claims))
            // The same user gets the same orders again.
            let again = try JSONValue(parsing: try await RawHTTP.get("/demo/token?user=alice", port: port).body)
            #expect(again["orders"]?.arrayValue?.map { $0["orderId"] } == orders.map { $0["orderId"] })
        }
    }

    @Test(arguments: ["/demo/token", "/demo/token?user=", "/demo/token?user=a%20b", "/demo/token?user=\(String(repeating: "x", count: 33))"])
    func badUsersAreRefusedClearly(path: String) async throws {
        try await withDemoNode { _, port in
            let response = try await RawHTTP.get(path, port: port)
            #expect(response.status == 400, "\(response.raw)")
            let body = try JSONValue(parsing: response.body)
            #expect(body["error"]?["code"] == "bad_request")
            #expect(body["error"]?["message"]?.stringValue?.contains("user") == true)
        }
    }

    @Test func aSubscribedSocketSeesItsOrdersMoveAndTheBotAnswers() async throws {
        try await withDemoNode { _, port in
            let session = try JSONValue(parsing: try await RawHTTP.get("/demo/token?user=carol", port: port).body)
            let token = try #require(session["token"]?.stringValue)
            let order = try #require(session["orders"]?[0]?["orderId"]?.stringValue)
            let client = try await RawSocketIOClient.open(port: port, group: MultiThreadedEventLoopGroup.singleton)
            try await client.connect(auth: #"{"token":"\#(token)"}"#)
            client.emit("subscribe", #"{"room":"order:\#(order)"}"#, ackID: 1)
            client.emit("chat:join", #"{"room":"chat:lobby"}"#, ackID: 2)
            try await withTimeout(.seconds(15)) {
                var sawSubscribed = false, sawJoined = false, sawUpdate = false, sawWelcome = false, sawBot = false
                var sent = false
                while !(sawSubscribed && sawJoined && sawUpdate && sawWelcome && sawBot) {
                    let text = try await client.nextText(timeout: .seconds(10))
                    if text == #"431[{"ok":true}]"# { sawSubscribed = true }
                    if text == #"432[{"ok":true}]"# { sawJoined = true }
                    if text.hasPrefix(#"42["order:updated",{"orderId":"\#(order)""#) { sawUpdate = true }
                    if text.hasPrefix(#"42["chat:history""#) && text.contains("Welcome to the Herald demo chat") { sawWelcome = true }
                    if text.hasPrefix(#"42["chat:message""#) && text.contains(#""sender":"herald-bot""#) && text.contains("Hello carol!") { sawBot = true }
                    if sawJoined && !sent {
                        sent = true
                        client.emit("chat:send", #"{"room":"chat:lobby","text":"hello bot"}"#, ackID: 3)
                    }
                }
            }
            await client.disconnectTransport()
        }
    }
}

/// A node in demo mode on a free port, with short intervals so tests see several steps quickly.
func withDemoNode(demo: Bool = true, _ body: (HeraldNode, Int) async throws -> Void) async throws {
    var logger = Logger(label: "demo-test")
    logger.logLevel = .critical
    var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 2, preDrainDelay: .zero, drainWindow: .zero, drainTimeout: .seconds(1))
    configuration.dashboard = DashboardConfiguration(interval: .milliseconds(200), nodeID: "demo-node", bootstrapMetricsSystem: false)
    if demo {
        configuration.demo = DemoConfiguration(
            orderInterval: .milliseconds(100), businessInterval: .milliseconds(200), botReplyDelay: .milliseconds(20))
    }
    let node = HeraldNode(configuration: configuration, logger: logger)
    try await withRunningNode(node, body)
}
