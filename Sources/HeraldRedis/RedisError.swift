/// Failures of the client itself (as opposed to error replies from the server).
public struct RedisError: Error, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case connectionClosed
        case notConnected
        case commandTimeout
        case clientClosed
        case unexpectedReply
    }
    private let kind: Kind
    private let detail: String
    private init(_ kind: Kind, _ detail: String = "") {
        self.kind = kind
        self.detail = detail
    }

    /// The connection went away while the command was in flight; it may or may not have run.
    public static let connectionClosed = Self(.connectionClosed)
    /// There is no connection right now (Redis down, reconnecting); the command was not sent.
    public static let notConnected = Self(.notConnected)
    /// No reply within `RedisConfiguration.commandTimeout`; the connection was closed.
    public static let commandTimeout = Self(.commandTimeout)
    /// `close()` was called on the client or subscriber.
    public static let clientClosed = Self(.clientClosed)
    /// A reply of a shape the command never returns.
    public static func unexpectedReply(_ reply: RESPValue) -> Self { .init(.unexpectedReply, "\(reply)") }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.kind == rhs.kind }
    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }

    public var description: String {
        switch kind {
        case .connectionClosed: return "Redis connection closed with the command in flight"
        case .notConnected: return "not connected to Redis"
        case .commandTimeout: return "Redis command timed out"
        case .clientClosed: return "Redis client closed"
        case .unexpectedReply: return "unexpected Redis reply: \(detail)"
        }
    }
}

/// An error reply (`-ERR ...`, `-WRONGPASS ...`) from the server, with its message.
public struct RedisServerError: Error, Hashable, CustomStringConvertible {
    /// The whole reply line, e.g. `"WRONGPASS invalid username-password pair or user is disabled."`.
    public let message: String
    /// The first word, by Redis convention the error code (`ERR`, `WRONGPASS`, `NOAUTH`, `MOVED`...).
    public var code: Substring { message.prefix { $0 != " " } }

    public init(message: String) { self.message = message }
    public var description: String { "Redis error reply: \(message)" }
}
