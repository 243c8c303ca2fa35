import NIOCore

public enum SocketIOPacketEncoder {
    /// Append the packet's text form to `buffer` (the caller may already have written bytes, e.g. Engine.IO's "4"
    /// after reserved WebSocket header room). Binary values anywhere inside `data` become {"_placeholder":true,"num":N}
    /// (depth-first, in order), the type becomes binaryEvent/binaryAck with the "N-" attachment count, and the
    /// attachments are returned in order. A packet with no binary returns [] and keeps its type.
    ///
    /// Only EVENT/ACK packets carry attachments (as in the reference); binary elsewhere is written as `null`.
    public static func encode(_ packet: SocketIOPacket, into buffer: inout ByteBuffer) -> [ByteBuffer] {
        var type = packet.type
        var attachmentCount = 0
        let carriesAttachments: Bool
        switch type {
        case .event, .ack, .binaryEvent, .binaryAck:
            carriesAttachments = true
            if let data = packet.data { attachmentCount = countBinaries(data) }
            if attachmentCount > 0 {
                type = (type == .event || type == .binaryEvent) ? .binaryEvent : .binaryAck
            }
        default:
            carriesAttachments = false
        }

        buffer.writeInteger(type.rawValue &+ UInt8(ascii: "0"))
        if type.isBinary {
            JSONWriter.writeInt(attachmentCount, to: &buffer)
            buffer.writeInteger(UInt8(ascii: "-"))
        }
        // The main namespace is implied (reference: only a non-empty nsp other than "/").
        if !packet.namespace.isEmpty, packet.namespace != "/" {
            buffer.writeString(packet.namespace)
            buffer.writeInteger(UInt8(ascii: ","))
        }
        if let id = packet.id {
            JSONWriter.writeInt(id, to: &buffer)
        }
        guard let data = packet.data else { return [] }
        var writer = JSONWriter(placeholders: carriesAttachments && attachmentCount > 0)
        writer.write(data, to: &buffer)
        return writer.attachments
    }

    /// Convenience for tests and clients: the text part as a String plus the attachments.
    public static func encode(_ packet: SocketIOPacket) -> (text: String, attachments: [ByteBuffer]) {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        let attachments = encode(packet, into: &buffer)
        return (String(buffer: buffer), attachments)
    }

    /// Counting first lets the header (which precedes the data) carry the count without
    /// re-encoding or moving bytes.
    private static func countBinaries(_ value: JSONValue) -> Int {
        switch value {
        case .binary: return 1
        case .array(let elements):
            var total = 0
            for element in elements { total += countBinaries(element) }
            return total
        case .object(let object):
            var total = 0
            for element in object.values { total += countBinaries(element) }
            return total
        default: return 0
        }
    }
}
