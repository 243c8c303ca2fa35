import Foundation
import SocketIOProtocol

/// One room permission: a room-name pattern and the conditions under which a client may subscribe.
///
/// Pattern: literal text with `{name}` placeholders; a placeholder matches one non-empty run of characters
/// up to the next literal (so `order:{id}` matches `order:123`, not `order:`), and never a `:`, so
/// `order:{id}` does not match `order:1:2`. The names are bound from the room and used in conditions.
/// A rule grants the room when **any** of its `allow` conditions holds (default deny: no rule, no room).
public struct RoomRule: Sendable, Hashable {
    public let pattern: String
    let parts: [Part]
    public let allow: [RoomCondition]
    /// Whether the rooms of this rule keep presence (`"presence": true`, see docs/presence.md). Default false.
    public var presence: Bool = false

    enum Part: Sendable, Hashable {
        case literal(String)
        case placeholder(String)
    }

    public init(pattern: String, allow: [RoomCondition]) throws(RoomRuleError) {
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(pattern)
        while let character = rest.first {
            if character == "}" { throw RoomRuleError("pattern \"\(pattern)\": unmatched }") }
            guard character == "{" else {
                literal.append(character)
                rest = rest.dropFirst()
                continue
            }
            guard let close = rest.firstIndex(of: "}") else { throw RoomRuleError("pattern \"\(pattern)\": unmatched {") }
            let name = String(rest[rest.index(after: rest.startIndex)..<close])
            guard RoomCondition.isName(name) else { throw RoomRuleError("pattern \"\(pattern)\": bad placeholder {\(name)}") }
            if case .placeholder? = parts.last, literal.isEmpty {
                // `{a}{b}` has no single way to split a room: refuse it rather than guess.
                throw RoomRuleError("pattern \"\(pattern)\": placeholders must be separated by literal text")
            }
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = ""
            if parts.contains(.placeholder(name)) { throw RoomRuleError("pattern \"\(pattern)\": {\(name)} appears twice") }
            parts.append(.placeholder(name))
            rest = rest[rest.index(after: close)...]
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        guard !parts.isEmpty else { throw RoomRuleError("pattern must not be empty") }
        guard !allow.isEmpty else { throw RoomRuleError("pattern \"\(pattern)\": allow must list at least one condition") }
        let bound = Set(parts.compactMap { if case .placeholder(let name) = $0 { name } else { nil } })
        for condition in allow {
            for name in condition.placeholders where !bound.contains(name) {
                throw RoomRuleError("pattern \"\(pattern)\": {\(name)} in a condition is not bound by the pattern")
            }
        }
        self.pattern = pattern
        self.parts = parts
        self.allow = allow
    }

    /// The placeholder bindings when `room` matches the pattern, else nil.
    public func match(_ room: String) -> [String: String]? {
        var bindings: [String: String] = [:]
        var rest = Substring(room)
        for (index, part) in parts.enumerated() {
            switch part {
            case .literal(let text):
                guard rest.hasPrefix(text) else { return nil }
                rest = rest.dropFirst(text.count)
            case .placeholder(let name):
                // Up to the next literal (or the end); placeholders never span a `:`.
                let end: Substring.Index
                if index + 1 < parts.count, case .literal(let next) = parts[index + 1] {
                    guard let found = rest.range(of: next)?.lowerBound else { return nil }
                    end = found
                } else {
                    end = rest.endIndex
                }
                let value = rest[..<end]
                guard !value.isEmpty, !value.contains(":") else { return nil }
                bindings[name] = String(value)
                rest = rest[end...]
            }
        }
        return rest.isEmpty ? bindings : nil
    }

    /// Whether `claims` grant `room` under this rule (nil when the pattern does not match).
    public func grants(_ room: String, claims: ClaimSet) -> Bool? {
        guard let bindings = match(room) else { return nil }
        return allow.contains { $0.holds(claims: claims, bindings: bindings) }
    }
}

public struct RoomRuleError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A test on the token's claims. Values may hold `{name}` placeholders bound from the room.
public indirect enum RoomCondition: Sendable, Hashable {
    /// The claim (a dotted path) equals the value; numbers and strings compare by their text.
    case equals(claim: String, value: JSONValue)
    /// The claim is an array with an element equal to the value.
    case contains(claim: String, value: JSONValue)
    /// The claim equals one of the values.
    case oneOf(claim: String, values: [JSONValue])
    /// Every condition holds.
    case all([RoomCondition])
    /// Any verified token: for rooms every signed-in user may read.
    case authenticated

    /// Placeholder names used in this condition's values.
    var placeholders: [String] {
        func names(_ value: JSONValue) -> [String] {
            guard case .string(let text) = value else { return [] }
            var found: [String] = []
            var rest = Substring(text)
            while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
                found.append(String(rest[rest.index(after: open)..<close]))
                rest = rest[rest.index(after: close)...]
            }
            return found
        }
        switch self {
        case .equals(_, let value), .contains(_, let value): return names(value)
        case .oneOf(_, let values): return values.flatMap(names)
        case .all(let conditions): return conditions.flatMap(\.placeholders)
        case .authenticated: return []
        }
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
    }

    public func holds(claims: ClaimSet, bindings: [String: String]) -> Bool {
        switch self {
        case .authenticated:
            return true
        case .all(let conditions):
            return conditions.allSatisfy { $0.holds(claims: claims, bindings: bindings) }
        case .equals(let claim, let value):
            guard let actual = Self.lookup(claim, in: claims) else { return false }
            return Self.same(actual, Self.fill(value, bindings))
        case .contains(let claim, let value):
            guard case .array(let items)? = Self.lookup(claim, in: claims) else { return false }
            let wanted = Self.fill(value, bindings)
            return items.contains { Self.same($0, wanted) }
        case .oneOf(let claim, let values):
            guard let actual = Self.lookup(claim, in: claims) else { return false }
            return values.contains { Self.same(actual, Self.fill($0, bindings)) }
        }
    }

    static func lookup(_ path: String, in claims: ClaimSet) -> JSONValue? {
        var current: JSONValue = .object(claims.object)
        for component in path.split(separator: ".") {
            guard let next = current[String(component)] else { return nil }
            current = next
        }
        return current
    }

    /// One left-to-right pass: bound text is never searched again, so a room holding `{name}` cannot inject a
    /// placeholder (replacing binding after binding did, in the dictionary's per-process order).
    static func fill(_ value: JSONValue, _ bindings: [String: String]) -> JSONValue {
        guard case .string(let text) = value, text.contains("{") else { return value }
        let scalars = text.unicodeScalars
        var result = String.UnicodeScalarView()
        var index = scalars.startIndex
        while index < scalars.endIndex {
            if scalars[index] == "{", let close = scalars[index...].firstIndex(of: "}"),
               let bound = bindings[String(String.UnicodeScalarView(scalars[scalars.index(after: index)..<close]))] {
                result.append(contentsOf: bound.unicodeScalars)
                index = scalars.index(after: close)
            } else {
                result.append(scalars[index])
                index = scalars.index(after: index)
            }
        }
        return .string(String(result))
    }

    /// Scalars compare by text so a claim `[123]` grants room `order:123`; objects and arrays never match.
    static func same(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        func text(_ value: JSONValue) -> String? {
            switch value {
            case .string(let string): string
            case .int(let number): String(number)
            case .bool(let flag): String(flag)
            case .double(let number) where number == number.rounded() && abs(number) < 1e15: String(Int(number))
            case .double(let number): String(number)
            default: nil
            }
        }
        guard let left = text(lhs), let right = text(rhs) else { return false }
        return left == right
    }
}

extension RoomCondition {
    /// Parses `{"claim":…, "equals"|"contains"|"in":…}`, `{"all":[…]}` or `{"authenticated":true}`.
    public init(json: JSONValue) throws(RoomRuleError) {
        guard case .object(let object) = json else { throw RoomRuleError("a condition must be a JSON object") }
        if let all = object["all"] {
            guard case .array(let items) = all, !items.isEmpty, object.count == 1 else {
                throw RoomRuleError("all must be a non-empty array of conditions, alone in its object")
            }
            var conditions: [RoomCondition] = []
            for item in items { conditions.append(try RoomCondition(json: item)) }
            self = .all(conditions)
            return
        }
        if let flag = object["authenticated"] {
            guard flag == .bool(true), object.count == 1 else { throw RoomRuleError("authenticated must be true, alone in its object") }
            self = .authenticated
            return
        }
        guard case .string(let claim)? = object["claim"], !claim.isEmpty else {
            throw RoomRuleError("a condition needs a claim name (or all / authenticated)")
        }
        let operators = ["equals", "contains", "in"].filter { object[$0] != nil }
        guard operators.count == 1, object.count == 2 else {
            throw RoomRuleError("condition on \(claim): use exactly one of equals, contains, in")
        }
        func scalar(_ value: JSONValue) throws(RoomRuleError) -> JSONValue {
            switch value {
            case .string, .int, .bool, .double: return value
            default: throw RoomRuleError("condition on \(claim): values must be strings, numbers or booleans")
            }
        }
        switch operators[0] {
        case "equals": self = .equals(claim: claim, value: try scalar(object["equals"]!))
        case "contains": self = .contains(claim: claim, value: try scalar(object["contains"]!))
        default:
            guard case .array(let values)? = object["in"], !values.isEmpty else {
                throw RoomRuleError("condition on \(claim): in must be a non-empty array")
            }
            var checked: [JSONValue] = []
            for value in values { checked.append(try scalar(value)) }
            self = .oneOf(claim: claim, values: checked)
        }
    }
}

extension RoomRule {
    /// Parses `{"pattern": "...", "allow": [conditions]}`.
    public init(json: JSONValue) throws(RoomRuleError) {
        guard case .string(let pattern)? = json["pattern"] else { throw RoomRuleError("a room rule needs a pattern string") }
        guard case .array(let items)? = json["allow"] else { throw RoomRuleError("pattern \"\(pattern)\": allow must be an array") }
        var presence = false
        switch json["presence"] {
        case nil: break
        case .bool(let flag)?: presence = flag
        default: throw RoomRuleError("pattern \"\(pattern)\": presence must be true or false")
        }
        var conditions: [RoomCondition] = []
        for (index, item) in items.enumerated() {
            do {
                conditions.append(try RoomCondition(json: item))
            } catch {
                throw RoomRuleError("pattern \"\(pattern)\": allow[\(index)]: \(error)")
            }
        }
        try self.init(pattern: pattern, allow: conditions)
        self.presence = presence
    }
}

/// The ordered rules: the first rule whose pattern matches a room decides; no match denies.
public struct RoomPermissions: Sendable, Hashable {
    public var rules: [RoomRule]

    public init(rules: [RoomRule] = []) { self.rules = rules }

    public func allows(_ room: String, claims: ClaimSet) -> Bool {
        for rule in rules {
            if let granted = rule.grants(room, claims: claims) { return granted }
        }
        return false
    }

    /// Whether the rule that decides `room` keeps presence for it.
    public func keepsPresence(_ room: String) -> Bool {
        rules.first { $0.match(room) != nil }?.presence ?? false
    }
}
