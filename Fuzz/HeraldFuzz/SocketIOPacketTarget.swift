import NIOCore
import SocketIOProtocol

/// Socket.IO packet decoder: the input is a sequence of frames separated by 0x00 bytes; each is given as text or
/// as a binary attachment as the decoder's state asks, as a transport does. Every decoded packet re-encodes to a
/// form that decodes to the same packet; binary packets come back as event/ack with exactly the attachments
/// that were sent in place of their placeholders; the decoder never holds more than `maxAttachments`.
func fuzzSocketIOPacket(_ bytes: UnsafeRawBufferPointer) {
    let maxAttachments = 4
    var decoder = SocketIOPacketDecoder(maxAttachments: maxAttachments)
    var attachments: [ByteBuffer] = []
    for frame in fuzzSplit(bytes) {
        let buffer = ByteBuffer(bytes: frame)
        let packet: SocketIOPacket?
        do {
            if decoder.isAwaitingAttachments {
                attachments.append(buffer)
                fuzzCheck(attachments.count <= maxAttachments, "decoder accepted \(attachments.count) attachments")
                packet = try decoder.decode(binary: buffer)
            } else {
                attachments = []
                packet = try decoder.decode(text: buffer)
            }
        } catch {
            fuzzCheck(!decoder.isAwaitingAttachments, "decoder still awaits attachments after \(error)")
            attachments = []
            continue
        }
        guard let packet else {
            fuzzCheck(decoder.isAwaitingAttachments, "no packet and not awaiting attachments")
            continue
        }
        check(packet, attachments: attachments, inputBytes: bytes.count)
        attachments = []
    }
}

private func check(_ packet: SocketIOPacket, attachments: [ByteBuffer], inputBytes: Int) {
    fuzzCheck(!packet.type.isBinary, "decoder returned a \(packet.type) packet")
    // Every reconstructed binary is one of the attachments sent (placeholders may repeat or skip one).
    var binaries: [ByteBuffer] = []
    if let data = packet.data { collectBinaries(data, into: &binaries) }
    for binary in binaries {
        fuzzCheck(attachments.contains(binary), "a binary that was not sent as an attachment")
    }
    if attachments.isEmpty { fuzzCheck(binaries.isEmpty, "binary values without attachments") }

    // Round trip through the encoder: same packet, same attachments (compared by canonical text: 1.0 re-reads as 1).
    let (text, encodedAttachments) = SocketIOPacketEncoder.encode(packet)
    fuzzCheck(encodedAttachments.count == binaries.count, "encoder wrote \(encodedAttachments.count) attachments for \(binaries.count) binaries")
    fuzzCheck(text.utf8.count <= 8 * inputBytes + 64, "encoded \(text.utf8.count) bytes from \(inputBytes)")
    var decoder = SocketIOPacketDecoder(maxAttachments: max(encodedAttachments.count, 1))
    do {
        var again = try decoder.decode(text: text)
        for attachment in encodedAttachments {
            fuzzCheck(again == nil, "re-decoded packet complete before its attachments")
            again = try decoder.decode(binary: attachment)
        }
        guard let again else {
            fuzzCheck(false, "re-decoded packet incomplete: \(text)")
            return
        }
        let (textAgain, attachmentsAgain) = SocketIOPacketEncoder.encode(again)
        fuzzCheck(textAgain == text && attachmentsAgain == encodedAttachments, "round trip changed \(text) into \(textAgain)")
        fuzzCheck(again.namespace == packet.namespace && again.id == packet.id && again.type == packet.type,
                  "round trip changed the header of \(text)")
    } catch {
        fuzzCheck(false, "encoder output does not decode: \(text): \(error)")
    }
}

private func collectBinaries(_ value: JSONValue, into binaries: inout [ByteBuffer]) {
    switch value {
    case .binary(let buffer): binaries.append(buffer)
    case .array(let elements): for element in elements { collectBinaries(element, into: &binaries) }
    case .object(let object): for element in object.values { collectBinaries(element, into: &binaries) }
    default: break
    }
}
