/// Byte comparison whose duration depends only on the lengths, not on where the inputs differ,
/// so an attacker timing the API cannot guess the key byte by byte.
@inline(never)
public func constantTimeEquals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
    let a = Array(lhs)
    let b = Array(rhs)
    // A length mismatch still walks the longer input, and is folded into the same accumulator.
    var difference = UInt(bitPattern: a.count ^ b.count)
    let length = max(a.count, b.count)
    for index in 0..<length {
        let x = index < a.count ? a[index] : 0
        let y = index < b.count ? b[index] : 0
        difference |= UInt(x ^ y)
    }
    return difference == 0
}

public func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
    constantTimeEquals(lhs.utf8, rhs.utf8)
}
