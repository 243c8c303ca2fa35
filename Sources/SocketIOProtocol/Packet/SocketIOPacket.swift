/// Packet types of the Socket.IO v5 protocol; the raw value is the wire digit.
public enum SocketIOPacketType: UInt8, Sendable, Hashable, CaseIterable {
    case connect = 0
    case disconnect
    case event
    case ack
    case connectError
    case binaryEvent
    case binaryAck

    /// BINARY_EVENT / BINARY_ACK carry an attachment count on the wire.
    public var isBinary: Bool { self == .binaryEvent || self == .binaryAck }
}

/// One Socket.IO packet. Decoded binary packets come back as `.event` / `.ack`
/// (as the reference parser does) with `.binary` values in place of placeholders.
public struct SocketIOPacket: Hashable, Sendable {
    public var type: SocketIOPacketType
    public var namespace: String
    /// nil when the packet has no payload.
    public var data: JSONValue?
    /// Ack id.
    public var id: Int?

    public init(type: SocketIOPacketType, namespace: String = "/", data: JSONValue? = nil, id: Int? = nil) {
        self.type = type
        self.namespace = namespace
        self.data = data
        self.id = id
    }

    /// Event names the reference parser rejects: they have a meaning of their own on clients and servers.
    public static let reservedEventNames: Set<String> = [
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
    ]
}

extension SocketIOPacket {
    public static func event(_ name: String, _ args: [JSONValue] = [], namespace: String = "/", id: Int? = nil) -> Self {
        var data: [JSONValue] = []
        data.reserveCapacity(args.count + 1)
        data.append(.string(name))
        data.append(contentsOf: args)
        return Self(type: .event, namespace: namespace, data: .array(data), id: id)
    }

    public static func ack(id: Int, args: [JSONValue] = [], namespace: String = "/") -> Self {
        Self(type: .ack, namespace: namespace, data: .array(args), id: id)
    }

    /// Client: the auth payload; server: `{"sid": ...}`.
    public static func connect(namespace: String = "/", data: JSONValue? = nil) -> Self {
        Self(type: .connect, namespace: namespace, data: data)
    }

    /// `{"message": ..., "data": ...}`, the shape the reference server sends.
    public static func connectError(namespace: String = "/", message: String, data: JSONValue? = nil) -> Self {
        var object: JSONObject = ["message": .string(message)]
        if let data { object["data"] = data }
        return Self(type: .connectError, namespace: namespace, data: .object(object))
    }

    public static func disconnect(namespace: String = "/") -> Self {
        Self(type: .disconnect, namespace: namespace)
    }

    /// The event name of an EVENT packet (first array element when it is a string).
    public var eventName: String? {
        guard type == .event || type == .binaryEvent else { return nil }
        return data?[0]?.stringValue
    }

    /// The arguments after the event name (EVENT), or all elements (ACK).
    public var arguments: [JSONValue] {
        guard case .array(let elements)? = data else { return [] }
        switch type {
        case .event, .binaryEvent: return Array(elements.dropFirst())
        case .ack, .binaryAck: return elements
        default: return []
        }
    }
}

extension SocketIOPacket {
    /// Checks what the reference's `isPacketValid` checks (plus a namespace that can be framed),
    /// for packets about to be sent. Decoded packets are already valid.
    public func validate() throws(SocketIOProtocolError) {
        guard Self.isNamespaceValid(namespace) else { throw .invalidNamespace }
        if let id, id < 0 { throw .invalidAckId }
        if let data {
            guard Self.isPayloadValid(type, data) else { throw .invalidPayload }
        } else if type != .connect && type != .disconnect {
            throw .invalidPayload  // as isPacketValid: events, acks and errors need a payload
        }
    }

    static func isNamespaceValid(_ namespace: String) -> Bool {
        namespace.utf8.first == UInt8(ascii: "/") && !namespace.utf8.contains(UInt8(ascii: ","))
    }

    /// The reference decoder's `isPayloadValid`, applied to a payload that is present.
    static func isPayloadValid(_ type: SocketIOPacketType, _ payload: JSONValue) -> Bool {
        switch type {
        case .connect:
            if case .object = payload { return true }
            return false
        case .disconnect:
            return false
        case .connectError:
            switch payload {
            case .object, .string: return true
            default: return false
            }
        case .event, .binaryEvent:
            guard case .array(let elements) = payload, let first = elements.first else { return false }
            switch first {
            case .int, .double: return true
            case .string(let name): return !reservedEventNames.contains(name)
            default: return false
            }
        case .ack, .binaryAck:
            if case .array = payload { return true }
            return false
        }
    }
}
