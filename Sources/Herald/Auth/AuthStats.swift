/// Counters for authentication and limits (metrics come later; this is what they will read).
public struct AuthStats: Sendable, Hashable {
    public var accepted = 0
    /// Refused handshakes by code (`token_expired`, `token_invalid`, …).
    public var refused: [AuthError.Code: Int] = [:]
    public var subscribed = 0
    /// Refused `subscribe` requests by code (`forbidden`, `invalid_room`, `too_many_rooms`, …).
    public var subscribeRefused: [AuthError.Code: Int] = [:]
    public var refreshed = 0
    public var refreshRefused = 0
    /// Sockets recovered (connection state recovery) with a valid token, and recoveries refused (new session).
    public var recovered = 0
    public var recoveryRefused = 0
    /// Sockets disconnected because their token expired.
    public var expired = 0
    /// Events refused by a limit, by code (`rate_limited`, `event_too_large`).
    public var limited: [AuthError.Code: Int] = [:]
    /// Sockets disconnected for repeated violations.
    public var abusiveDisconnects = 0

    public init() {}

    public var refusedTotal: Int { refused.values.reduce(0, +) }
}
