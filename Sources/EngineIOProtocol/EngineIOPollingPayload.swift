import NIOCore

/// The polling transport's payload: packets joined by the record separator U+001E, binary as `b<base64>`.
public enum EngineIOPollingPayload {
    public static let separator: UInt8 = 0x1E

    public static func decode(_ buffer: ByteBuffer) throws(EngineIOProtocolError) -> [EngineIOPacket] {
        guard buffer.readableBytes > 0 else { throw .emptyPayload }
        var packets: [EngineIOPacket] = []
        var start = buffer.readerIndex
        let end = buffer.writerIndex
        let bytes = buffer.readableBytesView
        var index = bytes.startIndex
        while true {
            let segmentEnd = bytes[index...].firstIndex(of: separator) ?? end
            let segment = buffer.getSlice(at: start, length: segmentEnd - start)!
            packets.append(try decodeSegment(segment))
            if segmentEnd == end { break }
            index = segmentEnd + 1
            start = index
        }
        return packets
    }

    static func decodeSegment(_ segment: ByteBuffer) throws(EngineIOProtocolError) -> EngineIOPacket {
        if segment.getInteger(at: segment.readerIndex, as: UInt8.self) == UInt8(ascii: "b") {
            var encoded = segment
            encoded.moveReaderIndex(forwardBy: 1)
            guard let decoded = ByteBuffer(base64Decoding: encoded.readableBytesView) else { throw .invalidBase64 }
            return .binary(decoded)
        }
        return try EngineIOPacket.decode(text: segment)
    }

    public static func encode<Packets: Sequence>(_ packets: Packets, into buffer: inout ByteBuffer)
    where Packets.Element == EngineIOPacket {
        var first = true
        for packet in packets {
            if !first { buffer.writeInteger(separator) }
            first = false
            packet.encode(into: &buffer)
        }
    }
}
