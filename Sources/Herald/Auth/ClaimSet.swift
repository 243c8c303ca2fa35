import SocketIOProtocol

/// A token payload kept as plain JSON: herald checks `exp`, `nbf`, `iss` and `aud` itself (with its leeway
/// and clock) so that each failure gets its own code, and room rules can read any claim.
///
/// Its `JWTPayload` conformance lives in TokenVerifier.swift, so this file (with RoomRule.swift) builds without
/// jwt-kit: the fuzz target (Fuzz/HeraldFuzz) compiles it directly.
public struct ClaimSet: Codable, Hashable, Sendable {
    public var object: JSONObject

    public init(_ object: JSONObject) { self.object = object }

    public init(from decoder: any Decoder) throws {
        guard case .object(let object) = try CodableJSON(from: decoder).value else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "the payload must be a JSON object"))
        }
        self.object = object
    }

    public func encode(to encoder: any Encoder) throws {
        try CodableJSON(.object(object)).encode(to: encoder)
    }

    public subscript(name: String) -> JSONValue? { object[name] }

    /// `sub` as text (a number is accepted, as some issuers emit one).
    public var subject: String? {
        switch object["sub"] {
        case .string(let text) where !text.isEmpty: text
        case .int(let number): String(number)
        default: nil
        }
    }

    /// A NumericDate claim (`exp`, `nbf`, `iat`) in seconds since 1970, fractions allowed.
    public func seconds(_ name: String) -> Double? {
        switch object[name] {
        case .int(let value): Double(value)
        case .double(let value) where value.isFinite: value
        default: nil
        }
    }

    /// The latest NumericDate accepted: 9999-12-31T23:59:59Z. Later is a unit mistake (milliseconds, say),
    /// refused as `token_invalid` rather than trusted as "practically never".
    public static let latestNumericDate: Double = 253_402_300_799
}

/// JSONValue through Codable, for jwt-kit's coders (JSONValue itself is not Codable).
struct CodableJSON: Codable {
    var value: JSONValue

    init(_ value: JSONValue) { self.value = value }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: Key.self) {
            var object = JSONObject()
            for key in keyed.allKeys { object[key.stringValue] = try keyed.decode(CodableJSON.self, forKey: key).value }
            value = .object(object)
        } else if var list = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !list.isAtEnd { items.append(try list.decode(CodableJSON.self).value) }
            value = .array(items)
        } else {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() { value = .null }
            else if let bool = try? single.decode(Bool.self) { value = .bool(bool) }
            else if let int = try? single.decode(Int.self) { value = .int(int) }
            else if let double = try? single.decode(Double.self) { value = .double(double) }
            else { value = .string(try single.decode(String.self)) }
        }
    }

    func encode(to encoder: any Encoder) throws {
        switch value {
        case .object(let object):
            var keyed = encoder.container(keyedBy: Key.self)
            for (key, item) in object { try keyed.encode(CodableJSON(item), forKey: Key(stringValue: key)) }
        case .array(let items):
            var list = encoder.unkeyedContainer()
            for item in items { try list.encode(CodableJSON(item)) }
        case .string(let text):
            var single = encoder.singleValueContainer(); try single.encode(text)
        case .int(let number):
            var single = encoder.singleValueContainer(); try single.encode(number)
        case .double(let number):
            var single = encoder.singleValueContainer(); try single.encode(number)
        case .bool(let flag):
            var single = encoder.singleValueContainer(); try single.encode(flag)
        default:
            var single = encoder.singleValueContainer(); try single.encodeNil()
        }
    }
}
