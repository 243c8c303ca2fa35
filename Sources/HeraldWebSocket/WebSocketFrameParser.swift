import NIOCore
import NIOWebSocket

/// The fixed part of a frame, as read off the wire, before any validation.
struct WebSocketFrameHeader: Equatable {
    var fin: Bool
    /// RSV1–RSV3 as the low three bits.
    var reservedBits: UInt8
    /// The 4-bit opcode as sent (may be a reserved value).
    var opcodeBits: UInt8
    var maskKey: WebSocketMaskingKey?
    /// Payload length as sent; may exceed Int.max (the RFC forbids the top bit).
    var length: UInt64

    var isControl: Bool { opcodeBits & 0x8 != 0 }
}

/// Streaming frame parser: pure value type, no limits or policy (the connection applies those).
///
/// It yields each header as soon as it is complete and then the payload in the chunks that
/// arrive, so the connection can reject a frame by its header before buffering its payload
/// and validate text while a large frame is still arriving. Control-frame payloads (≤ 125
/// bytes once validated) are yielded whole.
struct WebSocketFrameParser {
    enum Event: Equatable {
        case header(WebSocketFrameHeader)
        /// A slice of the still-masked payload; `maskOffset` is its offset within the frame's payload.
        case payload(ByteBuffer, maskOffset: Int, isLastChunk: Bool)
    }

    private enum State {
        case header
        case payload(remaining: Int, offset: Int, whole: Bool)
    }

    private var state = State.header

    /// Consumes bytes from `buffer` and returns the next event, or nil when more bytes are needed.
    mutating func next(_ buffer: inout ByteBuffer) -> Event? {
        switch state {
        case .header:
            guard let header = Self.readHeader(&buffer) else { return nil }
            state = .payload(remaining: Int(clamping: header.length), offset: 0, whole: header.isControl)
            return .header(header)

        case .payload(let remaining, let offset, let whole):
            let available = buffer.readableBytes
            if remaining == 0 {
                state = .header
                return .payload(buffer.getSlice(at: buffer.readerIndex, length: 0)!, maskOffset: offset, isLastChunk: true)
            }
            if available == 0 || (whole && available < remaining) { return nil }
            let count = min(available, remaining)
            let chunk = buffer.readSlice(length: count)!
            let isLast = count == remaining
            state = isLast ? .header : .payload(remaining: remaining - count, offset: offset + count, whole: whole)
            return .payload(chunk, maskOffset: offset, isLastChunk: isLast)
        }
    }

    /// Reads a complete header (2–14 bytes) or nothing.
    private static func readHeader(_ buffer: inout ByteBuffer) -> WebSocketFrameHeader? {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self),
              let second = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        let masked = second & 0x80 != 0
        let lengthCode = second & 0x7F
        let extendedBytes = lengthCode == 126 ? 2 : (lengthCode == 127 ? 8 : 0)
        let size = 2 + extendedBytes + (masked ? 4 : 0)
        guard buffer.readableBytes >= size else { return nil }

        var length = UInt64(lengthCode)
        if extendedBytes == 2 {
            length = UInt64(buffer.getInteger(at: start + 2, as: UInt16.self)!)
        } else if extendedBytes == 8 {
            length = buffer.getInteger(at: start + 2, as: UInt64.self)!
        }
        var maskKey: WebSocketMaskingKey?
        if masked {
            let maskStart = start + 2 + extendedBytes
            maskKey = WebSocketMaskingKey(buffer.getBytes(at: maskStart, length: 4)!)
        }
        buffer.moveReaderIndex(forwardBy: size)
        return WebSocketFrameHeader(
            fin: first & 0x80 != 0, reservedBits: (first >> 4) & 0x7, opcodeBits: first & 0xF,
            maskKey: maskKey, length: length)
    }
}
