import EngineIOProtocol
import NIOCore

/// Engine.IO polling payload and packet decoders: one packet per record separator, each within its segment;
/// what decodes re-encodes to a payload that decodes to the same packets; base64 never grows on decoding.
func fuzzEngineIO(_ bytes: UnsafeRawBufferPointer) {
    let buffer = ByteBuffer(bytes: bytes)

    // A websocket text frame is one packet whose data is everything after the type byte.
    if let packet = try? EngineIOPacket.decode(text: buffer) {
        fuzzCheck(bytes.first == packet.type.rawValue, "type \(packet.type) from first byte \(bytes.first ?? 0)")
        switch packet {
        case .open(let data), .ping(let data), .pong(let data), .message(let data):
            fuzzCheck(data.readableBytesView.elementsEqual(bytes.dropFirst()), "packet data is not the input after the type byte")
        case .binary:
            fuzzCheck(false, "a text frame decoded as binary")
        case .close, .upgrade, .noop:
            break
        }
    }

    guard let packets = try? EngineIOPollingPayload.decode(buffer) else { return }
    let separators = bytes.reduce(0) { $0 + ($1 == EngineIOPollingPayload.separator ? 1 : 0) }
    fuzzCheck(packets.count == separators + 1, "\(packets.count) packets for \(separators) separators")
    var dataBytes = 0
    for packet in packets {
        switch packet {
        case .open(let data), .ping(let data), .pong(let data), .message(let data): dataBytes += data.readableBytes
        case .binary(let data): dataBytes += data.readableBytes
        case .close, .upgrade, .noop: break
        }
    }
    fuzzCheck(dataBytes <= bytes.count, "\(dataBytes) bytes of packet data from \(bytes.count) input bytes")

    var encoded = ByteBuffer()
    EngineIOPollingPayload.encode(packets, into: &encoded)
    // Base64 grows 3 → 4 bytes; re-encoding non-canonical base64 or dropped close/noop data can only shrink.
    fuzzCheck(encoded.readableBytes <= bytes.count * 4 / 3 + 4 * packets.count, "re-encoded payload grew to \(encoded.readableBytes)")
    guard let again = try? EngineIOPollingPayload.decode(encoded) else {
        fuzzCheck(false, "re-encoded payload does not decode")
        return
    }
    fuzzCheck(again == packets, "round trip changed the packets")
}
