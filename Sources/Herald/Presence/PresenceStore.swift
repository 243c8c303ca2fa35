import NIOCore
import Synchronization

/// What one connection entering or leaving a presence room did to the room's cluster-wide membership.
public struct PresenceOutcome: Sendable, Hashable {
    public enum Transition: Sendable, Hashable {
        /// The user's first connection in the room (cluster-wide).
        case joined
        /// The user's last connection left the room.
        case left
        /// Another tab of a user already there, or not the last one to leave.
        case unchanged
    }

    public var transition: Transition
    /// Distinct users in the room after the change (0 after a `left` means the room is vacant).
    public var users: Int
    /// The transition's place in the cluster's order of transitions (0 when unchanged): receivers of events from
    /// several nodes order one room's events by it.
    public var sequence: Int = 0
    /// The member's claims as the store held them, on a `left` (the caller may no longer know them).
    public var info: String? = nil
    /// The store had to resend its script (Redis forgot it): changes issued later may have been applied before
    /// this one, so the node's share should be asserted again (`PresenceTracker`).
    public var reloaded = false
}

/// A member that left because its node stopped beating (found by `PresenceStore.reap`).
public struct PresenceDeparture: Sendable, Hashable {
    public var room: String
    public var subject: String
    /// The member's reported claims, as stored when it joined (JSON text).
    public var info: String
    public var users: Int
    public var sequence: Int
}

/// A room's presence at one moment.
public struct PresenceSnapshot: Sendable, Hashable {
    public var users: Int
    public var connections: Int
    /// At most the configured number of members: subject and claims JSON text.
    public var members: [(subject: String, info: String)]

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.users == rhs.users && lhs.connections == rhs.connections
            && lhs.members.map(\.subject) == rhs.members.map(\.subject) && lhs.members.map(\.info) == rhs.members.map(\.info)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(users)
        hasher.combine(connections)
    }
}

/// Where presence is counted: this node's memory, or Redis for the cluster. The room `""` holds the users
/// connected at all (`user connected` / `user disconnected`).
///
/// `change` and `assert` must apply changes in the order they are called (the tracker calls them under its lock);
/// their outcome arrives later.
public protocol PresenceStore: Sendable {
    /// Adds `delta` to this node's connections of `subject` in `room`.
    func change(room: String, subject: String, info: String, delta: Int) -> EventLoopFuture<PresenceOutcome>
    /// Sets this node's connections of `subject` in `room` to `count`, whatever the store held for this node: how
    /// a node puts its share right after changes were lost (Redis unreachable) or reordered.
    func assert(room: String, subject: String, info: String, count: Int) -> EventLoopFuture<PresenceOutcome>
    /// The (room, subject) pairs this node has connections in, as the store holds them.
    func ownMembers() async throws -> [(room: String, subject: String)]
    func snapshot(room: String, limit: Int) async throws -> PresenceSnapshot
    /// Says this node is alive; returns false when the cluster had taken it for dead (its entries are gone).
    func heartbeat() async throws -> Bool
    /// Removes the members of nodes whose heartbeat is older than the timeout (each dead node is reaped by one
    /// node only) and returns who left.
    func reap() async throws -> [PresenceDeparture]
    /// Removes this node's members at once (a graceful stop).
    func leaveCluster() async throws -> [PresenceDeparture]
}

/// One node's presence, in memory: lock-protected.
public final class InMemoryPresenceStore: PresenceStore {
    private let eventLoop: any EventLoop
    private let rooms = Mutex<(rooms: [String: Room], sequence: Int)>(([:], 0))

    struct Room {
        var connections: [String: Int] = [:]
        var info: [String: String] = [:]
        var total = 0
    }

    public init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    public func change(room: String, subject: String, info: String, delta: Int) -> EventLoopFuture<PresenceOutcome> {
        apply(room: room, subject: subject, info: info) { $0 + delta }
    }

    public func assert(room: String, subject: String, info: String, count: Int) -> EventLoopFuture<PresenceOutcome> {
        apply(room: room, subject: subject, info: info) { _ in count }
    }

    public func ownMembers() async throws -> [(room: String, subject: String)] {
        rooms.withLock { store in store.rooms.flatMap { room, state in state.connections.keys.map { (room, $0) } } }
    }

    private func apply(room: String, subject: String, info: String, _ count: (Int) -> Int) -> EventLoopFuture<PresenceOutcome> {
        let outcome = rooms.withLock { store in
            var state = store.rooms[room, default: Room()]
            let before = state.connections[subject, default: 0]
            let after = max(0, count(before))
            let stored = state.info[subject]
            state.total = max(0, state.total + (after - before))
            var transition = PresenceOutcome.Transition.unchanged
            if after == 0 {
                state.connections[subject] = nil
                state.info[subject] = nil
                if before > 0 { transition = .left }
            } else {
                state.connections[subject] = after
                if before == 0 {
                    state.info[subject] = info
                    transition = .joined
                }
            }
            store.rooms[room] = state.connections.isEmpty ? nil : state
            if transition != .unchanged { store.sequence += 1 }
            return PresenceOutcome(transition: transition, users: state.connections.count,
                                   sequence: transition == .unchanged ? 0 : store.sequence, info: transition == .left ? stored : nil)
        }
        return eventLoop.makeSucceededFuture(outcome)
    }

    public func snapshot(room: String, limit: Int) async throws -> PresenceSnapshot {
        rooms.withLock { store in
            let state = store.rooms[room] ?? Room()
            let members = state.info.sorted { $0.key < $1.key }.prefix(limit).map { (subject: $0.key, info: $0.value) }
            return PresenceSnapshot(users: state.connections.count, connections: state.total, members: members)
        }
    }

    public func heartbeat() async throws -> Bool { true }
    public func reap() async throws -> [PresenceDeparture] { [] }
    public func leaveCluster() async throws -> [PresenceDeparture] { [] }
}
