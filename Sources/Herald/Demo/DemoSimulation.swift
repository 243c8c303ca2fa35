import SocketIOProtocol

/// The demo's pretend shop, as a pure value: orders move placed → paid → packed → shipped → delivered,
/// and the business figures follow. Time is an input (`at:` since the start), so tests drive it step by step.
public struct DemoSimulation: Sendable {
    public enum Status: String, Sendable, CaseIterable {
        case placed, paid, packed, shipped, delivered

        /// The next status; a delivered order is ordered again so the demo never runs dry.
        var next: Status {
            let all = Status.allCases
            return all[(all.firstIndex(of: self)! + 1) % all.count]
        }
    }

    public struct Order: Sendable, Hashable {
        public var id: String
        public var owner: String
        public var item: String
        /// In cents, so sums stay exact.
        public var amountCents: Int
        public var status: Status
        /// How often the order went round (a re-order after delivery starts the next round).
        public var round: Int

        public var json: JSONValue {
            ["orderId": .string(id), "owner": .string(owner), "item": .string(item),
             "amount": .double(Double(amountCents) / 100), "currency": "EUR", "status": .string(status.rawValue),
             "round": .int(round)]
        }
    }

    /// What the backend publishes, in order.
    public enum Event: Sendable, Hashable {
        /// `order:updated` to `order:{id}`.
        case orderUpdated(Order, previous: Status)
        /// `dashboard:business` to `dashboard`.
        case business(JSONValue)
    }

    static let catalogue: [(item: String, cents: Int)] = [
        ("Espresso machine", 249_00), ("Running shoes", 89_95), ("Desk lamp", 34_50), ("Headphones", 129_00),
        ("Backpack", 59_90), ("Mechanical keyboard", 109_00), ("Tea sampler", 19_80), ("Plant pot", 14_25),
    ]

    public private(set) var orders: [Order] = []
    private var nextOrderNumber = 1001
    /// Round-robin position: the next order to move.
    private var cursor = 0
    /// When orders were placed (times since the start), for orders per minute.
    private var placedTimes: [Duration] = []
    private var revenueCents = 0
    private var delivered = 0
    public let ordersPerUser: Int

    public init(ordersPerUser: Int = 3) {
        self.ordersPerUser = max(1, ordersPerUser)
    }

    /// The user's orders, created (placed) on first use.
    public mutating func orders(of user: String, at now: Duration) -> [Order] {
        let owned = orders.filter { $0.owner == user }
        if !owned.isEmpty { return owned }
        var made: [Order] = []
        for _ in 0..<ordersPerUser {
            let product = Self.catalogue[(nextOrderNumber - 1001) % Self.catalogue.count]
            let order = Order(id: String(nextOrderNumber), owner: user, item: product.item, amountCents: product.cents,
                              status: .placed, round: 1)
            nextOrderNumber += 1
            placedTimes.append(now)
            orders.append(order)
            made.append(order)
        }
        return made
    }

    /// One order step: the next order in turn moves one status on. Nothing while no user has orders.
    public mutating func advanceOrder(at now: Duration) -> [Event] {
        guard !orders.isEmpty else { return [] }
        let index = cursor % orders.count
        cursor = index + 1
        var order = orders[index]
        let previous = order.status
        order.status = previous.next
        switch order.status {
        case .placed:
            order.round += 1
            placedTimes.append(now)
        case .paid:
            revenueCents += order.amountCents
        case .delivered:
            delivered += 1
        case .packed, .shipped:
            break
        }
        orders[index] = order
        return [.orderUpdated(order, previous: previous)]
    }

    /// The business figures now: orders placed within the last minute, revenue so far, orders by status.
    public mutating func business(at now: Duration) -> Event {
        placedTimes.removeAll { now - $0 > .seconds(60) }
        var byStatus: JSONObject = [:]
        for status in Status.allCases { byStatus[status.rawValue] = .int(orders.filter { $0.status == status }.count) }
        return .business([
            "ordersPerMinute": .int(placedTimes.count),
            "revenue": .double(Double(revenueCents) / 100),
            "currency": "EUR",
            "delivered": .int(delivered),
            "orders": .int(orders.count),
            "byStatus": .object(byStatus),
        ])
    }
}
