/// `%XX` escapes (RFC 3986) for every URL part Herald reads or writes: HTTP query strings and paths, Redis and
/// PostgreSQL URLs, the client's query. Stateless; decoding writes straight into the result string, so nothing is
/// allocated but the result (and not even that for text of up to 15 bytes or text without escapes).
public enum PercentCoding {
    /// Decodes `%XX`; with `plusAsSpace` (query strings, not paths) `+` is a space. A `%` without two hex digits
    /// after it stays as it is, like Node's `querystring` does for the reference server. Invalid UTF-8 after
    /// decoding becomes U+FFFD.
    public static func decode(_ text: Substring, plusAsSpace: Bool = false) -> String {
        decode(text, plusAsSpace: plusAsSpace, strict: false) ?? String(text)
    }

    /// Like `decode`, but nil when a `%` is not followed by two hex digits (configuration URLs, where a typo
    /// must be an error rather than a different password).
    public static func decodeStrictly(_ text: Substring) -> String? {
        decode(text, plusAsSpace: false, strict: true)
    }

    /// Escapes every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`), with upper-case hex.
    public static func encode(_ text: String) -> String {
        let utf8 = text.utf8
        let escapes = utf8.reduce(0) { $0 + (isUnreserved($1) ? 0 : 1) }
        guard escapes > 0 else { return text }
        return String(unsafeUninitializedCapacity: utf8.count + 2 * escapes) { output in
            var count = 0
            for byte in utf8 {
                if isUnreserved(byte) {
                    output[count] = byte
                    count += 1
                } else {
                    output[count] = UInt8(ascii: "%")
                    output[count + 1] = hexDigits[Int(byte >> 4)]
                    output[count + 2] = hexDigits[Int(byte & 0x0F)]
                    count += 3
                }
            }
            return count
        }
    }

    private static func decode(_ text: Substring, plusAsSpace: Bool, strict: Bool) -> String? {
        let input = text.utf8
        guard input.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(text)
        }
        var valid = true
        // Decoding never lengthens the text.
        let decoded = String(unsafeUninitializedCapacity: input.count) { output in
            var count = 0
            var index = input.startIndex
            while index < input.endIndex {
                var byte = input[index]
                var next = input.index(after: index)
                if byte == UInt8(ascii: "+") && plusAsSpace {
                    byte = UInt8(ascii: " ")
                } else if byte == UInt8(ascii: "%") {
                    let low = next < input.endIndex ? input.index(after: next) : next
                    if low < input.endIndex, let high = hexValue(input[next]), let lowValue = hexValue(input[low]) {
                        byte = high << 4 | lowValue
                        next = input.index(after: low)
                    } else if strict {
                        valid = false
                        return 0
                    }
                }
                output[count] = byte
                count += 1
                index = next
            }
            return count
        }
        return valid ? decoded : nil
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
             UInt8(ascii: "."), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
