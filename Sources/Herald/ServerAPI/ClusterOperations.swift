import Logging
import SocketIO
import SocketIOProtocol

/// The server API's operations on users, run on every node: this node acts on its own sockets and asks the others
/// through the adapter's server-side emit (`herald:api`), which waits for every node's answer (with Redis, within the
/// adapter's request timeout). Holds no state: its parts are thread-safe.
public struct ClusterOperations: Sendable {
    let io: SocketIOServer
    let auth: AuthGateway?
    let presence: PresenceTracker
    let node: String
    let logger: Logger
    /// The server-side event the nodes exchange; applications must not use it.
    public static let event = "herald:api"
    /// Sent to each connection of a user the backend disconnects, just before the Socket.IO DISCONNECT.
    public static let kickedEvent = "herald:disconnect"

    public enum Operation: String, Sendable {
        case user, kick, subscribe, unsubscribe, stats
    }

    /// Answers the other nodes' requests.
    public func install() {
        io.sockets.onServerSideEmit { [self] event in
            guard event.name == Self.event, event.wantsAck else { return }
            Task { event.ack([await local(event[0] ?? .null)]) }
        }
    }

    /// This node's answer, then every other node's.
    public func run(_ request: JSONValue) async throws -> [JSONValue] {
        async let others = io.sockets.adapter.serverSideEmit(Self.event, args: [request], expectingAcks: true)
        let mine = await local(request)
        return [mine] + (try await others).compactMap(\.first)
    }

    /// Acts on this node's sockets; a request it cannot read gets `{}`.
    func local(_ request: JSONValue) async -> JSONValue {
        guard let name = request["op"]?.stringValue, let operation = Operation(rawValue: name) else { return [:] }
        if operation == .stats { return await stats() }
        guard let subject = request["sub"]?.stringValue else { return [:] }
        let sockets = await io.sockets.adapter.localSockets(BroadcastOptions(rooms: [AuthGateway.personalRoom(subject)]))
        let maxBytes = io.configuration.maxRoomNameBytes
        switch operation {
        case .user:
            return ["node": .string(node), "sockets": .array(sockets.map { socket in
                [
                    "id": .string(socket.id), "node": .string(node), "transport": .string(socket.transport.rawValue),
                    "rooms": .array(Self.visibleRooms(socket, subject: subject).map(JSONValue.string)),
                ]
            })]
        case .kick:
            let reason = request["reason"] ?? .null
            for socket in sockets {
                socket.emit(Self.kickedEvent, ["reason": reason])
                socket.disconnect()
            }
            if !sockets.isEmpty {
                logger.info("user disconnected by the server API", metadata: ["sub": "\(subject)", "connections": "\(sockets.count)"])
            }
            return ["node": .string(node), "disconnected": .int(sockets.count)]
        case .subscribe, .unsubscribe:
            let rooms = (request["rooms"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { RoomName(validating: $0, maxBytes: maxBytes) } }
            var results: [JSONValue] = []
            for socket in sockets {
                var refused: [JSONValue] = []
                for room in rooms {
                    let reply = operation == .subscribe ? await subscribe(socket, room) : unsubscribe(socket, room)
                    if case .refused(let error) = reply { refused.append(["room": .string(room.rawValue), "error": error.json]) }
                }
                results.append(["socket": .string(socket.id), "node": .string(node), "ok": .bool(refused.isEmpty), "refused": .array(refused)])
            }
            return ["node": .string(node), "sockets": .array(results)]
        case .stats:
            return await stats()
        }
    }

    private func subscribe(_ socket: Socket, _ room: RoomName) async -> AuthReply {
        if let auth { return await auth.subscribeByServer(socket, room: room) }
        do {
            try await socket.joinReachable([room])
            return .ok
        } catch {
            return .refused(AuthError(.tooManyRooms, "at most \(error.limit) rooms per connection"))
        }
    }

    private func unsubscribe(_ socket: Socket, _ room: RoomName) -> AuthReply {
        if let auth { return auth.unsubscribeByServer(socket, room: room) }
        socket.leave(room)
        return .ok
    }

    /// A socket's rooms without its own and its personal room.
    static func visibleRooms(_ socket: Socket, subject: String) -> [String] {
        socket.rooms.subtracting([socket.id, AuthGateway.personalRoom(subject)]).sorted()
    }

    /// This node's counts, from counters kept as sockets come and go and rooms appear and vanish: O(1) whatever
    /// the number of sockets and rooms.
    func stats() async -> JSONValue {
        [
            "node": .string(node), "connections": .int(io.sockets.socketCount), "rooms": .int(await NodeResources.roomCount(io.sockets)),
            "users": .int(auth == nil ? 0 : presence.localUsers),
        ]
    }
}
