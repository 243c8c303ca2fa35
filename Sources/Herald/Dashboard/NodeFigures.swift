import SocketIOProtocol

/// One node's live figures for one interval, as sent in `dashboard:stats` and shared between nodes.
public struct NodeFigures: Sendable, Equatable {
    public var node: String
    public var uptimeSeconds: Double
    /// Engine.IO sessions (client connections).
    public var sessions: Int
    /// Connected sockets by namespace.
    public var sockets: [String: Int]
    /// Rooms with members on this node, not counting each socket's own room.
    public var rooms: Int
    public var rates: TrafficRates
    public var totals: TrafficTotals
    public var fanOut: LatencySummary
    /// `off` (single node), `connected` or `unreachable`.
    public var redis: String
    /// Unix time of the reading, seconds.
    public var time: Double
    /// Users (distinct `sub`s, with auth) connected to this node.
    public var users: Int

    public var json: JSONValue {
        var sockets = JSONObject()
        for (name, count) in self.sockets.sorted(by: { $0.key < $1.key }) { sockets[name] = .int(count) }
        return .object([
            "node": .string(node),
            "uptime": .double(uptimeSeconds),
            "sessions": .int(sessions),
            "sockets": .object(sockets),
            "rooms": .int(rooms),
            "users": .int(users),
            "eventsInPerSecond": .double(rates.eventsIn),
            "eventsOutPerSecond": .double(rates.eventsOut),
            "deliveriesPerSecond": .double(rates.deliveries),
            "eventsIn": .int(totals.eventsIn),
            "eventsOut": .int(totals.eventsOut),
            "deliveries": .int(totals.deliveries),
            "fanOutMs": Self.json(fanOut),
            "redis": .string(redis),
            "time": .double(time),
        ])
    }

    static func json(_ latency: LatencySummary) -> JSONValue {
        .object([
            "samples": .int(latency.samples),
            "p50": .double(latency.p50), "p90": .double(latency.p90),
            "p99": .double(latency.p99), "max": .double(latency.max),
        ])
    }

    /// Reads another node's figures; nil when a field is missing, so a foreign message is ignored.
    public init?(json: JSONValue) {
        guard let o = json.objectValue, let node = o["node"]?.stringValue,
              let sessions = o["sessions"]?.intValue, let rooms = o["rooms"]?.intValue,
              let fan = o["fanOutMs"]?.objectValue, let redis = o["redis"]?.stringValue
        else { return nil }
        var sockets: [String: Int] = [:]
        for (name, count) in o["sockets"]?.objectValue ?? [:] { sockets[name] = count.intValue ?? 0 }
        self.init(
            node: node, uptimeSeconds: o["uptime"]?.doubleValue ?? 0, sessions: sessions, sockets: sockets, rooms: rooms,
            rates: TrafficRates(eventsIn: o["eventsInPerSecond"]?.doubleValue ?? 0,
                                eventsOut: o["eventsOutPerSecond"]?.doubleValue ?? 0,
                                deliveries: o["deliveriesPerSecond"]?.doubleValue ?? 0),
            totals: TrafficTotals(eventsIn: o["eventsIn"]?.intValue ?? 0, eventsOut: o["eventsOut"]?.intValue ?? 0,
                                  deliveries: o["deliveries"]?.intValue ?? 0),
            fanOut: LatencySummary(samples: fan["samples"]?.intValue ?? 0, p50: fan["p50"]?.doubleValue ?? 0,
                                   p90: fan["p90"]?.doubleValue ?? 0, p99: fan["p99"]?.doubleValue ?? 0,
                                   max: fan["max"]?.doubleValue ?? 0),
            redis: redis, time: o["time"]?.doubleValue ?? 0, users: o["users"]?.intValue ?? 0)
    }

    public init(node: String, uptimeSeconds: Double, sessions: Int, sockets: [String: Int], rooms: Int,
                rates: TrafficRates, totals: TrafficTotals, fanOut: LatencySummary, redis: String, time: Double, users: Int = 0) {
        self.users = users
        self.node = node
        self.uptimeSeconds = uptimeSeconds
        self.sessions = sessions
        self.sockets = sockets
        self.rooms = rooms
        self.rates = rates
        self.totals = totals
        self.fanOut = fanOut
        self.redis = redis
        self.time = time
    }
}

/// The `dashboard:stats` payload: every node's figures and their sum.
public struct ClusterFigures: Sendable, Equatable {
    public var nodes: [NodeFigures]
    public var time: Double

    public init(nodes: [NodeFigures], time: Double) {
        self.nodes = nodes.sorted { $0.node < $1.node }
        self.time = time
    }

    /// Sums the counts and rates; for fan-out latency the worst node's percentiles (latencies do not add up,
    /// and the slowest node is what a dashboard should show).
    public var totals: JSONValue {
        var sockets: [String: Int] = [:]
        for node in nodes { sockets.merge(node.sockets, uniquingKeysWith: +) }
        var socketsJSON = JSONObject()
        for (name, count) in sockets.sorted(by: { $0.key < $1.key }) { socketsJSON[name] = .int(count) }
        let worst = LatencySummary(
            samples: nodes.reduce(0) { $0 + $1.fanOut.samples },
            p50: nodes.map(\.fanOut.p50).max() ?? 0, p90: nodes.map(\.fanOut.p90).max() ?? 0,
            p99: nodes.map(\.fanOut.p99).max() ?? 0, max: nodes.map(\.fanOut.max).max() ?? 0)
        return .object([
            "nodes": .int(nodes.count),
            "sessions": .int(nodes.reduce(0) { $0 + $1.sessions }),
            "sockets": .object(socketsJSON),
            // A room with members on two nodes counts twice: nodes know only their own rooms.
            "rooms": .int(nodes.reduce(0) { $0 + $1.rooms }),
            // Likewise a user connected to two nodes (GET /api/stats counts each user once).
            "users": .int(nodes.reduce(0) { $0 + $1.users }),
            "eventsInPerSecond": .double(nodes.reduce(0) { $0 + $1.rates.eventsIn }),
            "eventsOutPerSecond": .double(nodes.reduce(0) { $0 + $1.rates.eventsOut }),
            "deliveriesPerSecond": .double(nodes.reduce(0) { $0 + $1.rates.deliveries }),
            "fanOutMs": NodeFigures.json(worst),
            "redisUnreachable": .int(nodes.filter { $0.redis == "unreachable" }.count),
        ])
    }

    public var json: JSONValue {
        .object(["time": .double(time), "nodes": .array(nodes.map(\.json)), "totals": totals])
    }
}
