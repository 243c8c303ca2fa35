import EngineIO
import NIOCore
import NIOHTTP1
import SocketIO
import SocketIOProtocol
import HeraldPercentCoding

/// The server API beside `POST /api/publish` (same listener, key and error shape; docs/openapi.yaml):
/// users (`GET /api/users/{sub}`, `POST …/disconnect`, `…/subscribe`, `…/unsubscribe`), `GET /api/stats` and
/// `GET /api/rooms/{room}/presence`. The caller checked the API key. Stateless.
public struct ServerAPI: Sendable {
    let operations: ClusterOperations
    let presence: PresenceTracker
    let maxRoomNameBytes: Int
    /// Rooms one subscribe or unsubscribe request may name. Default 100 (the default `maxRooms`).
    let maxRoomsPerRequest: Int
    /// Longest disconnect reason, in UTF-8 bytes.
    static let maxReasonBytes = 256
    /// Sockets listed by `GET /api/users/{sub}` (the count is complete).
    static let maxListedSockets = 100

    public init(operations: ClusterOperations, presence: PresenceTracker, maxRoomNameBytes: Int, maxRoomsPerRequest: Int) {
        self.operations = operations
        self.presence = presence
        self.maxRoomNameBytes = maxRoomNameBytes
        self.maxRoomsPerRequest = maxRoomsPerRequest
    }

    /// Whether `path` is one of the server API's (checked before the key, so other paths stay 404s).
    static func serves(_ path: String) -> Bool {
        path == "/api/stats" || path.hasPrefix("/api/users/") || path.hasPrefix("/api/rooms/")
    }

    /// nil when the path is none of the server API's.
    func respond(to request: HTTPRequestContext) async -> HTTPResponse? {
        let path = request.path
        if path == "/api/stats" {
            guard request.method == .GET else { return PublishAPI.methodNotAllowed(allow: "GET") }
            return await cluster { try await stats() }
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        // ["api", "rooms", room, "presence"] and ["api", "users", sub, action?]
        guard parts.count >= 3, parts.first == "api" else { return nil }
        let segments = Array(parts.dropFirst())
        switch segments[0] {
        case "rooms" where segments.count == 3 && segments[2] == "presence":
            guard request.method == .GET else { return PublishAPI.methodNotAllowed(allow: "GET") }
            let room = PercentCoding.decode(segments[1])
            guard let name = RoomName(validating: room, maxBytes: maxRoomNameBytes) else {
                return PublishAPI.error(.badRequest, "invalid room name")
            }
            guard presence.keepsPresence(name.rawValue) else { return PublishAPI.error(.notFound, "room \(room) keeps no presence") }
            return await cluster { .json(.ok, try await presence.presence(of: name.rawValue).jsonString) }
        case "users" where segments.count == 2 || segments.count == 3:
            let subject = PercentCoding.decode(segments[1])
            guard !subject.isEmpty, RoomName(validating: AuthGateway.personalRoom(subject), maxBytes: maxRoomNameBytes) != nil else {
                return PublishAPI.error(.badRequest, "invalid sub")
            }
            if segments.count == 2 {
                guard request.method == .GET else { return PublishAPI.methodNotAllowed(allow: "GET") }
                return await cluster { try await user(subject) }
            }
            guard ["disconnect", "subscribe", "unsubscribe"].contains(segments[2]) else { return nil }
            guard request.method == .POST else { return PublishAPI.methodNotAllowed(allow: "POST") }
            switch segments[2] {
            case "disconnect": return await disconnect(subject, body: request.body)
            case "subscribe": return await subscription(.subscribe, subject, body: request.body)
            case "unsubscribe": return await subscription(.unsubscribe, subject, body: request.body)
            default: return nil
            }
        default:
            return nil
        }
    }

    /// 503 with the error shape when some node did not answer.
    private func cluster(_ body: () async throws -> HTTPResponse) async -> HTTPResponse {
        do {
            return try await body()
        } catch {
            return PublishAPI.error(.serviceUnavailable, "the cluster could not answer: \(error)")
        }
    }

    func user(_ subject: String) async throws -> HTTPResponse {
        let answers = try await operations.run(["op": "user", "sub": .string(subject)])
        let sockets = answers.flatMap { $0["sockets"]?.arrayValue ?? [] }
        var rooms = Set<String>()
        for socket in sockets { rooms.formUnion((socket["rooms"]?.arrayValue ?? []).compactMap(\.stringValue)) }
        return .json(.ok, JSONValue.object([
            "sub": .string(subject), "connected": .bool(!sockets.isEmpty), "connections": .int(sockets.count),
            "rooms": .array(rooms.sorted().map(JSONValue.string)),
            "sockets": .array(Array(sockets.prefix(Self.maxListedSockets))),
        ]).jsonString)
    }

    func disconnect(_ subject: String, body: ByteBuffer?) async -> HTTPResponse {
        var reason: JSONValue = .null
        if let body, body.readableBytes > 0 {
            guard let json = try? JSONValue(parsing: body), case .object = json else {
                return PublishAPI.error(.badRequest, "the body must be a JSON object {reason?}")
            }
            switch json["reason"] {
            case nil, .null?: break
            case .string(let text)? where text.utf8.count <= Self.maxReasonBytes: reason = .string(text)
            default: return PublishAPI.error(.badRequest, "reason must be a string of at most \(Self.maxReasonBytes) bytes")
            }
        }
        return await cluster {
            let answers = try await operations.run(["op": "kick", "sub": .string(subject), "reason": reason])
            let count = answers.reduce(0) { $0 + ($1["disconnected"]?.intValue ?? 0) }
            return .json(.ok, JSONValue.object(["sub": .string(subject), "disconnected": .int(count)]).jsonString)
        }
    }

    func subscription(_ operation: ClusterOperations.Operation, _ subject: String, body: ByteBuffer?) async -> HTTPResponse {
        guard let body, let json = try? JSONValue(parsing: body), case .array(let items)? = json["rooms"] else {
            return PublishAPI.error(.badRequest, "send {\"rooms\": [names]}")
        }
        guard !items.isEmpty, items.count <= maxRoomsPerRequest else {
            return PublishAPI.error(.badRequest, "rooms must name 1 to \(maxRoomsPerRequest) rooms")
        }
        var rooms: [JSONValue] = []
        for item in items {
            guard case .string(let text) = item, RoomName(validating: text, maxBytes: maxRoomNameBytes) != nil else {
                return PublishAPI.error(.badRequest, "invalid room name in rooms")
            }
            rooms.append(.string(text))
        }
        return await cluster {
            let answers = try await operations.run(["op": .string(operation.rawValue), "sub": .string(subject), "rooms": .array(rooms)])
            let sockets = answers.flatMap { $0["sockets"]?.arrayValue ?? [] }
            return .json(.ok, JSONValue.object([
                "sub": .string(subject), "connections": .int(sockets.count),
                "sockets": .array(Array(sockets.prefix(Self.maxListedSockets))),
            ]).jsonString)
        }
    }

    func stats() async throws -> HTTPResponse {
        let nodes = try await operations.run(["op": "stats"]).filter { $0["node"] != nil }
        let connections = nodes.reduce(0) { $0 + ($1["connections"]?.intValue ?? 0) }
        // Users are counted once however many nodes they are connected to: the presence store's user set.
        let users = operations.auth == nil ? 0 : try await presence.store.snapshot(room: "", limit: 0).users
        return .json(.ok, JSONValue.object([
            "nodes": .array(nodes),
            "total": ["nodes": .int(nodes.count), "connections": .int(connections), "users": .int(users)],
        ]).jsonString)
    }
}
