import NIOCore
import NIOWebSocket

/// Builds unmasked server frames (always FIN, no extensions) straight into ByteBuffers, so a
/// frame can be encoded once and written to many connections.
public enum WebSocketFrameBuilder {
    /// Largest unmasked server frame header: 2 bytes + 8-byte extended length.
    public static let maxServerHeaderSize = 10

    /// Header size for a payload of `length` bytes.
    public static func headerSize(payloadLength length: Int) -> Int {
        if length <= 125 { return 2 }
        if length <= 0xFFFF { return 4 }
        return 10
    }

    /// Reserve header room at the current writer index so the payload can be written straight after; returns the payload start index.
    public static func reserveHeader(in buffer: inout ByteBuffer) -> Int {
        buffer.writeRepeatingByte(0, count: maxServerHeaderSize)
        return buffer.writerIndex
    }

    /// Write the header (FIN set, given opcode, unmasked) immediately before the payload that starts at payloadStart and runs to writerIndex, and move readerIndex to the header's first byte. The buffer then holds exactly one complete frame.
    public static func finishFrame(in buffer: inout ByteBuffer, opcode: WebSocketOpcode, payloadStart: Int) {
        let length = buffer.writerIndex - payloadStart
        precondition(length >= 0, "payloadStart is past the writer index")
        let headerStart = payloadStart - headerSize(payloadLength: length)
        precondition(headerStart >= buffer.readerIndex, "no room reserved for the frame header")
        setHeader(in: &buffer, at: headerStart, opcode: opcode, length: length)
        buffer.moveReaderIndex(to: headerStart)
    }

    /// A new buffer holding one complete frame with a copy of `payload`.
    public static func makeFrame(opcode: WebSocketOpcode, payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = payload.readableBytes
        let header = headerSize(payloadLength: length)
        var buffer = allocator.buffer(capacity: header + length)
        buffer.writeRepeatingByte(0, count: header)
        setHeader(in: &buffer, at: buffer.readerIndex, opcode: opcode, length: length)
        buffer.writeImmutableBuffer(payload)
        return buffer
    }

    /// Writes a header of exactly `headerSize(payloadLength: length)` bytes at `index`.
    @inline(__always)
    static func setHeader(in buffer: inout ByteBuffer, at index: Int, opcode: WebSocketOpcode, length: Int) {
        let first = 0x80 | UInt8(webSocketOpcode: opcode)
        if length <= 125 {
            buffer.setInteger(UInt16(first) << 8 | UInt16(length), at: index)
        } else if length <= 0xFFFF {
            buffer.setInteger(UInt16(first) << 8 | 126, at: index)
            buffer.setInteger(UInt16(length), at: index + 2)
        } else {
            buffer.setInteger(UInt16(first) << 8 | 127, at: index)
            buffer.setInteger(UInt64(length), at: index + 2)
        }
    }

    /// Appends one masked client frame, as RFC 6455 5.3 requires of clients: `opcode` is the raw 4-bit value,
    /// `maskKey`'s bytes (most significant first) follow the length, then the payload XORed with them.
    /// For clients that frame by hand (the load generator, the test kit); servers never mask.
    public static func writeMaskedFrame(fin: Bool = true, opcode: UInt8, payload: UnsafeRawBufferPointer, maskKey: UInt32,
                                        into buffer: inout ByteBuffer) {
        let length = payload.count
        buffer.writeInteger((fin ? 0x80 : 0) | opcode)
        if length <= 125 {
            buffer.writeInteger(0x80 | UInt8(length))
        } else if length <= 0xFFFF {
            buffer.writeInteger(UInt8(0x80 | 126))
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(UInt8(0x80 | 127))
            buffer.writeInteger(UInt64(length))
        }
        buffer.writeInteger(maskKey)
        withUnsafeBytes(of: maskKey.bigEndian) { key in
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { output in
                for i in 0..<length { output[i] = payload[i] ^ key[i & 3] }
                return length
            }
        }
    }

    /// A Close frame payload: 2-byte code then the reason truncated to fit 125 bytes at a
    /// character boundary. `nil` code (or 1005/1006, which must never be sent) gives an empty payload.
    static func makeCloseFrame(code: WebSocketCloseCode?, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 2 + 125)
        buffer.writeRepeatingByte(0, count: 2)
        let payloadStart = buffer.writerIndex
        if let code, code != .noStatusReceived, code != .abnormalClosure {
            buffer.writeInteger(code.rawValue)
            let utf8 = Array(reason.utf8)
            var end = min(utf8.count, 123)
            // Cut before a continuation byte would split a character: back off to its lead byte.
            while end < utf8.count, end > 0, utf8[end] & 0xC0 == 0x80 { end -= 1 }
            buffer.writeBytes(utf8[..<end])
        }
        finishFrame(in: &buffer, opcode: .connectionClose, payloadStart: payloadStart)
        return buffer
    }
}
