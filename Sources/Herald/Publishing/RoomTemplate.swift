import SocketIOProtocol

/// A room name with `{path}` placeholders filled from a message, e.g. `order:{orderId}` or
/// `user:{customer.id}`. `{{` and `}}` stand for literal braces.
public struct RoomTemplate: Sendable, Hashable, CustomStringConvertible {
    enum Part: Sendable, Hashable {
        case literal(String)
        case field(FieldPath)
    }

    let parts: [Part]
    public let description: String

    public init(_ text: String) throws(PublishRequestError) {
        var parts: [Part] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "{" || character == "}", next < text.endIndex, text[next] == character {
                literal.append(character)
                index = text.index(after: next)
                continue
            }
            if character == "}" { throw PublishRequestError("room template \"\(text)\": unmatched }") }
            guard character == "{" else {
                literal.append(character)
                index = next
                continue
            }
            guard let close = text[next...].firstIndex(of: "}") else {
                throw PublishRequestError("room template \"\(text)\": unmatched {")
            }
            let path = String(text[next..<close])
            guard !path.contains("{") else { throw PublishRequestError("room template \"\(text)\": nested {") }
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = ""
            parts.append(.field(try FieldPath(path)))
            index = text.index(after: close)
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        guard !parts.isEmpty else { throw PublishRequestError("room template must not be empty") }
        self.parts = parts
        self.description = text
    }

    /// The room for `message`; throws when a placeholder's field is missing, empty or not a string or number.
    public func render(_ message: JSONValue) throws(PublishRequestError) -> String {
        var room = ""
        for part in parts {
            switch part {
            case .literal(let text):
                room += text
            case .field(let path):
                guard let value = path.lookup(in: message) else { throw PublishRequestError("field \(path) is missing") }
                switch value {
                case .string(let text) where !text.isEmpty: room += text
                case .int(let number): room += String(number)
                // A room named after a fraction, a boolean or an object is a misconfiguration, not data.
                default: throw PublishRequestError("field \(path) must be a non-empty string or an integer")
                }
            }
        }
        try PublishValidation.checkRoom(room)
        return room
    }
}

/// A dotted path into nested objects: `orderId`, `customer.id`.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public let components: [String]

    public init(_ text: String) throws(PublishRequestError) {
        let components = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !text.isEmpty, !components.contains(where: \.isEmpty) else {
            throw PublishRequestError("field path \"\(text)\" must be names separated by single dots")
        }
        self.components = components
    }

    public var description: String { components.joined(separator: ".") }

    public func lookup(in value: JSONValue) -> JSONValue? {
        var current = value
        for component in components {
            guard let next = current[component] else { return nil }
            current = next
        }
        return current
    }
}
