import NIOCore
import SocketIO
import SocketIOProtocol

/// One event to deliver to rooms: what the HTTP API, the Redis envelope channel and the bridges all produce.
public struct PublishRequest: Sendable, Hashable, CustomStringConvertible {
    public var namespace: String
    public var rooms: [String]
    public var except: [String]
    public var event: String
    public var args: [JSONValue]
    public var idempotencyKey: String?

    public init(namespace: String = "/", rooms: [String], except: [String] = [], event: String, args: [JSONValue], idempotencyKey: String? = nil) {
        self.namespace = namespace
        self.rooms = rooms
        self.except = except
        self.event = event
        self.args = args
        self.idempotencyKey = idempotencyKey
    }

    public var description: String {
        "\(event) → \(namespace) \(rooms)" + (except.isEmpty ? "" : " except \(except)")
    }
}

/// Why a publish was refused; `description` is the message the API answers with.
public struct PublishRequestError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The limits and rules every publish obeys, whatever its source.
public enum PublishValidation {
    /// Longest namespace, room, event name or idempotency key, in UTF-8 bytes.
    public static let maxNameLength = 256
    /// Most rooms (and, separately, excluded rooms) in one publish.
    public static let maxRooms = 100
    /// Event names Socket.IO clients reserve for themselves; emitting them would confuse every client.
    public static let reservedEvents: Set<String> = [
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
    ]

    static func checkName(_ value: String, _ what: String) throws(PublishRequestError) {
        guard !value.isEmpty else { throw PublishRequestError("\(what) must not be empty") }
        guard value.utf8.count <= maxNameLength else { throw PublishRequestError("\(what) is longer than \(maxNameLength) bytes") }
        // Control characters in a room or event name are always a bug upstream, and make logs lie.
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw PublishRequestError("\(what) contains control characters")
        }
    }

    public static func checkNamespace(_ namespace: String) throws(PublishRequestError) {
        try checkName(namespace, "namespace")
        guard namespace.hasPrefix("/") else { throw PublishRequestError("namespace must start with \"/\"") }
        // "," ends the namespace in a Socket.IO packet, whitespace is never part of one.
        guard !namespace.contains(where: { $0 == "," || $0 == "?" || $0.isWhitespace }) else {
            throw PublishRequestError("namespace contains a comma, question mark or whitespace")
        }
    }

    /// The rules of `RoomName`, the one room-name check of every path that takes a room from outside.
    public static func checkRoom(_ room: String) throws(PublishRequestError) {
        do throws(RoomNameError) {
            _ = try RoomName(room)
        } catch {
            throw PublishRequestError("\(error)")
        }
    }

    public static func checkEvent(_ event: String) throws(PublishRequestError) {
        try checkName(event, "event")
        guard !reservedEvents.contains(event) else { throw PublishRequestError("event \"\(event)\" is reserved by Socket.IO") }
    }

    public static func check(_ request: PublishRequest) throws(PublishRequestError) {
        try checkNamespace(request.namespace)
        guard !request.rooms.isEmpty else { throw PublishRequestError("at least one room is required") }
        guard request.rooms.count <= maxRooms, request.except.count <= maxRooms else {
            throw PublishRequestError("at most \(maxRooms) rooms")
        }
        for room in request.rooms { try checkRoom(room) }
        for room in request.except { try checkRoom(room) }
        try checkEvent(request.event)
        if let key = request.idempotencyKey { try checkName(key, "idempotencyKey") }
    }
}

extension PublishRequest {
    static let fields: Set<String> = ["namespace", "room", "rooms", "except", "event", "data", "args", "idempotencyKey"]

    /// The one decoder for the HTTP body and the Redis envelope (see docs/publishing.md).
    public init(json buffer: ByteBuffer) throws(PublishRequestError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: buffer)
        } catch {
            throw PublishRequestError("malformed JSON: \(error)")
        }
        try self.init(json: value)
    }

    public init(json value: JSONValue) throws(PublishRequestError) {
        guard case .object(let object) = value else { throw PublishRequestError("the message must be a JSON object") }
        // Unknown fields are refused: a typo such as "excpet" must not silently widen the audience.
        if let unknown = object.keys.first(where: { !Self.fields.contains($0) }) {
            throw PublishRequestError("unknown field \"\(unknown)\"")
        }

        func string(_ name: String) throws(PublishRequestError) -> String? {
            guard let field = object[name] else { return nil }
            guard case .string(let text) = field else { throw PublishRequestError("\(name) must be a string") }
            return text
        }
        func strings(_ name: String) throws(PublishRequestError) -> [String]? {
            guard let field = object[name] else { return nil }
            guard case .array(let items) = field else { throw PublishRequestError("\(name) must be an array of strings") }
            var result: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw PublishRequestError("\(name) must be an array of strings") }
                result.append(text)
            }
            return result
        }

        let namespace = try string("namespace") ?? "/"
        let rooms: [String]
        switch (try string("room"), try strings("rooms")) {
        case (.some, .some): throw PublishRequestError("give either room or rooms, not both")
        case (let room?, nil): rooms = [room]
        case (nil, let list?): rooms = list
        case (nil, nil): throw PublishRequestError("room or rooms is required")
        }
        guard let event = try string("event") else { throw PublishRequestError("event is required") }
        let args: [JSONValue]
        switch (object["data"], object["args"]) {
        case (.some, .some): throw PublishRequestError("give either data or args, not both")
        case (let data?, nil): args = [data]
        case (nil, .array(let list)?): args = list
        case (nil, .some): throw PublishRequestError("args must be an array")
        case (nil, nil): args = []
        }
        var seen = Set<String>()
        self.init(
            namespace: namespace,
            rooms: rooms.filter { seen.insert($0).inserted },
            except: try strings("except") ?? [],
            event: event,
            args: args,
            idempotencyKey: try string("idempotencyKey"))
        try PublishValidation.check(self)
    }
}
