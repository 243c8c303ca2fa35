import Foundation
import NIOCore
import SocketIOProtocol

/// JWT authentication, room permissions and per-connection limits (see docs/auth.md).
/// Auth is on when any key is configured; with it off, herald accepts every connection as before.
public struct AuthConfiguration: Sendable {
    /// HS256 shared secret (`HERALD_JWT_SECRET`). Default none.
    public var hmacSecret: String?
    /// An RS256 or ES256 (P-256) public key in PEM form (read from `HERALD_JWT_PUBLIC_KEY_FILE`). Default none.
    public var publicKeyPEM: String?
    /// A JWKS document (read from `HERALD_JWKS_FILE`); tokens pick a key with their `kid`. Default none.
    public var jwksJSON: String?
    /// Required `iss`, when set (`HERALD_JWT_ISSUER`). Default: not checked.
    public var issuer: String?
    /// Required member of `aud`, when set (`HERALD_JWT_AUDIENCE`). Default: not checked.
    public var audience: String?
    /// Clock skew tolerated on `exp` and `nbf` (`HERALD_JWT_LEEWAY`, seconds). Default 30 s.
    public var leeway: Duration
    /// Whether a token without `exp` is refused. Default true: a token that never expires cannot be revoked.
    public var requireExpiration: Bool
    /// Whether a subscription grant without `token_use` is accepted (`HERALD_JWT_UNTYPED_GRANTS`, 0 or 1).
    /// Default true, for backends that sign grants without it; with false only `token_use: "subscribe"` grants
    /// count, so no access token can serve as one. A grant with that claim never opens a connection either way.
    public var acceptUntypedGrants: Bool
    /// Room permission rules, from the configuration file's `auth.rooms`. Default none: only personal rooms.
    public var permissions: RoomPermissions
    public var limits: ConnectionLimits

    public init(
        hmacSecret: String? = nil,
        publicKeyPEM: String? = nil,
        jwksJSON: String? = nil,
        issuer: String? = nil,
        audience: String? = nil,
        leeway: Duration = .seconds(30),
        requireExpiration: Bool = true,
        acceptUntypedGrants: Bool = true,
        permissions: RoomPermissions = RoomPermissions(),
        limits: ConnectionLimits = ConnectionLimits()
    ) {
        self.hmacSecret = hmacSecret
        self.publicKeyPEM = publicKeyPEM
        self.jwksJSON = jwksJSON
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.requireExpiration = requireExpiration
        self.acceptUntypedGrants = acceptUntypedGrants
        self.permissions = permissions
        self.limits = limits
    }

    /// Whether any key is configured, which turns authentication on.
    public var isEnabled: Bool {
        !(hmacSecret ?? "").isEmpty || publicKeyPEM != nil || jwksJSON != nil
    }
}

/// Per-connection limits; exceeding one answers an error, is logged and counted, and repeated abuse disconnects.
public struct ConnectionLimits: Sendable, Hashable {
    /// Rooms a socket may hold through `subscribe` (its own id and personal room not counted). Default 100.
    public var maxRooms: Int
    /// Sustained events per second (token bucket refill). Default 20.
    public var eventsPerSecond: Double
    /// Bucket size: events accepted in a burst. Default 40.
    public var burst: Int
    /// Largest event (name plus arguments as JSON, binary counted by its bytes). Default 65 536 bytes.
    public var maxEventBytes: Int
    /// Violations within `violationWindow` that disconnect the socket. Default 10.
    public var maxViolations: Int
    /// Default 10 s.
    public var violationWindow: Duration

    public init(maxRooms: Int = 100, eventsPerSecond: Double = 20, burst: Int = 40, maxEventBytes: Int = 65_536,
                maxViolations: Int = 10, violationWindow: Duration = .seconds(10)) {
        self.maxRooms = maxRooms
        self.eventsPerSecond = eventsPerSecond
        self.burst = burst
        self.maxEventBytes = maxEventBytes
        self.maxViolations = maxViolations
        self.violationWindow = violationWindow
    }
}

extension AuthConfiguration {
    typealias SettingError = HeraldConfiguration.SettingError

    /// Reads `{"auth": {...}}`; other top-level keys belong to other features and are ignored.
    public mutating func applyFile(_ text: String) throws(RoomRuleError) {
        let file: JSONValue
        do {
            file = try JSONValue(parsing: text)
        } catch {
            throw RoomRuleError("malformed JSON: \(error)")
        }
        guard case .object(let top) = file else { throw RoomRuleError("the configuration file must be a JSON object") }
        guard let section = top["auth"] else { return }
        guard case .object(let auth) = section else { throw RoomRuleError("auth must be an object") }
        if let issuer = auth["issuer"] {
            guard case .string(let text) = issuer else { throw RoomRuleError("auth.issuer must be a string") }
            self.issuer = text
        }
        if let audience = auth["audience"] {
            guard case .string(let text) = audience else { throw RoomRuleError("auth.audience must be a string") }
            self.audience = text
        }
        if let leeway = auth["leewaySeconds"] {
            guard let seconds = leeway.intValue, (0...86_400).contains(seconds) else {
                throw RoomRuleError("auth.leewaySeconds must be an integer 0…86400")
            }
            self.leeway = .seconds(seconds)
        }
        if let rooms = auth["rooms"] {
            guard case .array(let items) = rooms else { throw RoomRuleError("auth.rooms must be an array") }
            var rules: [RoomRule] = []
            for (index, item) in items.enumerated() {
                do {
                    rules.append(try RoomRule(json: item))
                } catch {
                    throw RoomRuleError("auth.rooms[\(index)]: \(error)")
                }
            }
            permissions = RoomPermissions(rules: rules)
        }
        if let limits = auth["limits"] {
            guard case .object(let object) = limits else { throw RoomRuleError("auth.limits must be an object") }
            // Bounded like the flat settings: a window becomes a nanosecond count downstream.
            func positive(_ key: String, maximum: Int = 100_000_000) throws(RoomRuleError) -> Int? {
                guard let value = object[key] else { return nil }
                guard let number = value.intValue, (1...maximum).contains(number) else {
                    throw RoomRuleError("auth.limits.\(key) must be an integer 1…\(maximum)")
                }
                return number
            }
            if let value = try positive("maxRooms") { self.limits.maxRooms = value }
            if let value = try positive("eventsPerSecond") { self.limits.eventsPerSecond = Double(value) }
            if let value = try positive("burst") { self.limits.burst = value }
            if let value = try positive("maxEventBytes") { self.limits.maxEventBytes = value }
            if let value = try positive("maxViolations") { self.limits.maxViolations = value }
            if let value = try positive("violationWindowSeconds", maximum: 86_400) { self.limits.violationWindow = .seconds(value) }
        }
    }
}
