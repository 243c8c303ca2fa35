import Foundation
import NIOCore
import SocketIO
import SocketIOProtocol

/// The built-in `subscribe`, `unsubscribe` and `refresh` requests.
extension AuthGateway {
    /// The room a request names, checked as a `RoomName` with the server's bound.
    static func room(_ request: JSONValue?, of socket: Socket) -> Result<RoomName, AuthError> {
        guard case .string(let name)? = request?["room"] else { return .failure(AuthError(.invalidRoom, "send {room}")) }
        do {
            return .success(try RoomName(name, maxBytes: socket.namespace.server.configuration.maxRoomNameBytes))
        } catch {
            return .failure(AuthError(.invalidRoom, error.description))
        }
    }

    func subscribe(_ socket: Socket, context: AuthContext, request: JSONValue?) async -> AuthReply {
        let reply = await decideSubscription(socket, context: context, request: request)
        state.withLock { state in
            switch reply {
            case .ok: state.stats.subscribed += 1
            case .refused(let error): state.stats.subscribeRefused[error.code, default: 0] += 1
            }
        }
        if case .refused(let error) = reply {
            logger.info("subscribe refused", metadata: [
                "code": "\(error.code.rawValue)", "room": "\(request?["room"]?.stringValue ?? "")", "sub": "\(context.subject)",
            ])
        }
        return reply
    }

    private func decideSubscription(_ socket: Socket, context: AuthContext, request: JSONValue?) async -> AuthReply {
        guard case .object? = request else { return .refused(AuthError(.invalidRequest, "send {room, token?}")) }
        let roomName: RoomName
        switch Self.room(request, of: socket) {
        case .success(let name): roomName = name
        case .failure(let error): return .refused(error)
        }
        let room = roomName.rawValue
        guard room != socket.id else { return .refused(AuthError(.invalidRoom, "a socket's own room is not a subscription")) }
        if room == context.personalRoom { return .ok }
        let grant: String?
        switch request?["token"] {
        case nil, .null?:
            grant = nil
        case .string(let token)?:
            grant = token
        default:
            return .refused(AuthError(.invalidRequest, "token must be a string"))
        }
        var grantExpiry: JSONValue?
        if let grant {
            let claims: ClaimSet
            do {
                claims = try await verify(grant)
            } catch {
                return .refused(AuthError(error.code, "subscription token: \(error.message)"))
            }
            // An access token is no grant: a grant says so (token_use), or, while untyped grants are accepted,
            // says nothing.
            switch claims["token_use"]?.stringValue {
            case Self.grantUse?: break
            case nil where claims["token_use"] == nil && configuration.acceptUntypedGrants: break
            default:
                return .refused(AuthError(.tokenInvalid, "subscription token: not a subscription grant (token_use \(Self.grantUse))"))
            }
            let rooms: [String] = (claims["room"]?.stringValue.map { [$0] } ?? [])
                + (claims["rooms"]?.arrayValue ?? []).compactMap(\.stringValue)
            // A grant is for one user: a leaked one cannot be replayed by another account.
            guard rooms.contains(room), claims.subject == context.subject else {
                return .refused(AuthError(.forbidden, "the subscription token does not grant \(room) to this user"))
            }
            grantExpiry = claims["exp"].flatMap { claims.seconds("exp") != nil ? $0 : nil } ?? .null
        } else if !allows(room, claims: context.claims) {
            return .refused(AuthError(.forbidden, "not allowed to subscribe to \(room)"))
        }
        return await admit(socket, room: roomName, grantExpiry: grantExpiry)
    }

    /// Subscribes a socket the backend named (`POST /api/users/{sub}/subscribe`): no rule is asked, the room is held
    /// like a grant without expiry (so a recovery keeps it) and counts against `maxRooms` like any subscription.
    func subscribeByServer(_ socket: Socket, room: RoomName) async -> AuthReply {
        guard room.rawValue != socket.id else { return .refused(AuthError(.invalidRoom, "a socket's own room is not a subscription")) }
        if let subject = context(of: socket)?.subject, room.rawValue == Self.personalRoom(subject) { return .ok }
        return await admit(socket, room: room, grantExpiry: .null)
    }

    /// Unsubscribes a socket the backend named; the personal room stays.
    func unsubscribeByServer(_ socket: Socket, room: RoomName) -> AuthReply {
        guard let context = context(of: socket) else { return .refused(AuthError(.invalidRequest, "the connection is closing")) }
        return unsubscribe(socket, context: context, request: ["room": .string(room.rawValue)])
    }

    /// Takes a slot within `maxRooms` and joins; `grantExpiry` non-nil records the room as held by a grant.
    private func admit(_ socket: Socket, room roomName: RoomName, grantExpiry: JSONValue?) async -> AuthReply {
        let room = roomName.rawValue
        // Reserve the slot under the lock so concurrent subscribes cannot exceed the limit.
        let verdict = state.withLock { state -> ConnectionLimiter.Verdict? in
            guard var session = state.sessions[socket.id] else { return nil }
            defer { state.sessions[socket.id] = session }
            if session.subscribed.contains(room) {
                if let grantExpiry { session.grants[room] = grantExpiry }
                return .admitted
            }
            guard session.subscribed.count < configuration.limits.maxRooms else {
                let verdict = session.limiter.violation(
                    AuthError(.tooManyRooms, "at most \(configuration.limits.maxRooms) rooms per connection"), now: .now())
                if case .refused(_, true) = verdict { state.stats.abusiveDisconnects += 1 }
                return verdict
            }
            session.subscribed.insert(room)
            if let grantExpiry { session.grants[room] = grantExpiry }
            return .admitted
        }
        switch verdict {
        case nil:
            return .refused(AuthError(.invalidRequest, "the connection is closing"))
        case .admitted?:
            if grantExpiry != nil { publishIdentity(socket) }
            // The ack says "subscribed": a publish from any node right after it must reach this socket.
            do {
                try await socket.joinReachable([roomName])
            } catch {
                // The server's own cap on rooms per socket (every path, chat included) refused it: free the slot.
                state.withLock { state in
                    state.sessions[socket.id]?.subscribed.remove(room)
                    state.sessions[socket.id]?.grants[room] = nil
                }
                if grantExpiry != nil { publishIdentity(socket) }
                return .refused(AuthError(.tooManyRooms, "at most \(error.limit) rooms per connection"))
            }
            return .ok
        case .refused(let error, let disconnect)?:
            if disconnect { socket.disconnect() }
            return .refused(error)
        }
    }

    func unsubscribe(_ socket: Socket, context: AuthContext, request: JSONValue?) -> AuthReply {
        let room: String
        switch Self.room(request, of: socket) {
        case .success(let name): room = name.rawValue
        case .failure(let error): return .refused(error)
        }
        guard room != socket.id, room != context.personalRoom else {
            return .refused(AuthError(.invalidRoom, "the personal room cannot be left"))
        }
        let hadGrant = state.withLock { state in
            state.sessions[socket.id]?.subscribed.remove(room)
            guard state.sessions[socket.id]?.grants[room] != nil else { return false }
            state.sessions[socket.id]?.grants[room] = nil
            return true
        }
        if hadGrant { publishIdentity(socket) }
        socket.leave(room)
        return .ok
    }

    func refresh(_ socket: Socket, context: AuthContext, request: JSONValue?) async -> AuthReply {
        let reply: AuthReply
        if case .string(let token)? = request?["token"] {
            do {
                let claims = try await verifyAccess(token)
                if claims.subject != context.subject {
                    reply = .refused(AuthError(.subjectMismatch, "a refreshed token must be for the same user (sub)"))
                } else {
                    let updated = AuthContext(subject: context.subject, claims: claims)
                    let present = state.withLock { state -> Bool in
                        guard state.sessions[socket.id] != nil else { return false }
                        state.sessions[socket.id]!.context = updated
                        state.stats.refreshed += 1
                        return true
                    }
                    guard present else { return .refused(AuthError(.invalidRequest, "the connection is closing")) }
                    publishIdentity(socket)
                    socket.eventLoop.execute { [self] in scheduleExpiry(socket, claims: claims) }
                    return .ok
                }
            } catch {
                reply = .refused(error)
            }
        } else {
            reply = .refused(AuthError(.invalidRequest, "send {token}"))
        }
        state.withLock { $0.stats.refreshRefused += 1 }
        if case .refused(let error) = reply {
            logger.info("refresh refused", metadata: ["code": "\(error.code.rawValue)", "sub": "\(context.subject)"])
        }
        return reply
    }

    /// Writes the session's subject, claims and grants to `socket.data`, where handlers and recovery read them.
    func publishIdentity(_ socket: Socket) {
        guard let session = state.withLock({ $0.sessions[socket.id] }) else { return }
        socket.data = Self.data(subject: session.context.subject, claims: session.context.claims, grants: session.grants)
    }
}
