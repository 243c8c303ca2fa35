import NIOCore
import SocketIOProtocol

/// Room rules and claims (Herald/Auth): the input is `rules JSON \0 claims JSON \0 room`. A match binds
/// non-empty, colon-free values that rebuild exactly the room; a grant is deterministic and equals a reference
/// evaluation in which each `{name}` of a condition is replaced once, by its binding (so a room cannot inject
/// placeholders into the values it is compared with).
func fuzzRoomRule(_ bytes: UnsafeRawBufferPointer) {
    let parts = fuzzSplit(bytes)
    guard parts.count == 3,
          let rulesJSON = try? JSONValue(parsing: ByteBuffer(bytes: parts[0])),
          case .object(let claimsObject)? = try? JSONValue(parsing: ByteBuffer(bytes: parts[1]))
    else { return }
    let room = String(decoding: parts[2], as: UTF8.self)
    let claims = ClaimSet(claimsObject)
    var rules: [RoomRule] = []
    for json in rulesJSON.arrayValue ?? [rulesJSON] {
        guard let rule = try? RoomRule(json: json) else { continue }
        rules.append(rule)
    }
    for rule in rules {
        guard let bindings = rule.match(room) else { continue }
        var rebuilt = ""
        for part in rule.parts {
            switch part {
            case .literal(let text): rebuilt += text
            case .placeholder(let name):
                guard let value = bindings[name] else {
                    fuzzCheck(false, "{\(name)} of \(rule.pattern) unbound for \(room)")
                    return
                }
                fuzzCheck(!value.isEmpty && !value.contains(":"), "{\(name)} bound to \"\(value)\"")
                rebuilt += value
            }
        }
        fuzzCheck(rebuilt == room, "\(rule.pattern) matched \(room) with bindings \(bindings) that rebuild \(rebuilt)")
        let granted = rule.grants(room, claims: claims)
        fuzzCheck(granted == rule.grants(room, claims: claims), "grant of \(room) is not deterministic")
        let expected = rule.allow.contains { referenceHolds($0, claims: claims, bindings: bindings) }
        fuzzCheck(granted == expected, "\(rule.pattern) grants \(room): \(String(describing: granted)), reference \(expected), bindings \(bindings)")
    }
    let permissions = RoomPermissions(rules: rules)
    let decided = rules.lazy.compactMap { $0.grants(room, claims: claims) }.first ?? false
    fuzzCheck(permissions.allows(room, claims: claims) == decided, "permissions disagree with the first matching rule")
}

private func referenceHolds(_ condition: RoomCondition, claims: ClaimSet, bindings: [String: String]) -> Bool {
    switch condition {
    case .authenticated:
        return true
    case .all(let conditions):
        return conditions.allSatisfy { referenceHolds($0, claims: claims, bindings: bindings) }
    case .equals(let claim, let value):
        guard let actual = RoomCondition.lookup(claim, in: claims) else { return false }
        return RoomCondition.same(actual, referenceFill(value, bindings))
    case .contains(let claim, let value):
        guard case .array(let items)? = RoomCondition.lookup(claim, in: claims) else { return false }
        return items.contains { RoomCondition.same($0, referenceFill(value, bindings)) }
    case .oneOf(let claim, let values):
        guard let actual = RoomCondition.lookup(claim, in: claims) else { return false }
        return values.contains { RoomCondition.same(actual, referenceFill($0, bindings)) }
    }
}

/// One left-to-right pass over the scalars: `{name}` with a binding becomes the bound text, nothing else changes.
private func referenceFill(_ value: JSONValue, _ bindings: [String: String]) -> JSONValue {
    guard case .string(let text) = value else { return value }
    let scalars = Array(text.unicodeScalars)
    var result = String.UnicodeScalarView()
    var index = 0
    outer: while index < scalars.count {
        if scalars[index] == "{" {
            for (name, bound) in bindings {
                let token = Array("{\(name)}".unicodeScalars)
                if index + token.count <= scalars.count, Array(scalars[index..<(index + token.count)]) == token {
                    result.append(contentsOf: bound.unicodeScalars)
                    index += token.count
                    continue outer
                }
            }
        }
        result.append(scalars[index])
        index += 1
    }
    return .string(String(result))
}
