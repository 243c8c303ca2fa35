/// An object that keeps insertion order (JS objects do; tests compare compact JSON strings).
///
/// Equality ignores order, like JSON object semantics and `Dictionary`. Iteration uses
/// insertion order; serialization too, except that integer-like keys ("0", "42") come first
/// in ascending order, as JavaScript enumerates them.
public struct JSONObject: Sendable {
    @usableFromInline var _keys: [String]
    @usableFromInline var _values: [JSONValue]
    /// Key → position, built only for larger objects: small ones are faster to scan linearly.
    @usableFromInline var _index: [String: Int]?

    @usableFromInline static var indexThreshold: Int { 12 }

    public init() {
        _keys = []
        _values = []
        _index = nil
    }

    public init(minimumCapacity: Int) {
        self.init()
        _keys.reserveCapacity(minimumCapacity)
        _values.reserveCapacity(minimumCapacity)
    }

    public var count: Int { _keys.count }
    public var isEmpty: Bool { _keys.isEmpty }
    public var keys: [String] { _keys }
    public var values: [JSONValue] { _values }

    @inlinable
    func position(of key: String) -> Int? {
        if let index = _index { return index[key] }
        return _keys.firstIndex(of: key)
    }

    /// Setting nil removes the key; setting an existing key keeps its position (as JS does).
    public subscript(key: String) -> JSONValue? {
        get {
            guard let position = position(of: key) else { return nil }
            return _values[position]
        }
        set {
            if let newValue {
                if let position = position(of: key) {
                    _values[position] = newValue
                } else {
                    append(key, newValue)
                }
            } else if let position = position(of: key) {
                _keys.remove(at: position)
                _values.remove(at: position)
                if _index != nil { rebuildIndex() }
            }
        }
    }

    /// Appends without a duplicate check; callers must know the key is new.
    @usableFromInline
    mutating func append(_ key: String, _ value: JSONValue) {
        _keys.append(key)
        _values.append(value)
        if _index != nil {
            _index![key] = _keys.count - 1
        } else if _keys.count > Self.indexThreshold {
            rebuildIndex()
        }
    }

    private mutating func rebuildIndex() {
        guard _keys.count > Self.indexThreshold else {
            _index = nil
            return
        }
        var index = [String: Int](minimumCapacity: _keys.count)
        for (position, key) in _keys.enumerated() { index[key] = position }
        _index = index
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(minimumCapacity: elements.count)
        for (key, value) in elements { self[key] = value }
    }
}

extension JSONObject: Sequence {
    public typealias Element = (key: String, value: JSONValue)

    public struct Iterator: IteratorProtocol {
        var object: JSONObject
        var position = 0

        public mutating func next() -> Element? {
            guard position < object._keys.count else { return nil }
            defer { position += 1 }
            return (object._keys[position], object._values[position])
        }
    }

    public func makeIterator() -> Iterator { Iterator(object: self) }

    public var underestimatedCount: Int { count }
}

extension JSONObject: Hashable {
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        // Fast path: same order (the usual case after a round trip).
        if lhs._keys == rhs._keys { return lhs._values == rhs._values }
        for (key, value) in lhs {
            guard let other = rhs[key], other == value else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, to agree with ==.
        var combined = 0
        for (key, value) in self {
            var pair = Hasher()
            pair.combine(key)
            pair.combine(value)
            combined &+= pair.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }
}

extension JSONObject: CustomStringConvertible {
    public var description: String { JSONValue.object(self).jsonString }
}
