import NIOCore
import NIOWebSocket
import Testing
@testable import HeraldWebSocket

@Suite struct WebSocketFrameParserTests {
    private func events(_ bytes: ByteBuffer, dripFeed: Bool) -> [WebSocketFrameParser.Event] {
        var parser = WebSocketFrameParser()
        var result: [WebSocketFrameParser.Event] = []
        var pending = ByteBuffer()
        var input = bytes
        while input.readableBytes > 0 {
            var piece = input.readSlice(length: dripFeed ? 1 : input.readableBytes)!
            pending.writeBuffer(&piece)
            while let event = parser.next(&pending) { result.append(event) }
        }
        return result
    }

    @Test func headerLengthsAndMask() {
        var parser = WebSocketFrameParser()
        for length in [0, 125, 126, 65535, 65536] {
            var frame = clientFrame(0x2, [UInt8](repeating: 7, count: length))
            guard case .header(let header) = parser.next(&frame) else { Issue.record("no header"); return }
            #expect(header == WebSocketFrameHeader(
                fin: true, reservedBits: 0, opcodeBits: 2, maskKey: [0x37, 0xFA, 0x21, 0x3D], length: UInt64(length)))
            guard case .payload(let chunk, 0, true) = parser.next(&frame) else { Issue.record("no payload"); return }
            #expect(chunk.readableBytes == length)
            #expect(parser.next(&frame) == nil)
        }
    }

    @Test func reservedBitsOpcodeAndHugeLengthAreReportedAsSent() {
        var parser = WebSocketFrameParser()
        var bytes = ByteBuffer(bytes: [0x7B, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0])   // RSV1-3, opcode B, 64-bit length with top bit
        bytes.writeBytes([1, 2, 3, 4])
        guard case .header(let header) = parser.next(&bytes) else { Issue.record("no header"); return }
        #expect(header.reservedBits == 0b111)
        #expect(header.opcodeBits == 0xB)
        #expect(header.isControl)
        #expect(header.length == 1 << 63)
    }

    @Test func dataPayloadStreamsInChunksWithMaskOffsets() {
        let frame = clientFrame(0x1, Array("abcdef".utf8))
        let dripped = events(frame, dripFeed: true)
        #expect(dripped.count == 7)
        var unmasked = ByteBuffer()
        for event in dripped {
            if case .payload(let chunk, let offset, _) = event {
                WebSocketMasking.appendUnmasked(chunk, mask: [0x37, 0xFA, 0x21, 0x3D], maskOffset: offset, to: &unmasked)
            }
        }
        #expect(unmasked == ByteBuffer(string: "abcdef"))
        guard case .payload(_, 5, true) = dripped.last else { Issue.record("last chunk"); return }
    }

    @Test func controlPayloadIsYieldedWhole() {
        let dripped = events(clientFrame(0x9, Array("ping".utf8)), dripFeed: true)
        #expect(dripped.count == 2)
        guard case .payload(let chunk, 0, true) = dripped.last else { Issue.record("payload"); return }
        #expect(chunk.readableBytes == 4)
    }

    @Test func unmaskingWithOffsetsMatchesWholeUnmasking() {
        let payload = (0..<37).map { UInt8($0 * 7 & 0xFF) }
        let frame = clientFrame(0x2, payload)
        let masked = frame.getSlice(at: 6, length: 37)!
        for split in 0...37 {
            var out = ByteBuffer()
            WebSocketMasking.appendUnmasked(masked.getSlice(at: 0, length: split)!, mask: [0x37, 0xFA, 0x21, 0x3D], to: &out)
            WebSocketMasking.appendUnmasked(
                masked.getSlice(at: split, length: 37 - split)!, mask: [0x37, 0xFA, 0x21, 0x3D], maskOffset: split, to: &out)
            #expect(Array(out.readableBytesView) == payload)
        }
    }
}
