import Foundation

/// Presence per room (see docs/presence.md): which rooms keep it, what a member carries, and how long a node that
/// vanished keeps its members. With auth, rooms whose rule says `"presence": true` keep it too.
public struct PresenceConfiguration: Sendable {
    /// Room patterns (the `auth.rooms` pattern syntax, `order:{id}`) that keep presence, for nodes without auth or
    /// in addition to the rules' flag (`HERALD_PRESENCE_ROOMS`, comma-separated). Default none.
    public var rooms: [String]
    /// Claims of a member's token reported with its `sub` (`HERALD_PRESENCE_CLAIMS`, comma-separated). Default `name`.
    public var claims: [String]
    /// Bytes of a member's reported claims as JSON; claims beyond it are left out (`HERALD_PRESENCE_MAX_CLAIM_BYTES`).
    /// Default 256.
    public var maxClaimBytes: Int
    /// Members listed by `presence:get` and the presence API (the counts are always complete)
    /// (`HERALD_PRESENCE_MAX_MEMBERS`). Default 100.
    public var maxMembers: Int
    /// A node whose heartbeat is older than this is taken for dead and its members leave (`HERALD_PRESENCE_NODE_TIMEOUT`,
    /// ms). Nodes beat every third of it. Default 30 s.
    public var nodeTimeout: Duration

    public init(rooms: [String] = [], claims: [String] = ["name"], maxClaimBytes: Int = 256, maxMembers: Int = 100,
                nodeTimeout: Duration = .seconds(30)) {
        self.rooms = rooms
        self.claims = claims
        self.maxClaimBytes = maxClaimBytes
        self.maxMembers = maxMembers
        self.nodeTimeout = nodeTimeout
    }

    /// The configured patterns as rules (valid: `apply` checked them).
    var patternRules: [RoomRule] { rooms.compactMap { try? RoomRule(pattern: $0, allow: [.authenticated]) } }
}
