import NIOCore
import SocketIO
import SocketIOProtocol

// The cluster's wire formats, all in this folder: channel and key names, the broadcast envelope
// (ClusterBroadcast.swift), its logged form, requests and responses between nodes, and saved recovery sessions.
// Nodes of two versions run side by side during a rolling deploy, so a change here must still read what the
// previous version writes (WireCompatibilityTests decodes today's exact bytes). Every byte read is outside
// input: JSON is parsed by the bounded `JSONValue(parsing:)` and decoded by `WireDecoder` (a wrong shape throws,
// never traps), room names are checked as `RoomName`s, and a message that fails is counted
// (`droppedMessages`) and dropped.
// Concurrency: values only (Sendable structs), no shared state.

// MARK: Channels and keys

extension RedisAdapter {
    /// What a cluster channel carries; `channelName` spells each one.
    enum ChannelKind: Hashable {
        /// Broadcasts to the whole namespace, to several rooms or to a socket's own room.
        case namespace
        /// Broadcasts to exactly this room.
        case room(String)
        /// Cluster requests to every node.
        case request
        /// Answers to one node's requests.
        case response(node: String)
    }

    /// The channel layout, injective so that no namespace or room can reach another's channel or a control
    /// channel (`|x|` is x's length in UTF-8 bytes, in decimal):
    ///
    ///     P#|N|:N#              namespace broadcasts       P#|N|:N#r|R|:R   room R
    ///     P#|N|:N#request       cluster requests           P#|N|:N#response#ID   answers to node ID
    ///
    /// The namespace's length says where it ends whatever it contains (`#` included); after it, a room channel
    /// is `r` and a digit, which neither control suffix can be, and the room's length runs to the end.
    static func channelName(prefix: String, namespace: String, _ kind: ChannelKind) -> String {
        let base = "\(prefix)#\(namespace.utf8.count):\(namespace)#"
        switch kind {
        case .namespace: return base
        case .room(let room): return base + "r\(room.utf8.count):" + room
        case .request: return base + "request"
        case .response(let node): return base + "response#" + node
        }
    }

    /// The namespace's event log key (and the prefix of its epoch and session keys), length-prefixed like the
    /// channels so that no namespace's keys can be another's.
    /// The braces are a Redis Cluster hash tag: the stream, its epoch and the sessions share one slot, as the
    /// append script touching two of them requires.
    static func logName(prefix: String, namespace: String) -> String { "\(prefix):log:{\(namespace.utf8.count):\(namespace)}" }
}

// MARK: Logged broadcasts

/// A broadcast with its log offset, as `ClusterLog.appendAndPublish` publishes it: `H2<offset>\n<entry>`.
enum LoggedBroadcast {
    static let prefix = Array("H2".utf8)

    /// Splits `H2<offset>\n<entry>`; nil for a plain broadcast.
    static func split(_ message: ByteBuffer) -> (offset: String, entry: ByteBuffer)? {
        let view = message.readableBytesView
        guard view.count > 3, view.starts(with: prefix), let newline = view.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let start = view.startIndex
        guard let offset = message.getString(at: start + 2, length: newline - start - 2),
              let entry = message.getSlice(at: newline + 1, length: view.endIndex - newline - 1)
        else { return nil }
        return (offset, entry)
    }

    static func join(offset: String, entry: ByteBuffer) -> ByteBuffer {
        var message = ByteBuffer()
        message.reserveCapacity(entry.readableBytes + offset.utf8.count + 3)
        message.writeBytes(prefix)
        message.writeString(offset)
        message.writeInteger(UInt8(ascii: "\n"))
        var entry = entry
        message.writeBuffer(&entry)
        return message
    }
}

// MARK: JSON messages

/// The JSON messages' framing: UTF-8 JSON text, one message per bus message or log value.
enum WireJSONMessage {
    static func decode<T: Decodable>(_ type: T.Type, from message: ByteBuffer) throws -> T {
        try WireDecoder.decode(type, from: JSONValue(parsing: message))
    }

    static func encode(_ value: some Encodable) throws -> ByteBuffer {
        ByteBuffer(string: try WireEncoder.encode(value).jsonString)
    }
}

/// Whose sockets a request is about: `{"rooms":[…],"except":[…]}`, each list absent meaning empty.
struct WireAudience: Codable, Equatable {
    var rooms: [String] = []
    var except: [String] = []

    init(rooms: [String] = [], except: [String] = []) {
        self.rooms = rooms
        self.except = except
    }

    init(_ options: BroadcastOptions) {
        self.init(rooms: options.rooms.sorted(), except: options.except.sorted())
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rooms = try container.decodeIfPresent([String].self, forKey: .rooms) ?? []
        except = try container.decodeIfPresent([String].self, forKey: .except) ?? []
    }

    /// The audience on this node; nil when a room in it is not a valid `RoomName` (dropping only the bad room
    /// could widen the audience to everyone).
    func options(maxRoomBytes: Int) -> BroadcastOptions? {
        guard let rooms = validRooms(rooms, maxBytes: maxRoomBytes), let except = validRooms(except, maxBytes: maxRoomBytes) else { return nil }
        return BroadcastOptions(rooms: rooms, except: except, local: true)
    }
}

/// The rooms when every one is a valid `RoomName`; nil otherwise.
func validRooms(_ rooms: [String], maxBytes: Int) -> Set<String>? {
    var valid = Set<String>(minimumCapacity: rooms.count)
    for room in rooms {
        guard RoomName(validating: room, maxBytes: maxBytes) != nil else { return nil }
        valid.insert(room)
    }
    return valid
}

/// A request to every node, on the namespace's request channel. On the wire one flat object: the body's fields,
/// then `type`, `id` (the answers carry it back) and `origin` (the requester's node id, where answers go), e.g.
/// `{"opts":{"rooms":["a"],"except":[]},"rooms":["b"],"type":"addSockets","id":"…","origin":"…"}`.
struct ClusterRequest: Equatable {
    enum Kind: String, Codable {
        case fetchSockets, addSockets, removeSockets, disconnectSockets, serverSideEmit
    }

    enum Body: Equatable {
        case fetchSockets(WireAudience)
        case addSockets(WireAudience, rooms: [String])
        case removeSockets(WireAudience, rooms: [String])
        case disconnectSockets(WireAudience, close: Bool)
        /// To the namespace's `onServerSideEmit` handlers; `ack`: the requester waits for their answers.
        case serverSideEmit(event: String, args: [JSONValue], ack: Bool)

        var kind: Kind {
            switch self {
            case .fetchSockets: .fetchSockets
            case .addSockets: .addSockets
            case .removeSockets: .removeSockets
            case .disconnectSockets: .disconnectSockets
            case .serverSideEmit: .serverSideEmit
            }
        }
    }

    var body: Body
    var id: String
    var origin: String
}

extension ClusterRequest: Codable {
    enum CodingKeys: String, CodingKey {
        case opts, rooms, close, event, args, ack, type, id, origin
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(Kind.self, forKey: .type)
        // Absent fields take the defaults the first version read them with.
        let audience = try container.decodeIfPresent(WireAudience.self, forKey: .opts) ?? WireAudience()
        let rooms = try container.decodeIfPresent([String].self, forKey: .rooms) ?? []
        switch kind {
        case .fetchSockets: body = .fetchSockets(audience)
        case .addSockets: body = .addSockets(audience, rooms: rooms)
        case .removeSockets: body = .removeSockets(audience, rooms: rooms)
        case .disconnectSockets: body = .disconnectSockets(audience, close: try container.decodeIfPresent(Bool.self, forKey: .close) ?? false)
        case .serverSideEmit:
            body = .serverSideEmit(
                event: try container.decodeIfPresent(String.self, forKey: .event) ?? "",
                args: (try container.decodeIfPresent([WireJSON].self, forKey: .args) ?? []).map(\.value),
                ack: try container.decodeIfPresent(Bool.self, forKey: .ack) ?? false)
        }
        id = try container.decode(String.self, forKey: .id)
        origin = try container.decode(String.self, forKey: .origin)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch body {
        case .fetchSockets(let audience):
            try container.encode(audience, forKey: .opts)
        case .addSockets(let audience, let rooms), .removeSockets(let audience, let rooms):
            try container.encode(audience, forKey: .opts)
            try container.encode(rooms, forKey: .rooms)
        case .disconnectSockets(let audience, let close):
            try container.encode(audience, forKey: .opts)
            try container.encode(close, forKey: .close)
        case .serverSideEmit(let event, let args, let ack):
            try container.encode(event, forKey: .event)
            try container.encode(args.map(WireJSON.init), forKey: .args)
            try container.encode(ack, forKey: .ack)
        }
        try container.encode(body.kind, forKey: .type)
        try container.encode(id, forKey: .id)
        try container.encode(origin, forKey: .origin)
    }
}

/// One node's answer to a request, on the requester's response channel: `{"id":…}`, with `sockets`
/// (fetchSockets) or `args` (a serverSideEmit acknowledgement).
struct ClusterResponse: Codable, Equatable {
    var id: String
    var sockets: [WireSocket]?
    var args: [WireJSON]?
}

/// A socket in a fetchSockets answer:
/// `{"id":…,"nsp":…,"rooms":[…],"data":…,"auth":…,"address":…,"query":{…}}`, rooms and query keys sorted.
struct WireSocket: Equatable {
    var socket: RemoteSocket
}

extension WireSocket: Codable {
    enum CodingKeys: String, CodingKey {
        case id, nsp, rooms, data, auth, address, query
    }

    struct QueryKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        var query: [String: String] = [:]
        if container.contains(.query) {
            let object = try container.nestedContainer(keyedBy: QueryKey.self, forKey: .query)
            for key in object.allKeys { query[key.stringValue] = try object.decode(WireJSON.self, forKey: key).value.stringValue ?? "" }
        }
        socket = RemoteSocket(
            id: try container.decode(String.self, forKey: .id),
            namespace: try container.decode(String.self, forKey: .nsp),
            rooms: Set(try container.decodeIfPresent([String].self, forKey: .rooms) ?? []),
            data: container.contains(.data) ? try container.decode(WireJSON.self, forKey: .data).value : .null,
            auth: container.contains(.auth) ? try container.decode(WireJSON.self, forKey: .auth).value : .object([:]),
            address: try container.decodeIfPresent(String.self, forKey: .address) ?? "",
            query: query)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(socket.id, forKey: .id)
        try container.encode(socket.namespace, forKey: .nsp)
        try container.encode(socket.rooms.sorted(), forKey: .rooms)
        try container.encode(WireJSON(socket.data), forKey: .data)
        try container.encode(WireJSON(socket.auth), forKey: .auth)
        try container.encode(socket.address, forKey: .address)
        var query = container.nestedContainer(keyedBy: QueryKey.self, forKey: .query)
        for (key, value) in socket.query.sorted(by: { $0.key < $1.key }) { try query.encode(value, forKey: QueryKey(stringValue: key)) }
    }
}

/// A disconnected socket's session in the cluster log, for its client to recover on any node:
/// `{"id":…,"pid":…,"rooms":[…],"data":…,"connectOffset":…}`.
struct SavedSession: Equatable {
    var id: String
    var pid: String
    var rooms: [String]
    var data: JSONValue
    var connectOffset: String

    init(_ session: RecoverableSession) {
        (id, pid, rooms, data, connectOffset) = (session.id, session.pid, session.rooms, session.data, session.connectOffset)
    }

    /// The session to restore under `pid`. Rooms read back are checked like any outside room; an invalid one is
    /// left out (that only narrows what the socket receives), and the room cap applies when they are joined again.
    func recoverable(pid: String, maxRoomBytes: Int) -> RecoverableSession {
        RecoverableSession(
            id: id, pid: pid, rooms: rooms.filter { RoomName(validating: $0, maxBytes: maxRoomBytes) != nil },
            data: data, connectOffset: connectOffset)
    }
}

extension SavedSession: Codable {
    enum CodingKeys: String, CodingKey {
        case id, pid, rooms, data, connectOffset
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        pid = try container.decodeIfPresent(String.self, forKey: .pid) ?? ""
        rooms = try container.decodeIfPresent([String].self, forKey: .rooms) ?? []
        data = container.contains(.data) ? try container.decode(WireJSON.self, forKey: .data).value : .null
        connectOffset = try container.decode(String.self, forKey: .connectOffset)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(pid, forKey: .pid)
        try container.encode(rooms, forKey: .rooms)
        try container.encode(WireJSON(data), forKey: .data)
        try container.encode(connectOffset, forKey: .connectOffset)
    }
}
