import Logging
import NIOCore
import SocketIO
import SocketIOProtocol
import Synchronization

/// A member entering or leaving a presence room cluster-wide, or (room `""`) a user's first connection or last
/// disconnection on the cluster. Exactly one node reports each.
public struct PresenceEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case joined, left
    }

    public var kind: Kind
    /// The presence room, or `""` for the users connected at all.
    public var room: String
    public var subject: String
    /// The member's reported claims (JSON object text).
    public var info: String
    /// Distinct users in the room after the change.
    public var users: Int
    /// The transition's place in the cluster's order (see `PresenceOutcome.sequence`).
    public var sequence: Int
}

/// Presence for the default namespace: follows sockets entering and leaving presence rooms (and, with auth, users
/// connecting at all), keeps the store up to date, sends `presence:join` / `presence:leave` to the room, answers
/// `presence:get`, beats the node's heartbeat and reaps dead nodes. Lock-protected: `state` holds this node's counts,
/// and store changes are issued under the lock so that they reach the store in the order they happened.
public final class PresenceTracker: Sendable {
    public let configuration: PresenceConfiguration
    let store: any PresenceStore
    private let permissions: RoomPermissions
    private let patterns: [RoomRule]
    private let authenticated: Bool
    private let logger: Logger
    private let state = Mutex(State())

    struct State {
        /// This node's connections per room and user (room `""`: users), to restore them if the cluster forgot us.
        var counts: [String: [String: (count: Int, info: String)]] = [:]
        var namespace: Namespace?
        var sink: (@Sendable (PresenceEvent) -> Void)?
        var changes = 0
        /// A change failed or may have been applied out of order: the next heartbeat asserts this node's share again.
        var resync = false
    }

    public static let joinEvent = "presence:join"
    public static let leaveEvent = "presence:leave"
    public static let getEvent = "presence:get"

    public init(configuration: PresenceConfiguration, store: any PresenceStore, permissions: RoomPermissions,
                authenticated: Bool, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.permissions = permissions
        self.patterns = configuration.patternRules
        self.authenticated = authenticated
        self.logger = logger
    }

    /// Receives every presence event this node decided (for webhooks).
    public func setSink(_ sink: @escaping @Sendable (PresenceEvent) -> Void) {
        state.withLock { $0.sink = sink }
    }

    public func keepsPresence(_ room: String) -> Bool {
        guard !room.isEmpty else { return false }
        return permissions.keepsPresence(room) || patterns.contains { $0.match(room) != nil }
    }

    /// Users with a connection on this node, and store changes issued so far.
    public var localUsers: Int { state.withLock { $0.counts[""]?.count ?? 0 } }
    public var changesIssued: Int { state.withLock { $0.changes } }

    // MARK: Following sockets

    public func install(on namespace: Namespace) {
        state.withLock { $0.namespace = namespace }
        namespace.onRoomMembership { [self] socket, change in
            switch change {
            case .joined(let rooms): changed(socket, rooms: rooms, delta: 1)
            case .left(let rooms): changed(socket, rooms: rooms, delta: -1)
            }
        }
        namespace.onConnection { [self] socket in
            socket.on(Self.getEvent) { [self] event in
                Task { event.ack(await get(socket, request: event[0])) }
            }
        }
    }

    /// Who a socket is for presence: its `sub` with auth, else its own id.
    func identity(_ socket: Socket) -> (subject: String, claims: JSONObject)? {
        guard authenticated else { return (socket.id, [:]) }
        guard case .string(let subject)? = socket.data["sub"] else { return nil }
        return (subject, socket.data["claims"]?.objectValue ?? [:])
    }

    /// The configured claims, in order, while they fit `maxClaimBytes`.
    func info(_ claims: JSONObject) -> String {
        var reported: JSONObject = [:]
        var text = "{}"
        for name in configuration.claims {
            guard let value = claims[name] else { continue }
            var attempt = reported
            attempt[name] = value
            let candidate = JSONValue.object(attempt).jsonString
            guard candidate.utf8.count <= configuration.maxClaimBytes else { continue }
            reported = attempt
            text = candidate
        }
        return text
    }

    private func changed(_ socket: Socket, rooms: [String], delta: Int) {
        var tracked: [String] = []
        for room in rooms where room != socket.id {
            if authenticated, room.hasPrefix("user:"), case .string(let subject)? = socket.data["sub"], room == AuthGateway.personalRoom(subject) {
                tracked.append("")
            } else if keepsPresence(room) {
                tracked.append(room)
            }
        }
        guard !tracked.isEmpty, let (subject, claims) = identity(socket) else { return }
        let info = info(claims)
        let pending = state.withLock { state in
            tracked.map { room in
                let count = (state.counts[room]?[subject]?.count ?? 0) + delta
                if count > 0 {
                    state.counts[room, default: [:]][subject] = (count, info)
                } else {
                    state.counts[room]?[subject] = nil
                    if state.counts[room]?.isEmpty == true { state.counts[room] = nil }
                }
                state.changes += 1
                return (room, store.change(room: room, subject: subject, info: info, delta: delta))
            }
        }
        for (room, future) in pending {
            follow(future, room: room, subject: subject, info: info)
        }
    }

    /// Reports the transition a store call made; a failed call (Redis unreachable: it may or may not have been
    /// applied) or a reordered one leaves the store off, so the next heartbeat asserts this node's share again.
    private func follow(_ future: EventLoopFuture<PresenceOutcome>, room: String, subject: String, info: String) {
        future.whenComplete { [self] result in
            switch result {
            case .success(let outcome):
                if outcome.reloaded { state.withLock { $0.resync = true } }
                switch outcome.transition {
                case .joined:
                    report(PresenceEvent(kind: .joined, room: room, subject: subject, info: info, users: outcome.users, sequence: outcome.sequence))
                case .left:
                    report(PresenceEvent(kind: .left, room: room, subject: subject, info: outcome.info ?? info, users: outcome.users,
                                         sequence: outcome.sequence))
                case .unchanged: break
                }
            case .failure(let error):
                state.withLock { $0.resync = true }
                logger.warning("presence change not stored", metadata: ["room": "\(room)", "error": "\(error)"])
            }
        }
    }

    /// Sends the event to the room (cluster-wide) and to the sink.
    func report(_ event: PresenceEvent) {
        let (namespace, sink) = state.withLock { ($0.namespace, $0.sink) }
        if !event.room.isEmpty, let namespace {
            let payload: JSONValue = ["room": .string(event.room), "member": Self.member(event.subject, info: event.info)]
            namespace.to(event.room).emit(event.kind == .joined ? Self.joinEvent : Self.leaveEvent, args: [payload])
        }
        sink?(event)
    }

    static func member(_ subject: String, info: String) -> JSONValue {
        ["sub": .string(subject), "claims": (try? JSONValue(parsing: info)) ?? .object([:])]
    }

    // MARK: Queries

    /// The room's presence as JSON: `{room, users, connections, members: [{sub, claims}], truncated}`.
    public func presence(of room: String) async throws -> JSONValue {
        let snapshot = try await store.snapshot(room: room, limit: configuration.maxMembers)
        return [
            "room": .string(room), "users": .int(snapshot.users), "connections": .int(snapshot.connections),
            "members": .array(snapshot.members.map { Self.member($0.subject, info: $0.info) }),
            "truncated": .bool(snapshot.members.count < snapshot.users),
        ]
    }

    /// `presence:get {room}`: for a presence room the socket is in.
    func get(_ socket: Socket, request: JSONValue?) async -> JSONValue {
        guard case .string(let name)? = request?["room"],
              let room = RoomName(validating: name, maxBytes: socket.namespace.server.configuration.maxRoomNameBytes)?.rawValue
        else { return AuthError(.invalidRoom, "send {room}").ack }
        guard keepsPresence(room) else { return AuthError(.invalidRoom, "\(room) keeps no presence").ack }
        guard socket.rooms.contains(room) else { return AuthError(.forbidden, "join \(room) first").ack }
        do {
            guard case .object(var answer) = try await presence(of: room) else { return AuthError(.invalidRequest, "no answer").ack }
            answer["ok"] = true
            return .object(answer)
        } catch {
            return AuthError(.invalidRequest, "presence is unavailable: \(error)").ack
        }
    }

    // MARK: Heartbeat

    /// Beats every third of the node timeout and reaps dead nodes until cancelled.
    public func run() async {
        let interval = configuration.nodeTimeout / 3
        while !Task.isCancelled {
            await beat()
            try? await Task.sleep(for: interval)
        }
    }

    /// One heartbeat: when the cluster had forgotten this node, or a change of its was lost or reordered, its share
    /// is asserted again first; then dead nodes' members leave.
    func beat() async {
        do {
            let known = try await store.heartbeat()
            let resync = state.withLock { state in
                defer { state.resync = false }
                return state.resync || !known
            }
            if resync { try await reassert() }
            for departure in try await store.reap() {
                report(PresenceEvent(kind: .left, room: departure.room, subject: departure.subject, info: departure.info,
                                     users: departure.users, sequence: departure.sequence))
            }
        } catch {
            state.withLock { $0.resync = true }
            logger.debug("presence heartbeat failed", metadata: ["error": "\(error)"])
        }
    }

    /// Redis is reachable again: beat now rather than at the next period, so that changes lost meanwhile are put
    /// right at once.
    public func storeReconnected() {
        Task { await beat() }
    }

    /// Makes the store hold exactly this node's counts: each (room, user) this node has is set to its count, then
    /// each one the store holds for this node and this node no longer has is set to 0. Every call is issued under
    /// the lock with the count of that moment, so changes issued later apply on top of it. Reports the transitions
    /// (users who joined or left while Redis was unreachable).
    func reassert() async throws {
        let present = state.withLock { state in
            state.counts.flatMap { room, users in
                users.map { subject, entry in
                    (room, subject, entry.info, store.assert(room: room, subject: subject, info: entry.info, count: entry.count))
                }
            }
        }
        let stored = try await store.ownMembers()
        let gone = state.withLock { state in
            stored.filter { state.counts[$0.room]?[$0.subject] == nil }.map { member in
                (member.room, member.subject, "{}", store.assert(room: member.room, subject: member.subject, info: "{}", count: 0))
            }
        }
        for (room, subject, info, future) in present + gone {
            follow(future, room: room, subject: subject, info: info)
            _ = try await future.get()
        }
    }

    /// A graceful stop: this node's members leave at once instead of after the timeout.
    public func leaveCluster() async {
        do {
            for departure in try await store.leaveCluster() {
                report(PresenceEvent(kind: .left, room: departure.room, subject: departure.subject, info: departure.info,
                                     users: departure.users, sequence: departure.sequence))
            }
        } catch {
            logger.debug("presence: leaving the cluster failed", metadata: ["error": "\(error)"])
        }
    }
}
