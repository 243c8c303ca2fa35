import Herald
import SocketIOProtocol
import Synchronization
import Testing

/// The simulated shop behind `herald demo`: pure steps first, then the backend on a real clock with short intervals.
@Suite struct DemoSimulationTests {
    @Test func ordersArePlacedOnFirstUseAndKept() {
        var shop = DemoSimulation(ordersPerUser: 2)
        let alice = shop.orders(of: "alice", at: .zero)
        #expect(alice.map(\.id) == ["1001", "1002"])
        #expect(alice.allSatisfy { $0.status == .placed && $0.owner == "alice" && $0.round == 1 })
        #expect(shop.orders(of: "alice", at: .seconds(1)) == alice, "a second call must not place more orders")
        #expect(shop.orders(of: "bob", at: .zero).map(\.id) == ["1003", "1004"])
    }

    @Test func nothingMovesWithoutOrders() {
        var shop = DemoSimulation()
        #expect(shop.advanceOrder(at: .seconds(1)).isEmpty)
    }

    @Test func ordersMoveOneStepAtATimeInTurnThroughEveryStatus() {
        var shop = DemoSimulation(ordersPerUser: 2)
        _ = shop.orders(of: "alice", at: .zero)
        var seen: [String] = []
        for step in 1...10 {
            for event in shop.advanceOrder(at: .seconds(step)) {
                guard case .orderUpdated(let order, let previous) = event else { Issue.record("unexpected \(event)"); continue }
                seen.append("\(order.id):\(previous.rawValue)>\(order.status.rawValue)")
            }
        }
        #expect(seen == [
            "1001:placed>paid", "1002:placed>paid", "1001:paid>packed", "1002:paid>packed",
            "1001:packed>shipped", "1002:packed>shipped", "1001:shipped>delivered", "1002:shipped>delivered",
            // A delivered order is ordered again, so the demo never runs dry.
            "1001:delivered>placed", "1002:delivered>placed",
        ])
        #expect(shop.orders.allSatisfy { $0.round == 2 && $0.status == .placed })
    }

    @Test func businessFiguresFollowTheOrders() {
        var shop = DemoSimulation(ordersPerUser: 1)
        let order = shop.orders(of: "alice", at: .zero)[0]
        _ = shop.advanceOrder(at: .seconds(1))   // paid: revenue
        guard case .business(let figures) = shop.business(at: .seconds(2)) else { Issue.record("no figures"); return }
        #expect(figures["ordersPerMinute"] == 1)
        #expect(figures["revenue"]?.doubleValue == Double(order.amountCents) / 100)
        #expect(figures["currency"] == "EUR")
        #expect(figures["byStatus"]?["paid"] == 1)
        #expect(figures["orders"] == 1)
        // The placement is older than a minute now: it leaves orders per minute, the revenue stays.
        guard case .business(let later) = shop.business(at: .seconds(61)) else { Issue.record("no figures"); return }
        #expect(later["ordersPerMinute"] == 0)
        #expect(later["revenue"]?.doubleValue == Double(order.amountCents) / 100)
    }

    @Test func eventsBecomePublishRequestsForTheirRooms() {
        var shop = DemoSimulation(ordersPerUser: 1)
        _ = shop.orders(of: "alice", at: .zero)
        let update = DemoBackend<ContinuousClock>.request(for: shop.advanceOrder(at: .seconds(1))[0])
        #expect(update.rooms == ["order:1001"])
        #expect(update.event == "order:updated")
        #expect(update.args.first?["status"] == "paid")
        #expect(update.args.first?["previous"] == "placed")
        let business = DemoBackend<ContinuousClock>.request(for: shop.business(at: .seconds(1)))
        #expect(business.rooms == ["dashboard"])
        #expect(business.event == "dashboard:business")
    }

    @Test func theBackendPublishesInOrderOnItsClock() async throws {
        let configuration = DemoConfiguration(
            orderInterval: .milliseconds(5), businessInterval: .milliseconds(5), ordersPerUser: 2)
        let (stream, sink) = AsyncStream.makeStream(of: PublishRequest.self)
        let backend = DemoBackend(configuration: configuration, clock: ContinuousClock()) { request in sink.yield(request) }
        #expect(backend.orders(of: "alice").map(\.id) == ["1001", "1002"])
        let running = Task { await backend.run() }
        defer { running.cancel() }
        // Bounded: a backend that stops publishing fails here instead of hanging the suite.
        let updates = try await withTimeout(.seconds(10)) {
            var updates: [String] = []
            var business = 0
            for await request in stream {
                if request.event == "order:updated" {
                    updates.append("\(request.rooms[0])=\(request.args[0]["status"]?.stringValue ?? "?")")
                } else {
                    #expect(request.event == "dashboard:business")
                    business += 1
                }
                if updates.count == 4 && business > 0 { break }
            }
            return updates
        }
        #expect(updates == ["order:1001=paid", "order:1002=paid", "order:1001=packed", "order:1002=packed"])
    }

    /// The defaults docs/demo.md and the `DemoConfiguration` comments promise.
    @Test func documentedDefaults() {
        let demo = DemoConfiguration()
        #expect(demo.orderInterval == .seconds(2))
        #expect(demo.businessInterval == .seconds(1))
        #expect(demo.botReplyDelay == .milliseconds(800))
        #expect(demo.tokenLifetime == .seconds(900))
        #expect(demo.ordersPerUser == 3)
        #expect(demo.chatRoom == "chat:lobby" && demo.chatID == "lobby")
        #expect(demo.botName == "herald-bot")
        #expect(demo.secret.count == 64 && demo.secret.allSatisfy(\.isHexDigit))
        #expect(DemoConfiguration().secret != demo.secret, "each start makes its own secret")
        #expect(HeraldConfiguration().demo == nil, "the demo is off unless asked for")
    }

    @Test func theDemoTurnsAuthOnWithItsRulesFirst() throws {
        let demo = DemoConfiguration(secret: String(repeating: "s", count: 32))
        let own = try RoomRule(pattern: "news", allow: [.authenticated])
        let auth = demo.authConfiguration(from: AuthConfiguration(permissions: RoomPermissions(rules: [own])))
        #expect(auth.isEnabled && auth.hmacSecret == demo.secret)
        #expect(auth.permissions.rules.map(\.pattern) == ["order:{id}", "chat:{id}", "dashboard", "news"])
    }

    @Test func theBotAnswers() {
        #expect(DemoChatBot.reply(to: "Hello there", from: "alice").hasPrefix("Hello alice!"))
        #expect(DemoChatBot.reply(to: "where is my order?", from: "bob").contains("/demo/orders?user=bob"))
        #expect(DemoChatBot.reply(to: "lorem", from: "bob") == "bob said “lorem” (5 characters). Say hello, or ask about orders.")
    }
}
