import NIOCore

/// Standard base64 (with padding), which Engine.IO uses for binary packets on the polling transport.
public enum Base64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    public static func encode<Bytes: Collection>(_ bytes: Bytes, into buffer: inout ByteBuffer) where Bytes.Element == UInt8 {
        let count = bytes.count
        let outputLength = ((count + 2) / 3) * 4
        buffer.reserveCapacity(minimumWritableBytes: outputLength)
        _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: outputLength) { out in
            var o = 0
            var iterator = bytes.makeIterator()
            while let b0 = iterator.next() {
                let b1 = iterator.next()
                let b2 = iterator.next()
                out[o] = alphabet[Int(b0 >> 2)]
                out[o + 1] = alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)]
                out[o + 2] = b1.map { alphabet[Int(($0 & 0x0F) << 2 | (b2 ?? 0) >> 6)] } ?? UInt8(ascii: "=")
                out[o + 3] = b2.map { alphabet[Int($0 & 0x3F)] } ?? UInt8(ascii: "=")
                o += 4
            }
            return o
        }
    }

    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var buffer = ByteBuffer()
        encode(bytes, into: &buffer)
        return String(buffer: buffer)
    }

    /// Decodes padded or unpadded base64; nil for any other character or an impossible length.
    public static func decode<Bytes: Collection>(_ bytes: Bytes) -> ByteBuffer? where Bytes.Element == UInt8 {
        var input = Array(bytes)
        while input.last == UInt8(ascii: "=") { input.removeLast() }
        if input.count % 4 == 1 { return nil }
        var output = ByteBuffer()
        output.reserveCapacity(input.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in input {
            let value = reverse[Int(byte)]
            if value == 0xFF { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.writeInteger(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return output
    }
}
