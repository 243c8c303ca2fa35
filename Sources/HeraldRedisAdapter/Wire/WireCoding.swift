import SocketIOProtocol

// Codable over `JSONValue` trees, for the cluster's JSON messages (see ClusterWire.swift). Foundation's coders
// would read the application's values again (numbers re-typed, object keys reordered); these hand a `WireJSON`
// field through untouched, and bytes are parsed by the bounded `JSONValue(parsing:)` (depth-limited, no trap).
// Concurrency: none shared; each coder lives for one call on one thread.

/// An application value carried as it is (event arguments, socket data and auth): only the wire coders read
/// and write it.
struct WireJSON: Codable, Equatable {
    var value: JSONValue

    init(_ value: JSONValue) { self.value = value }

    init(from decoder: any Decoder) throws {
        guard let decoder = decoder as? WireDecoder else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "WireJSON needs WireDecoder"))
        }
        value = decoder.value
    }

    func encode(to encoder: any Encoder) throws {
        guard let encoder = encoder as? WireEncoder else {
            throw EncodingError.invalidValue(value, .init(codingPath: encoder.codingPath, debugDescription: "WireJSON needs WireEncoder"))
        }
        encoder.node.content = .value(value)
    }
}

/// Decodes a `Decodable` from a parsed JSON tree; a wrong shape throws `DecodingError`, never traps.
struct WireDecoder: Decoder {
    let value: JSONValue
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try WireDecoder(value: value).decodeValue(type)
    }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T { try T(from: self) }

    func mismatch(_ expected: Any.Type) -> DecodingError {
        .typeMismatch(expected, .init(codingPath: codingPath, debugDescription: "found \(value)"))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else { throw mismatch(JSONObject.self) }
        return KeyedDecodingContainer(Keyed(object: object, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch([JSONValue].self) }
        return Unkeyed(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(decoder: self) }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let object: JSONObject
        let codingPath: [any CodingKey]
        var allKeys: [Key] { object.keys.compactMap(Key.init(stringValue:)) }

        func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

        func child(_ key: Key) throws -> WireDecoder {
            guard let value = object[key.stringValue] else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
            }
            return WireDecoder(value: value, codingPath: codingPath + [key])
        }

        func decodeNil(forKey key: Key) throws -> Bool { object[key.stringValue]?.isNull ?? true }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decodeValue(type) }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decodeValue(type) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).decodeValue(type) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decodeValue(type) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try child(key).decodeValue(type) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decodeValue(type) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decodeValue(type) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decodeValue(type) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decodeValue(type) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decodeValue(type) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decodeValue(type) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decodeValue(type) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decodeValue(type) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decodeValue(type) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decodeValue(type) }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try child(key).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
        func superDecoder() throws -> any Decoder { WireDecoder(value: .object(object), codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let items: [JSONValue]
        let codingPath: [any CodingKey]
        var currentIndex = 0
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }

        init(items: [JSONValue], codingPath: [any CodingKey]) {
            self.items = items
            self.codingPath = codingPath
        }

        mutating func next() throws -> WireDecoder {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(JSONValue.self, .init(codingPath: codingPath, debugDescription: "past the end"))
            }
            defer { currentIndex += 1 }
            return WireDecoder(value: items[currentIndex], codingPath: codingPath + [IndexKey(intValue: currentIndex)])
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, items[currentIndex].isNull else { return false }
            currentIndex += 1
            return true
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(type) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try next().container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> any Decoder { try next() }
    }

    struct Single: SingleValueDecodingContainer {
        let decoder: WireDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }

        func decodeNil() -> Bool { decoder.value.isNull }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(type) }

        func decode(_ type: Bool.Type) throws -> Bool {
            guard case .bool(let value) = decoder.value else { throw decoder.mismatch(type) }
            return value
        }

        func decode(_ type: String.Type) throws -> String {
            guard case .string(let value) = decoder.value else { throw decoder.mismatch(type) }
            return value
        }

        func decode(_ type: Double.Type) throws -> Double {
            guard let value = decoder.value.doubleValue else { throw decoder.mismatch(type) }
            return value
        }

        func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

        /// Checked like every number from outside: a value out of the type's range is an error, not a trap.
        func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
            guard let value = decoder.value.intValue, let exact = T(exactly: value) else { throw decoder.mismatch(type) }
            return exact
        }

        func decode(_ type: Int.Type) throws -> Int { try integer(type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
        func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    }
}

struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { intValue.map(String.init) ?? "" }
    init(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { return nil }
}

/// Encodes an `Encodable` into a JSON tree; object keys keep the order they were encoded in, so a type's
/// `CodingKeys` order is its order on the wire.
struct WireEncoder: Encoder {
    /// One value under construction; containers fill it, `value` reads it once encoding is done.
    final class Node {
        enum Content {
            case empty
            case value(JSONValue)
            case object([(String, Node)])
            case array([Node])
        }
        var content = Content.empty

        var value: JSONValue {
            switch content {
            case .empty: return .null
            case .value(let value): return value
            case .array(let nodes): return .array(nodes.map(\.value))
            case .object(let members):
                var object = JSONObject(minimumCapacity: members.count)
                for (key, node) in members { object[key] = node.value }
                return .object(object)
            }
        }

        func member(_ key: String) -> Node {
            let node = Node()
            var members: [(String, Node)] = []
            if case .object(let existing) = content { members = existing }
            if let index = members.firstIndex(where: { $0.0 == key }) { members[index].1 = node } else { members.append((key, node)) }
            content = .object(members)
            return node
        }

        func element() -> Node {
            let node = Node()
            var nodes: [Node] = []
            if case .array(let existing) = content { nodes = existing }
            nodes.append(node)
            content = .array(nodes)
            return node
        }

        func encode<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
            try value.encode(to: WireEncoder(node: self, codingPath: codingPath))
        }
    }

    let node: Node
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let node = Node()
        try node.encode(value, codingPath: [])
        return node.value
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = node.content {} else { node.content = .object([]) }
        return KeyedEncodingContainer(Keyed(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = node.content {} else { node.content = .array([]) }
        return Unkeyed(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let codingPath: [any CodingKey]

        mutating func encodeNil(forKey key: Key) throws { node.member(key.stringValue).content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try node.member(key.stringValue).encode(value, codingPath: codingPath + [key])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            WireEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            WireEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { WireEncoder(node: node.member("super"), codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { WireEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        var count: Int {
            if case .array(let nodes) = node.content { return nodes.count }
            return 0
        }

        mutating func encodeNil() throws { node.element().content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try node.element().encode(value, codingPath: codingPath + [IndexKey(intValue: count)])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            WireEncoder(node: node.element(), codingPath: codingPath).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { WireEncoder(node: node.element(), codingPath: codingPath).unkeyedContainer() }
        mutating func superEncoder() -> any Encoder { WireEncoder(node: node.element(), codingPath: codingPath) }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]

        mutating func encodeNil() throws { node.content = .value(.null) }
        mutating func encode(_ value: Bool) throws { node.content = .value(.bool(value)) }
        mutating func encode(_ value: String) throws { node.content = .value(.string(value)) }
        mutating func encode(_ value: Double) throws { node.content = .value(.double(value)) }
        mutating func encode(_ value: Float) throws { node.content = .value(.double(Double(value))) }
        mutating func encode(_ value: Int) throws { node.content = .value(.int(value)) }
        mutating func encode(_ value: Int8) throws { node.content = .value(.int(Int(value))) }
        mutating func encode(_ value: Int16) throws { node.content = .value(.int(Int(value))) }
        mutating func encode(_ value: Int32) throws { node.content = .value(.int(Int(value))) }
        mutating func encode(_ value: Int64) throws { try encodeInteger(value) }
        mutating func encode(_ value: UInt) throws { try encodeInteger(value) }
        mutating func encode(_ value: UInt8) throws { node.content = .value(.int(Int(value))) }
        mutating func encode(_ value: UInt16) throws { node.content = .value(.int(Int(value))) }
        mutating func encode(_ value: UInt32) throws { try encodeInteger(value) }
        mutating func encode(_ value: UInt64) throws { try encodeInteger(value) }
        mutating func encode<T: Encodable>(_ value: T) throws { try node.encode(value, codingPath: codingPath) }

        private mutating func encodeInteger<T: BinaryInteger>(_ value: T) throws {
            guard let exact = Int(exactly: value) else {
                throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "beyond Int"))
            }
            node.content = .value(.int(exact))
        }
    }
}
