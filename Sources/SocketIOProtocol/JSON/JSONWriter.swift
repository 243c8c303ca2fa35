import NIOCore

extension JSONValue {
    /// Appends compact JSON exactly as JavaScript's `JSON.stringify` would produce it.
    /// `.binary` has no JSON form outside a Socket.IO packet, so it is written as `null` here.
    public func write(to buffer: inout ByteBuffer) {
        var writer = JSONWriter(placeholders: false)
        writer.write(self, to: &buffer)
    }

    public var jsonString: String {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        write(to: &buffer)
        return String(buffer: buffer)
    }
}

/// Serializes values; in placeholder mode `.binary` becomes `{"_placeholder":true,"num":N}`
/// and the buffer is collected as attachment N (depth-first order, as the reference does).
struct JSONWriter {
    let placeholders: Bool
    var attachments: [ByteBuffer] = []

    init(placeholders: Bool) {
        self.placeholders = placeholders
    }

    mutating func write(_ value: JSONValue, to buffer: inout ByteBuffer) {
        switch value {
        case .null: buffer.writeStaticString("null")
        case .bool(let flag): buffer.writeStaticString(flag ? "true" : "false")
        case .int(let number): Self.writeInt(number, to: &buffer)
        case .double(let number): Self.writeDouble(number, to: &buffer)
        case .string(let string): Self.writeString(string, to: &buffer)
        case .array(let elements):
            buffer.writeInteger(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { buffer.writeInteger(UInt8(ascii: ",")) }
                first = false
                write(element, to: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let object):
            buffer.writeInteger(UInt8(ascii: "{"))
            let keys = object._keys
            let values = object._values
            if keys.contains(where: { Self.arrayIndex($0) != nil }) {
                // JS enumerates integer-like keys first, ascending, then the rest in insertion order.
                var indexed: [(index: UInt32, position: Int)] = []
                for (position, key) in keys.enumerated() {
                    if let index = Self.arrayIndex(key) { indexed.append((index, position)) }
                }
                indexed.sort { $0.index < $1.index }
                var first = true
                for (_, position) in indexed {
                    writeMember(keys[position], values[position], first: first, to: &buffer)
                    first = false
                }
                for position in keys.indices where Self.arrayIndex(keys[position]) == nil {
                    writeMember(keys[position], values[position], first: first, to: &buffer)
                    first = false
                }
            } else {
                for position in keys.indices {
                    writeMember(keys[position], values[position], first: position == 0, to: &buffer)
                }
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        case .binary(let bytes):
            if placeholders {
                buffer.writeStaticString("{\"_placeholder\":true,\"num\":")
                Self.writeInt(attachments.count, to: &buffer)
                buffer.writeInteger(UInt8(ascii: "}"))
                attachments.append(bytes)
            } else {
                buffer.writeStaticString("null")
            }
        }
    }

    private mutating func writeMember(_ key: String, _ value: JSONValue, first: Bool, to buffer: inout ByteBuffer) {
        if !first { buffer.writeInteger(UInt8(ascii: ",")) }
        Self.writeString(key, to: &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
        write(value, to: &buffer)
    }

    /// A canonical array index ("0", "17"; not "01", not ≥ 2^32 − 1), which JS objects order first.
    @inline(__always)
    static func arrayIndex(_ key: String) -> UInt32? {
        let utf8 = key.utf8
        guard let first = utf8.first, first &- UInt8(ascii: "0") < 10 else { return nil }  // fast reject
        guard utf8.count <= 10, first != UInt8(ascii: "0") || utf8.count == 1 else { return nil }
        var value: UInt64 = 0
        for byte in utf8 {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + UInt64(digit)
        }
        return value < 0xFFFF_FFFF ? UInt32(value) : nil
    }

    // MARK: Numbers

    static func writeInt(_ number: Int, to buffer: inout ByteBuffer) {
        if number >= 0, number < 10 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: number) &+ UInt8(ascii: "0"))
            return
        }
        // Digits are produced backwards into a small stack buffer, then copied once.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var magnitude = number.magnitude
            var position = 20
            repeat {
                position -= 1
                digits[position] = UInt8(truncatingIfNeeded: magnitude % 10) &+ UInt8(ascii: "0")
                magnitude /= 10
            } while magnitude != 0
            if number < 0 {
                position -= 1
                digits[position] = UInt8(ascii: "-")
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[position..<20]))
        }
    }

    /// JavaScript's Number#toString (ECMA-262 Number::toString): shortest round-trip digits,
    /// plain notation for exponents in [-6, 21), otherwise `d.ddde±x`.
    static func writeDouble(_ number: Double, to buffer: inout ByteBuffer) {
        guard number.isFinite else {
            buffer.writeStaticString("null")  // JSON.stringify(NaN / ±Infinity)
            return
        }
        if number == 0 {
            buffer.writeInteger(UInt8(ascii: "0"))  // also -0
            return
        }
        // Integral values below 2^53 print like integers; the common case, no String needed.
        if number.magnitude < 9_007_199_254_740_992, number.rounded(.towardZero) == number {
            writeInt(Int(number), to: &buffer)
            return
        }
        buffer.writeString(javaScriptString(of: number))
    }

    static func javaScriptString(of number: Double) -> String {
        // Swift's description already yields the shortest round-trip digits; only the layout differs.
        let swift = number.magnitude.description.utf8
        var digits: [UInt8] = []
        digits.reserveCapacity(20)
        var pointPosition: Int?
        var exponent = 0
        var iterator = swift.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: ".") {
                pointPosition = digits.count
            } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                var sign = 1
                var value = 0
                while let next = iterator.next() {
                    if next == UInt8(ascii: "-") { sign = -1 } else if next != UInt8(ascii: "+") {
                        value = value * 10 + Int(next &- UInt8(ascii: "0"))
                    }
                }
                exponent = sign * value
                break
            } else {
                digits.append(byte)
            }
        }
        // n: position of the decimal point relative to the digit string (ECMA's n).
        var n = (pointPosition ?? digits.count) + exponent
        while let first = digits.first, first == UInt8(ascii: "0") {
            digits.removeFirst()
            n -= 1
        }
        while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
        let k = digits.count

        var out: [UInt8] = []
        out.reserveCapacity(k + 10)
        if number < 0 { out.append(UInt8(ascii: "-")) }
        if k <= n, n <= 21 {
            out.append(contentsOf: digits)
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: n - k))
        } else if 0 < n, n <= 21 {
            out.append(contentsOf: digits[0..<n])
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: digits[n...])
        } else if -6 < n, n <= 0 {
            out.append(UInt8(ascii: "0"))
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: -n))
            out.append(contentsOf: digits)
        } else {
            out.append(digits[0])
            if k > 1 {
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: digits[1...])
            }
            out.append(UInt8(ascii: "e"))
            out.append(n - 1 >= 0 ? UInt8(ascii: "+") : UInt8(ascii: "-"))
            out.append(contentsOf: String(abs(n - 1)).utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Strings

    private static let hexDigits: StaticString = "0123456789abcdef"

    /// Escapes as JSON.stringify does. Runs of bytes needing no escape are copied in bulk,
    /// and eight bytes at a time are checked with SWAR bit tricks.
    static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        var string = string
        string.withUTF8 { utf8 in
            let raw = UnsafeRawBufferPointer(utf8)
            buffer.reserveCapacity(minimumWritableBytes: raw.count + 2)
            buffer.writeInteger(UInt8(ascii: "\""))
            let count = raw.count
            var runStart = 0
            var index = 0
            while index < count {
                if index + 8 <= count {
                    let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    if !needsEscape(word) {
                        index += 8
                        continue
                    }
                }
                let byte = raw[index]
                if byte >= 0x20, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                    index += 1
                    continue
                }
                if runStart < index {
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[runStart..<index]))
                }
                writeEscape(byte, to: &buffer)
                index += 1
                runStart = index
            }
            if runStart < count {
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[runStart..<count]))
            }
            buffer.writeInteger(UInt8(ascii: "\""))
        }
    }

    @inline(__always)
    private static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        // Some byte < 0x20 (bytes >= 0x80 are excluded by `& ~word`).
        let control = (word &- ones &* 0x20) & ~word & highs
        // Some byte equal to '"' or '\\' (zero-byte test on the XOR).
        let quoteX = word ^ (ones &* 0x22)
        let quote = (quoteX &- ones) & ~quoteX & highs
        let slashX = word ^ (ones &* 0x5C)
        let slash = (slashX &- ones) & ~slashX & highs
        return (control | quote | slash) != 0
    }

    private static func writeEscape(_ byte: UInt8, to buffer: inout ByteBuffer) {
        switch byte {
        case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
        case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
        case 0x08: buffer.writeStaticString("\\b")
        case 0x0C: buffer.writeStaticString("\\f")
        case 0x0A: buffer.writeStaticString("\\n")
        case 0x0D: buffer.writeStaticString("\\r")
        case 0x09: buffer.writeStaticString("\\t")
        default:
            buffer.writeStaticString("\\u00")
            let hex = hexDigits.utf8Start
            buffer.writeInteger(hex[Int(byte >> 4)])
            buffer.writeInteger(hex[Int(byte & 0x0F)])
        }
    }
}
