import NIOCore
import HeraldWebSocket

/// One websocket frame as the test client sees it.
public struct WebSocketTestFrame: Sendable, Hashable, CustomStringConvertible {
    /// RFC 6455 opcodes.
    public enum Opcode: UInt8, Sendable {
        case continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA
    }

    public var fin: Bool
    public var opcode: Opcode
    public var payload: ByteBuffer

    public init(fin: Bool = true, opcode: Opcode, payload: ByteBuffer) {
        self.fin = fin
        self.opcode = opcode
        self.payload = payload
    }

    public static func text(_ text: String) -> WebSocketTestFrame { .init(opcode: .text, payload: ByteBuffer(string: text)) }
    public static func binary(_ bytes: [UInt8]) -> WebSocketTestFrame { .init(opcode: .binary, payload: ByteBuffer(bytes: bytes)) }

    /// The payload as UTF-8 text.
    public var text: String { String(buffer: payload) }
    /// The payload bytes.
    public var bytes: [UInt8] { Array(payload.readableBytesView) }
    /// For a close frame: its status code, nil when the payload is empty.
    public var closeCode: UInt16? { opcode == .close ? payload.getInteger(at: payload.readerIndex, as: UInt16.self) : nil }

    public var description: String {
        switch opcode {
        case .text: "text(\(text.debugDescription))"
        case .close: "close(\(closeCode.map(String.init) ?? "-"))"
        default: "\(opcode)(\(bytes))"
        }
    }

    /// A client frame: masked with `maskKey`, as RFC 6455 requires of clients.
    func encodeMasked(maskKey: [UInt8]) -> ByteBuffer {
        precondition(maskKey.count == 4, "a mask key is 4 bytes")
        var buffer = ByteBuffer()
        payload.withUnsafeReadableBytes { bytes in
            WebSocketFrameBuilder.writeMaskedFrame(
                fin: fin, opcode: opcode.rawValue, payload: bytes,
                maskKey: maskKey.reduce(0) { $0 << 8 | UInt32($1) }, into: &buffer)
        }
        return buffer
    }

    /// Parses one unmasked server frame from the front of `buffer`; nil until it is complete.
    static func parseServerFrame(_ buffer: inout ByteBuffer) throws -> WebSocketTestFrame? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self)
        else { return nil }
        guard second & 0x80 == 0 else { throw HTTPTestError.malformedFrame("server frames must not be masked") }
        guard first & 0x70 == 0 else { throw HTTPTestError.malformedFrame("reserved bits set") }
        guard let opcode = Opcode(rawValue: first & 0x0F) else { throw HTTPTestError.malformedFrame("opcode \(first & 0x0F)") }
        var headerLength = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let extended = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self) else { return nil }
            length = Int(extended)
            headerLength = 4
        } else if length == 127 {
            guard let extended = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt64.self) else { return nil }
            length = Int(extended)
            headerLength = 10
        }
        guard buffer.readableBytes >= headerLength + length else { return nil }
        buffer.moveReaderIndex(forwardBy: headerLength)
        return WebSocketTestFrame(fin: first & 0x80 != 0, opcode: opcode, payload: buffer.readSlice(length: length)!)
    }
}
