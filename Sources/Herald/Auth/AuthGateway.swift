import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SocketIO
import SocketIOProtocol
import Synchronization

/// Who a socket is: its subject and verified claims.
public struct AuthContext: Sendable, Hashable {
    public var subject: String
    public var claims: ClaimSet
    /// The socket's personal room, `user:{sub}`.
    public var personalRoom: String { AuthGateway.personalRoom(subject) }
}

/// Authentication at the handshake, room permissions, token refresh and expiry, and per-connection limits,
/// installed on a namespace. One per node; per-socket state lives here, keyed by socket id.
public final class AuthGateway: Sendable {
    public let configuration: AuthConfiguration
    let logger: Logger
    /// Keys are built once, asynchronously (jwt-kit's key collection is an actor); `ready()` surfaces errors.
    private let verifierTask: Task<TokenVerifier, any Error>
    let state = Mutex(State())

    struct State {
        var stats = AuthStats()
        var sessions: [String: Session] = [:]
    }

    struct Session {
        var context: AuthContext
        var limiter: ConnectionLimiter
        var expiry: Scheduled<Void>?
        /// Rooms joined through `subscribe`, counted against `maxRooms`.
        var subscribed: Set<String> = []
        /// Rooms held by a subscription grant, with the grant's `exp` (null: none), kept in `socket.data` so that
        /// a recovery can tell whether the grant still holds.
        var grants: JSONObject = [:]
    }

    /// Built-in events answered by the gateway.
    public static let subscribeEvent = "subscribe"
    public static let unsubscribeEvent = "unsubscribe"
    public static let refreshEvent = "refresh"
    /// Sent just before a socket whose token expired is disconnected.
    public static let expiredEvent = "auth:expired"
    /// Sent for a refused event that asked for no acknowledgement.
    public static let errorEvent = "error"

    public init(configuration: AuthConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        verifierTask = Task { try await TokenVerifier(configuration) }
    }

    /// Waits for the keys; throws when a configured key cannot be used.
    public func ready() async throws { _ = try await verifierTask.value }

    public var stats: AuthStats { state.withLock { $0.stats } }

    public static func personalRoom(_ subject: String) -> String { "user:\(subject)" }

    /// The authenticated identity of a connected socket, nil when it has none (or left).
    public func context(of socket: Socket) -> AuthContext? {
        state.withLock { $0.sessions[socket.id]?.context }
    }

    /// Whether the room rules let `claims` into `room` (for HTTP routes authorised like the room).
    public func allows(_ room: String, claims: ClaimSet) -> Bool {
        configuration.permissions.allows(room, claims: claims)
    }

    /// Verifies a token with the configured keys and claim checks.
    public func verify(_ token: String, now: Date = Date()) async throws(AuthError) -> ClaimSet {
        let verifier: TokenVerifier
        do {
            verifier = try await verifierTask.value
        } catch {
            throw AuthError(.tokenInvalid, "the server's keys are not usable")
        }
        return try await verifier.verify(token, now: now)
    }

    /// The `token_use` claim value of a subscription grant.
    public static let grantUse = "subscribe"

    /// Verifies a token that opens a connection or refreshes one: a subscription grant is refused.
    public func verifyAccess(_ token: String) async throws(AuthError) -> ClaimSet {
        let claims = try await verify(token)
        if claims["token_use"]?.stringValue == Self.grantUse {
            throw AuthError(.tokenInvalid, "a subscription grant (token_use \(Self.grantUse)) cannot open a connection or refresh one")
        }
        return claims
    }

    // MARK: Installing

    public func install(on namespace: Namespace) {
        namespace.use { [self] socket in try await authenticate(socket) }
        namespace.onConnection { [self] socket in attach(socket) }
    }

    /// A handler that runs only for events that passed the limits, with the socket's identity.
    public func on(_ socket: Socket, _ event: String, _ handler: @escaping @Sendable (SocketIOEvent, AuthContext) -> Void) {
        socket.on(event) { [self] received in
            guard let context = admittedContext(socket) else { return }
            handler(received, context)
        }
    }

    /// The token from CONNECT `auth.token`, else from `Authorization: Bearer …`.
    public static func token(auth: JSONValue, headers: HTTPHeaders) -> String? {
        if case .string(let token)? = auth["token"], !token.isEmpty { return token }
        for value in headers["authorization"] {
            let parts = value.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                let token = parts[1].trimmingCharacters(in: .whitespaces)
                if !token.isEmpty { return token }
            }
        }
        return nil
    }

    // MARK: Handshake

    func authenticate(_ socket: Socket) async throws {
        guard let token = Self.token(auth: socket.handshake.auth, headers: socket.handshake.headers) else {
            throw refuse(AuthError(.tokenMissing, "authentication required: send auth {token} or an Authorization: Bearer header"), socket)
        }
        let claims: ClaimSet
        do {
            claims = try await verifyAccess(token)
        } catch {
            throw refuse(error, socket)
        }
        let subject = claims.subject!
        socket.data = Self.data(subject: subject, claims: claims, grants: [:])
        // Joins made in middleware are applied when the socket is accepted.
        socket.join(Self.personalRoom(subject))
        state.withLock { $0.stats.accepted += 1 }
    }

    private func refuse(_ error: AuthError, _ socket: Socket) -> ConnectError {
        state.withLock { $0.stats.refused[error.code, default: 0] += 1 }
        logger.info("connection refused", metadata: [
            "code": "\(error.code.rawValue)", "reason": "\(error.message)", "address": "\(socket.handshake.address)",
        ])
        return ConnectError(error.message, data: ["code": .string(error.code.rawValue)])
    }

    /// What a socket's `data` holds: `sub`, `claims`, and `grants` when a subscription grant holds a room.
    static func data(subject: String, claims: ClaimSet, grants: JSONObject) -> JSONValue {
        var data: JSONObject = ["sub": .string(subject), "claims": .object(claims.object)]
        if !grants.isEmpty { data["grants"] = .object(grants) }
        return .object(data)
    }

    /// Rooms `subscribe` counts against `maxRooms`: not the socket's own, not its personal room, not chat rooms
    /// (`chat:join` counts those against the chat's own cap).
    static func countsAgainstMaxRooms(_ room: String, socketID: String, subject: String) -> Bool {
        room != socketID && room != personalRoom(subject) && !ChatService.isChatRoom(room)
    }

    /// Runs on the socket's event loop once it is accepted.
    func attach(_ socket: Socket) {
        guard case .string(let subject)? = socket.data["sub"], case .object(let object)? = socket.data["claims"] else { return }
        let context = AuthContext(subject: subject, claims: ClaimSet(object))
        var session = Session(context: context, limiter: ConnectionLimiter(limits: configuration.limits, now: .now()))
        if socket.recovered {
            // The recovery gate checked these rooms and their number; they keep counting against the cap.
            session.subscribed = socket.rooms.filter { Self.countsAgainstMaxRooms($0, socketID: socket.id, subject: subject) }
            session.grants = socket.data["grants"]?.objectValue ?? [:]
        }
        state.withLock { $0.sessions[socket.id] = session }
        scheduleExpiry(socket, claims: context.claims)
        // A gate, not a listener: an event over the limits never reaches any handler.
        socket.use { [self] event in inspect(socket, event) }
        socket.on(Self.subscribeEvent) { [self] event in
            guard let context = admittedContext(socket) else { return }
            Task { event.ack(await subscribe(socket, context: context, request: event[0]).reply) }
        }
        socket.on(Self.unsubscribeEvent) { [self] event in
            guard let context = admittedContext(socket) else { return }
            event.ack(unsubscribe(socket, context: context, request: event[0]).reply)
        }
        socket.on(Self.refreshEvent) { [self] event in
            guard let context = admittedContext(socket) else { return }
            Task { event.ack(await refresh(socket, context: context, request: event[0]).reply) }
        }
        socket.onDisconnect { [self] _ in
            let session = state.withLock { $0.sessions.removeValue(forKey: socket.id) }
            session?.expiry?.cancel()
        }
    }

    // MARK: Recovery

    /// The recovery gate: the returning client presents a valid access token for the saved `sub`; every saved
    /// room must still be granted, by the new claims' rules or by a subscription grant that has not expired; the
    /// rooms stay within `maxRooms`. The recovered socket gets the new claims. Anything else: a new session.
    public func admitRecovery(_ session: RecoverableSession, handshake: SocketIOHandshake) async -> JSONValue? {
        let refusal: String
        decide: do {
            guard let token = Self.token(auth: handshake.auth, headers: handshake.headers) else {
                refusal = "no token"
                break decide
            }
            let claims: ClaimSet
            do {
                claims = try await verifyAccess(token)
            } catch {
                refusal = error.code.rawValue
                break decide
            }
            guard let subject = claims.subject, session.data["sub"]?.stringValue == subject else {
                refusal = "another sub"
                break decide
            }
            let saved = session.data["grants"]?.objectValue ?? [:]
            let now = Date().timeIntervalSince1970
            var grants: JSONObject = [:]
            var counted = 0
            for room in session.rooms where room != session.id && room != Self.personalRoom(subject) {
                if Self.countsAgainstMaxRooms(room, socketID: session.id, subject: subject) { counted += 1 }
                if allows(room, claims: claims) { continue }
                guard let grant = saved[room], grantHolds(grant, now: now) else {
                    refusal = "room no longer granted"
                    break decide
                }
                grants[room] = grant
            }
            guard counted <= configuration.limits.maxRooms else {
                refusal = "too many rooms"
                break decide
            }
            state.withLock { $0.stats.recovered += 1 }
            return Self.data(subject: subject, claims: claims, grants: grants)
        }
        state.withLock { $0.stats.recoveryRefused += 1 }
        logger.info("recovery refused: new session", metadata: ["reason": "\(refusal)", "socket": "\(session.id)"])
        return nil
    }

    /// Whether a grant's recorded `exp` (null: none) is still ahead, leeway included.
    private func grantHolds(_ exp: JSONValue, now: Double) -> Bool {
        switch exp {
        case .null: true
        case .int(let seconds): Double(seconds) + Double(configuration.leeway.components.seconds) > now
        case .double(let seconds): seconds + Double(configuration.leeway.components.seconds) > now
        default: false
        }
    }

    private func admittedContext(_ socket: Socket) -> AuthContext? {
        state.withLock { $0.sessions[socket.id]?.context }
    }

    // MARK: Expiry

    func scheduleExpiry(_ socket: Socket, claims: ClaimSet) {
        guard let exp = claims.seconds("exp") else { return }
        let leeway = Double(configuration.leeway.components.seconds)
        let remaining = max(0, exp + leeway - Date().timeIntervalSince1970)
        let timer = socket.eventLoop.scheduleTask(in: Self.timeAmount(seconds: remaining)) { [self] in
            let session = state.withLock { state -> Session? in
                // A refresh since this timer was set moved the expiry: that newer timer decides.
                guard state.sessions[socket.id]?.context.claims.seconds("exp") == exp,
                      let session = state.sessions.removeValue(forKey: socket.id) else { return nil }
                state.stats.expired += 1
                return session
            }
            guard let session else { return }
            logger.info("token expired: disconnecting", metadata: ["sub": "\(session.context.subject)", "socket": "\(socket.id)"])
            socket.emit(Self.expiredEvent, AuthError(.tokenExpired, "the token expired; reconnect with a new one").json)
            socket.disconnect()
        }
        let previous = state.withLock { state -> Scheduled<Void>? in
            guard state.sessions[socket.id] != nil else { return nil }
            defer { state.sessions[socket.id]?.expiry = timer }
            return state.sessions[socket.id]?.expiry
        }
        previous?.cancel()
    }

    /// `seconds` as a timer delay, saturating at TimeAmount's 292 years: the claim and the leeway come from
    /// outside, and `Int64(seconds * 1e9)` traps beyond that.
    static func timeAmount(seconds: Double) -> TimeAmount {
        guard seconds > 0 else { return .zero }
        let nanoseconds = seconds * 1e9
        return nanoseconds < Double(Int64.max) ? .nanoseconds(Int64(nanoseconds)) : .nanoseconds(.max)
    }

    // MARK: Limits

    /// The limits gate: true lets the event through to its handlers.
    private func inspect(_ socket: Socket, _ event: SocketIOEvent) -> Bool {
        let size = ConnectionLimiter.size(of: event.name, args: event.args)
        let verdict = state.withLock { state -> ConnectionLimiter.Verdict? in
            guard state.sessions[socket.id] != nil else { return nil }
            let verdict = state.sessions[socket.id]!.limiter.admit(size: size, now: .now())
            if case .refused(let error, let disconnect) = verdict {
                state.stats.limited[error.code, default: 0] += 1
                if disconnect { state.stats.abusiveDisconnects += 1 }
            }
            return verdict
        }
        guard case .refused(let error, let disconnect)? = verdict else { return true }
        answer(socket, event, error, disconnect: disconnect)
        return false
    }

    private func answer(_ socket: Socket, _ event: SocketIOEvent, _ error: AuthError, disconnect: Bool) {
        logger.notice("event refused", metadata: [
            "code": "\(error.code.rawValue)", "event": "\(event.name)", "socket": "\(socket.id)",
            "sub": "\(context(of: socket)?.subject ?? "")",
        ])
        if event.wantsAck {
            event.ack(error.ack)
        } else {
            socket.emit(Self.errorEvent, ["code": .string(error.code.rawValue), "message": .string(error.message), "event": .string(event.name)])
        }
        if disconnect {
            logger.warning("repeated violations: disconnecting", metadata: ["socket": "\(socket.id)"])
            socket.disconnect()
        }
    }
}

/// The result of a built-in request: `{"ok":true}` or `{"ok":false,"error":{code,message}}`.
enum AuthReply: Equatable {
    case ok
    case refused(AuthError)

    var reply: JSONValue {
        switch self {
        case .ok: ["ok": true]
        case .refused(let error): error.ack
        }
    }
}
