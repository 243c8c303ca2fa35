import SocketIOProtocol

/// Why herald refused a token, a subscription or an event. The raw value is the wire `code`.
public struct AuthError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// No token in `auth.token` nor in `Authorization: Bearer`.
        case tokenMissing = "token_missing"
        /// `exp` (plus leeway) is past: the client should get a new token and reconnect or `refresh`.
        case tokenExpired = "token_expired"
        /// `nbf` (minus leeway) is in the future.
        case tokenNotYetValid = "token_not_yet_valid"
        /// Malformed, bad signature, unknown key or algorithm, or a required claim missing.
        case tokenInvalid = "token_invalid"
        case issuerMismatch = "issuer_mismatch"
        case audienceMismatch = "audience_mismatch"
        /// A refresh token for another user.
        case subjectMismatch = "subject_mismatch"
        /// No rule and no subscription token grants the room.
        case forbidden
        case invalidRoom = "invalid_room"
        case invalidRequest = "invalid_request"
        case tooManyRooms = "too_many_rooms"
        case rateLimited = "rate_limited"
        case eventTooLarge = "event_too_large"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// `{"code":…,"message":…}`, the shape of every auth error on the wire.
    public var json: JSONValue { ["code": .string(code.rawValue), "message": .string(message)] }

    /// The ack answering a refused request: `{"ok":false,"error":{…}}`.
    public var ack: JSONValue { ["ok": false, "error": json] }
}
