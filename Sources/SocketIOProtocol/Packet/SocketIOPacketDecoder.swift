import NIOCore

/// Decodes Socket.IO v5 packets the way the reference parser (socket.io-parser) does.
///
/// Binary packets (`5`/`6`) are held until all announced attachments arrived, then returned
/// as `.event`/`.ack` with placeholders replaced by `.binary`. After a thrown error the decoder
/// is back in its initial state (the connection should normally be closed anyway).
public struct SocketIOPacketDecoder: Sendable {
    public let maxAttachments: Int
    public let maxAttachmentBytes: Int

    private var pending: SocketIOPacket?
    private var expectedAttachments = 0
    private var attachments: [ByteBuffer] = []
    private var attachmentBytes = 0

    /// A packet announcing more attachments than `maxAttachments`, or whose attachments together exceed
    /// `maxAttachmentBytes`, is a decode error: what one packet can make the decoder hold is bounded in count and bytes.
    public init(maxAttachments: Int = 10, maxAttachmentBytes: Int = .max) {
        self.maxAttachments = maxAttachments
        self.maxAttachmentBytes = maxAttachmentBytes
    }

    public var isAwaitingAttachments: Bool { pending != nil }

    /// Drops a partially received binary packet (the reference's `destroy()`).
    public mutating func reset() {
        pending = nil
        expectedAttachments = 0
        attachments = []
        attachmentBytes = 0
    }

    /// Text part of a packet. Returns the packet, or nil when it awaits binary attachments.
    public mutating func decode(text buffer: ByteBuffer) throws(SocketIOProtocolError) -> SocketIOPacket? {
        guard pending == nil else {
            reset()
            throw .unexpectedText
        }
        let maxAttachments = self.maxAttachments
        let (packet, count) = try buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(SocketIOProtocolError) in try Self.parse(bytes, maxAttachments: maxAttachments) }
        }.get()
        return try accept(packet, attachmentCount: count)
    }

    /// Convenience for tests and clients.
    public mutating func decode(text string: String) throws(SocketIOProtocolError) -> SocketIOPacket? {
        var string = string
        let maxAttachments = self.maxAttachments
        let (packet, count) = try string.withUTF8 { utf8 in
            Result { () throws(SocketIOProtocolError) in
                try Self.parse(UnsafeRawBufferPointer(utf8), maxAttachments: maxAttachments)
            }
        }.get()
        return try accept(packet, attachmentCount: count)
    }

    /// A binary attachment. Returns the reconstructed packet (placeholders replaced by .binary) when the last one arrives.
    public mutating func decode(binary buffer: ByteBuffer) throws(SocketIOProtocolError) -> SocketIOPacket? {
        guard var packet = pending else { throw .unexpectedBinary }
        // Compared without adding, so no size can overflow.
        guard buffer.readableBytes <= maxAttachmentBytes - attachmentBytes else {
            reset()
            throw .attachmentsTooLarge
        }
        attachmentBytes += buffer.readableBytes
        attachments.append(buffer)
        guard attachments.count == expectedAttachments else { return nil }
        packet.data = packet.data.map { Self.replacingPlaceholders(in: $0, with: attachments) }
        reset()
        return packet
    }

    private mutating func accept(_ parsed: SocketIOPacket, attachmentCount: Int) throws(SocketIOProtocolError) -> SocketIOPacket? {
        guard parsed.type.isBinary else { return parsed }
        var packet = parsed
        packet.type = packet.type == .binaryEvent ? .event : .ack
        // Placeholders are checked now, so a bad packet fails before its attachments are buffered.
        if let data = packet.data {
            try Self.checkPlaceholders(in: data, attachmentCount: attachmentCount)
        }
        if attachmentCount == 0 { return packet }
        pending = packet
        expectedAttachments = attachmentCount
        attachments.reserveCapacity(attachmentCount)
        return nil
    }

    // MARK: Text parsing

    /// `<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]`, as the reference's `decodeString`.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxAttachments: Int) throws(SocketIOProtocolError) -> (SocketIOPacket, Int) {
        let end = bytes.count
        guard end > 0 else { throw .invalidType }
        let typeDigit = bytes[0] &- UInt8(ascii: "0")
        guard let type = SocketIOPacketType(rawValue: typeDigit) else { throw .invalidType }
        var index = 1

        var attachmentCount = 0
        if type.isBinary {
            let start = index
            var tooMany = false
            while index < end, bytes[index] != UInt8(ascii: "-") {
                let digit = bytes[index] &- UInt8(ascii: "0")
                guard digit < 10 else { throw .illegalAttachmentsCount }
                if !tooMany {
                    attachmentCount = attachmentCount * 10 + Int(digit)
                    // Saturate instead of overflowing on absurd counts.
                    if attachmentCount > maxAttachments { tooMany = true }
                }
                index += 1
            }
            guard index < end, index > start else { throw .illegalAttachmentsCount }
            guard !tooMany else { throw .tooManyAttachments }
            index += 1  // "-"
        }

        var namespace = "/"
        if index < end, bytes[index] == UInt8(ascii: "/") {
            let start = index
            while index < end, bytes[index] != UInt8(ascii: ",") { index += 1 }
            namespace = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if index < end { index += 1 }  // ","
        }

        var id: Int?
        if index < end, bytes[index] &- UInt8(ascii: "0") < 10 {
            var value = 0
            while index < end {
                let digit = bytes[index] &- UInt8(ascii: "0")
                guard digit < 10 else { break }
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int(digit))
                guard !o1, !o2 else { throw .invalidAckId }
                value = sum
                index += 1
            }
            id = value
        }

        var data: JSONValue?
        if index < end {
            var parser = JSONParser(bytes: bytes, from: index)
            let payload: JSONValue
            do {
                payload = try parser.parseDocument()
            } catch {
                throw .invalidJSON(error)
            }
            guard SocketIOPacket.isPayloadValid(type, payload) else { throw .invalidPayload }
            data = payload
        }
        return (SocketIOPacket(type: type, namespace: namespace, data: data, id: id), attachmentCount)
    }

    // MARK: Placeholders

    /// `num` of a placeholder object (`"_placeholder": true`), or nil when the object is not one.
    private static func placeholderIndex(_ object: JSONObject, attachmentCount: Int) throws(SocketIOProtocolError) -> Int? {
        guard case .bool(true)? = object["_placeholder"] else { return nil }
        let index: Int
        switch object["num"] {
        case .int(let value)?: index = value
        case .double(let value)? where value.rounded(.towardZero) == value && value.magnitude < 1e15:
            index = Int(value)  // JSON 1.0 is the number 1 in JavaScript
        default: throw .badPlaceholder
        }
        guard index >= 0, index < attachmentCount else { throw .badPlaceholder }
        return index
    }

    private static func checkPlaceholders(in value: JSONValue, attachmentCount: Int) throws(SocketIOProtocolError) {
        switch value {
        case .array(let elements):
            for element in elements { try checkPlaceholders(in: element, attachmentCount: attachmentCount) }
        case .object(let object):
            if try placeholderIndex(object, attachmentCount: attachmentCount) != nil { return }
            for element in object.values { try checkPlaceholders(in: element, attachmentCount: attachmentCount) }
        default:
            return
        }
    }

    /// Only called after `checkPlaceholders` succeeded for the same attachment count.
    private static func replacingPlaceholders(in value: JSONValue, with buffers: [ByteBuffer]) -> JSONValue {
        switch value {
        case .array(var elements):
            for position in elements.indices {
                elements[position] = replacingPlaceholders(in: elements[position], with: buffers)
            }
            return .array(elements)
        case .object(var object):
            if let index = try? placeholderIndex(object, attachmentCount: buffers.count) {
                return .binary(buffers[index])
            }
            for key in object.keys {
                object[key] = replacingPlaceholders(in: object[key]!, with: buffers)
            }
            return .object(object)
        default:
            return value
        }
    }
}
