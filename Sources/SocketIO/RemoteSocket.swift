import NIOHTTP1
import SocketIOProtocol

/// A socket as any node sees it: what `fetchSockets` returns, whichever node the client is connected to.
/// Its methods act through the namespace's adapter, so they reach the socket on its own node.
public struct RemoteSocket: Sendable, Hashable {
    public var id: String
    public var namespace: String
    public var rooms: Set<String>
    public var data: JSONValue
    /// The CONNECT auth payload.
    public var auth: JSONValue
    /// The client's address as text.
    public var address: String
    public var query: [String: String]

    public init(id: String, namespace: String, rooms: Set<String>, data: JSONValue, auth: JSONValue, address: String, query: [String: String]) {
        self.id = id
        self.namespace = namespace
        self.rooms = rooms
        self.data = data
        self.auth = auth
        self.address = address
        self.query = query
    }

    public init(_ socket: Socket) {
        self.init(
            id: socket.id, namespace: socket.namespace.name, rooms: socket.rooms, data: socket.data,
            auth: socket.handshake.auth, address: socket.handshake.address, query: socket.handshake.query)
    }

    /// The socket's JSON form, as cluster adapters carry it between nodes.
    public var json: JSONValue {
        .object([
            "id": .string(id), "nsp": .string(namespace), "rooms": .array(rooms.sorted().map(JSONValue.string)),
            "data": data, "auth": auth, "address": .string(address),
            "query": .object(JSONObject(query.sorted(by: { $0.key < $1.key }).map { ($0.key, JSONValue.string($0.value)) })),
        ])
    }

    public init?(json: JSONValue) {
        guard let id = json["id"]?.stringValue, let namespace = json["nsp"]?.stringValue else { return nil }
        var query: [String: String] = [:]
        for (key, value) in json["query"]?.objectValue ?? [:] { query[key] = value.stringValue ?? "" }
        self.init(
            id: id, namespace: namespace,
            rooms: Set((json["rooms"]?.arrayValue ?? []).compactMap(\.stringValue)),
            data: json["data"] ?? .null, auth: json["auth"] ?? .object([:]),
            address: json["address"]?.stringValue ?? "", query: query)
    }
}

extension JSONObject {
    init(_ pairs: [(String, JSONValue)]) {
        self.init()
        for (key, value) in pairs { self[key] = value }
    }
}
