import SocketIOProtocol

/// An immutable description of a broadcast's audience; each modifier returns a new operator (a value: no rule).
public struct BroadcastOperator: Sendable {
    public let namespace: Namespace
    public let options: BroadcastOptions

    init(namespace: Namespace, options: BroadcastOptions) {
        self.namespace = namespace
        self.options = options
    }

    public func to(_ rooms: String...) -> BroadcastOperator { to(rooms) }
    public func to(_ rooms: [String]) -> BroadcastOperator {
        var options = options
        options.rooms.formUnion(rooms)
        return BroadcastOperator(namespace: namespace, options: options)
    }
    /// Rooms named from outside (checked at the edge).
    public func to(_ rooms: [RoomName]) -> BroadcastOperator { to(rooms.map(\.rawValue)) }
    public func `in`(_ rooms: String...) -> BroadcastOperator { to(rooms) }
    public func except(_ rooms: String...) -> BroadcastOperator { except(rooms) }
    public func except(_ rooms: [String]) -> BroadcastOperator {
        var options = options
        options.except.formUnion(rooms)
        return BroadcastOperator(namespace: namespace, options: options)
    }
    public func except(_ rooms: [RoomName]) -> BroadcastOperator { except(rooms.map(\.rawValue)) }
    public var local: BroadcastOperator {
        var options = options
        options.local = true
        return BroadcastOperator(namespace: namespace, options: options)
    }
    public var volatile: BroadcastOperator {
        var options = options
        options.volatile = true
        return BroadcastOperator(namespace: namespace, options: options)
    }

    public func emit(_ event: String, _ args: JSONValue...) { emit(event, args: args) }

    /// Encodes once and delivers to every matching socket.
    public func emit(_ event: String, args: [JSONValue]) {
        guard !reservedEventNames.contains(event) else {
            namespace.server.logger.error("refusing to emit reserved event", metadata: ["event": "\(event)"])
            return
        }
        namespace.server.stats.eventSent()
        namespace.adapter.broadcast(.event(event, args, namespace: namespace.name), options: options)
    }

    /// Like `emit`, and returns once every node can receive it; throws when the cluster cannot be reached
    /// (delivery to this node's sockets has happened either way).
    public func publish(_ event: String, args: [JSONValue]) async throws {
        guard !reservedEventNames.contains(event) else { throw ReservedEventError(event: event) }
        namespace.server.stats.eventSent()
        try await namespace.adapter.broadcastConfirmed(.event(event, args, namespace: namespace.name), options: options)
    }

    /// The matching sockets of every node.
    public func fetchSockets() async throws -> [RemoteSocket] { try await namespace.adapter.fetchSockets(options) }

    /// The matching sockets of this node, as live objects.
    public func localSockets() async -> [Socket] { await namespace.adapter.localSockets(options) }

    /// Makes the matching sockets, on every node, join rooms.
    public func socketsJoin(_ rooms: String...) async throws {
        try await namespace.adapter.addSockets(options, rooms: rooms)
    }

    /// Makes the matching sockets, on every node, leave rooms.
    public func socketsLeave(_ rooms: String...) async throws {
        try await namespace.adapter.removeSockets(options, rooms: rooms)
    }

    /// Disconnects the matching sockets on every node.
    public func disconnectSockets(close: Bool = false) async throws {
        try await namespace.adapter.disconnectSockets(options, close: close)
    }
}

/// Socket.IO reserves some event names for its own use (`connect`, `disconnect`, …).
public struct ReservedEventError: Error, Sendable, CustomStringConvertible {
    public var event: String
    public var description: String { "\"\(event)\" is a reserved event name" }
}

/// A join refused because it would take a socket past `SocketIOConfiguration.maxRoomsPerSocket`.
public struct RoomLimitError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The cap in force.
    public let limit: Int
    /// `too_many_rooms`, for JSON error bodies.
    public var code: String { "too_many_rooms" }
    public var description: String { "at most \(limit) rooms per socket" }
}
