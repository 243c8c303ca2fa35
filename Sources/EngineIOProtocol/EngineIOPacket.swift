import NIOCore

/// The seven Engine.IO v4 packet types; the raw value is the ASCII digit that starts a text packet.
public enum EngineIOPacketType: UInt8, Sendable, CaseIterable {
    case open = 0x30, close, ping, pong, message, upgrade, noop
}

/// One Engine.IO v4 packet. Text payloads stay as bytes so the layer above can parse them without a String copy.
public enum EngineIOPacket: Hashable, Sendable {
    case open(ByteBuffer)
    case close
    case ping(ByteBuffer)
    case pong(ByteBuffer)
    case message(ByteBuffer)
    /// A binary message: a raw WebSocket binary frame, or `b` + base64 in a polling payload.
    case binary(ByteBuffer)
    case upgrade
    case noop

    public var type: EngineIOPacketType {
        switch self {
        case .open: .open
        case .close: .close
        case .ping: .ping
        case .pong: .pong
        case .message, .binary: .message
        case .upgrade: .upgrade
        case .noop: .noop
        }
    }

    /// Decodes a text packet (a WebSocket text frame, or one segment of a polling payload without the `b` prefix).
    public static func decode(text buffer: ByteBuffer) throws(EngineIOProtocolError) -> EngineIOPacket {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let type = EngineIOPacketType(rawValue: first)
        else { throw EngineIOProtocolError(.invalidPacketType) }
        let data = buffer.getSlice(at: buffer.readerIndex + 1, length: buffer.readableBytes - 1)!
        switch type {
        case .open: return .open(data)
        case .close: return .close
        case .ping: return .ping(data)
        case .pong: return .pong(data)
        case .message: return .message(data)
        case .upgrade: return .upgrade
        case .noop: return .noop
        }
    }

    /// Writes the text form (`<digit><data>`); a binary packet is written as `b<base64>`, its polling form.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .binary(let data):
            buffer.writeInteger(UInt8(ascii: "b"))
            buffer.writeBase64(data.readableBytesView)
        case .open(let data), .ping(let data), .pong(let data), .message(let data):
            buffer.writeInteger(type.rawValue)
            var copy = data
            buffer.writeBuffer(&copy)
        case .close, .upgrade, .noop:
            buffer.writeInteger(type.rawValue)
        }
    }

    public var isBinary: Bool {
        if case .binary = self { return true }
        return false
    }
}

extension EngineIOPacket {
    /// Convenience for tests and clients: a text packet from a Swift string.
    public static func message(_ string: String) -> EngineIOPacket { .message(ByteBuffer(string: string)) }
    public static func ping(_ string: String = "") -> EngineIOPacket { .ping(ByteBuffer(string: string)) }
    public static func pong(_ string: String = "") -> EngineIOPacket { .pong(ByteBuffer(string: string)) }

    /// The packet's text form as a string (binary packets in their base64 form).
    public var encodedString: String {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return String(buffer: buffer)
    }
}

/// A malformed Engine.IO packet or payload.
public struct EngineIOProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case invalidPacketType
        case invalidBase64
        case emptyPayload
    }
    let kind: Kind
    init(_ kind: Kind) { self.kind = kind }

    public static let invalidPacketType = EngineIOProtocolError(.invalidPacketType)
    public static let invalidBase64 = EngineIOProtocolError(.invalidBase64)
    public static let emptyPayload = EngineIOProtocolError(.emptyPayload)

    public var description: String {
        switch kind {
        case .invalidPacketType: "invalid packet type"
        case .invalidBase64: "invalid base64 binary packet"
        case .emptyPayload: "empty payload"
        }
    }
}
