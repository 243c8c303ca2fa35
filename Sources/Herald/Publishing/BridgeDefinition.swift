import NIOCore
import SocketIOProtocol

/// A declarative Redis bridge from the configuration file: messages on a channel become events in rooms.
///
/// ```json
/// {"channel": "order:status-changed", "room": "order:{orderId}", "event": "order:updated",
///  "fields": {"orderId": "orderId", "status": "newStatus"}}
/// ```
public struct BridgeDefinition: Sendable, Hashable {
    public enum Source: Sendable, Hashable {
        case channel(String)
        case pattern(String)
    }

    /// Shown in logs and counters; defaults to the channel or pattern.
    public var name: String
    public var source: Source
    public var namespace: String
    public var rooms: [RoomTemplate]
    public var except: [RoomTemplate]
    public var event: String
    /// Output key → path in the message; nil sends the whole message as the event's data.
    public var fields: [(key: String, path: FieldPath)]?

    public static func == (lhs: BridgeDefinition, rhs: BridgeDefinition) -> Bool {
        lhs.name == rhs.name && lhs.source == rhs.source && lhs.namespace == rhs.namespace && lhs.rooms == rhs.rooms
            && lhs.except == rhs.except && lhs.event == rhs.event
            && lhs.fields?.map(\.key) == rhs.fields?.map(\.key) && lhs.fields?.map(\.path) == rhs.fields?.map(\.path)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(source)
        hasher.combine(event)
    }

    static let keys: Set<String> = ["name", "channel", "pattern", "namespace", "room", "rooms", "except", "event", "fields"]

    /// Parses one entry of the configuration file's `bridges` array; errors name the offending key.
    public init(json value: JSONValue) throws(PublishRequestError) {
        guard case .object(let object) = value else { throw PublishRequestError("a bridge must be a JSON object") }
        if let unknown = object.keys.first(where: { !Self.keys.contains($0) }) {
            throw PublishRequestError("unknown bridge key \"\(unknown)\"")
        }
        func string(_ key: String) throws(PublishRequestError) -> String? {
            guard let field = object[key] else { return nil }
            guard case .string(let text) = field, !text.isEmpty else { throw PublishRequestError("\(key) must be a non-empty string") }
            return text
        }
        func templates(_ key: String) throws(PublishRequestError) -> [RoomTemplate]? {
            guard let field = object[key] else { return nil }
            guard case .array(let items) = field, !items.isEmpty else { throw PublishRequestError("\(key) must be a non-empty array of strings") }
            var result: [RoomTemplate] = []
            for item in items {
                guard case .string(let text) = item else { throw PublishRequestError("\(key) must be an array of strings") }
                result.append(try RoomTemplate(text))
            }
            return result
        }

        switch (try string("channel"), try string("pattern")) {
        case (let channel?, nil): source = .channel(channel)
        case (nil, let pattern?): source = .pattern(pattern)
        case (.some, .some): throw PublishRequestError("give either channel or pattern, not both")
        case (nil, nil): throw PublishRequestError("channel or pattern is required")
        }
        switch source {
        case .channel(let text), .pattern(let text): name = try string("name") ?? text
        }
        namespace = try string("namespace") ?? "/"
        try PublishValidation.checkNamespace(namespace)
        switch (try string("room"), try templates("rooms")) {
        case (let room?, nil): rooms = [try RoomTemplate(room)]
        case (nil, let list?): rooms = list
        case (.some, .some): throw PublishRequestError("give either room or rooms, not both")
        case (nil, nil): throw PublishRequestError("room or rooms is required")
        }
        except = try templates("except") ?? []
        guard let event = try string("event") else { throw PublishRequestError("event is required") }
        try PublishValidation.checkEvent(event)
        self.event = event
        switch object["fields"] {
        case nil:
            fields = nil
        case .object(let map)?:
            var fields: [(key: String, path: FieldPath)] = []
            for (key, path) in map {
                guard case .string(let text) = path else { throw PublishRequestError("fields.\(key) must be a string path") }
                fields.append((key, try FieldPath(text)))
            }
            self.fields = fields
        case .some:
            throw PublishRequestError("fields must be an object of output name → message path")
        }
    }

    /// What one message on the bridged channel becomes; throws (and nothing is delivered) when it does not fit.
    public func request(for payload: ByteBuffer) throws(PublishRequestError) -> PublishRequest {
        let message: JSONValue
        do {
            message = try JSONValue(parsing: payload)
        } catch {
            throw PublishRequestError("malformed JSON: \(error)")
        }
        return try request(for: message)
    }

    public func request(for message: JSONValue) throws(PublishRequestError) -> PublishRequest {
        guard case .object = message else { throw PublishRequestError("the message must be a JSON object") }
        var rooms: [String] = []
        for template in self.rooms {
            let room = try template.render(message)
            if !rooms.contains(room) { rooms.append(room) }
        }
        var except: [String] = []
        for template in self.except { except.append(try template.render(message)) }
        let data: JSONValue
        if let fields {
            var object = JSONObject(minimumCapacity: fields.count)
            for (key, path) in fields {
                guard let value = path.lookup(in: message) else { throw PublishRequestError("field \(path) is missing") }
                object[key] = value
            }
            data = .object(object)
        } else {
            data = message
        }
        let request = PublishRequest(namespace: namespace, rooms: rooms, except: except, event: event, args: [data])
        try PublishValidation.check(request)
        return request
    }
}

extension BridgeDefinition {
    /// The `bridges` array of a configuration file; other top-level keys belong to other features.
    public static func parseConfigurationFile(_ buffer: ByteBuffer) throws(PublishRequestError) -> [BridgeDefinition] {
        let file: JSONValue
        do {
            file = try JSONValue(parsing: buffer)
        } catch {
            throw PublishRequestError("configuration file: malformed JSON: \(error)")
        }
        guard case .object(let object) = file else { throw PublishRequestError("configuration file: must be a JSON object") }
        guard let list = object["bridges"] else { return [] }
        guard case .array(let items) = list else { throw PublishRequestError("configuration file: bridges must be an array") }
        var bridges: [BridgeDefinition] = []
        for (index, item) in items.enumerated() {
            do {
                bridges.append(try BridgeDefinition(json: item))
            } catch {
                throw PublishRequestError("configuration file: bridges[\(index)]: \(error)")
            }
        }
        return bridges
    }
}
