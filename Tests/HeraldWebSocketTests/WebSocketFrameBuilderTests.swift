import NIOCore
import Testing
@testable import HeraldWebSocket

@Suite struct WebSocketFrameBuilderTests {
    static let cases: [(length: Int, header: [UInt8])] = [
        (0, [0x82, 0x00]),
        (125, [0x82, 125]),
        (126, [0x82, 126, 0x00, 126]),
        (65535, [0x82, 126, 0xFF, 0xFF]),
        (65536, [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
    ]

    @Test(arguments: cases)
    func makeFrameHeader(length: Int, header: [UInt8]) {
        let payload = ByteBuffer(repeating: 0x61, count: length)
        let frame = WebSocketFrameBuilder.makeFrame(opcode: .binary, payload: payload, allocator: ByteBufferAllocator())
        #expect(frame.readableBytes == header.count + length)
        #expect(frame.getBytes(at: frame.readerIndex, length: header.count) == header)
        #expect(frame.getSlice(at: frame.readerIndex + header.count, length: length) == payload)
    }

    @Test(arguments: cases)
    func reserveThenFinish(length: Int, header: [UInt8]) {
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        let start = WebSocketFrameBuilder.reserveHeader(in: &buffer)
        #expect(start == WebSocketFrameBuilder.maxServerHeaderSize)
        buffer.writeRepeatingByte(0x61, count: length)
        WebSocketFrameBuilder.finishFrame(in: &buffer, opcode: .binary, payloadStart: start)
        #expect(buffer.readableBytes == header.count + length)
        #expect(buffer.readBytes(length: header.count) == header)
        #expect(buffer.readableBytes == length)
    }

    @Test func textOpcodeAndFin() {
        let frame = WebSocketFrameBuilder.makeFrame(opcode: .text, payload: ByteBuffer(string: "hi"), allocator: ByteBufferAllocator())
        #expect(Array(frame.readableBytesView) == [0x81, 0x02, 0x68, 0x69])
    }

    @Test func closeFrameTruncatesReasonAtCharacterBoundary() {
        // 62 two-byte characters = 124 bytes: must be cut to 61 characters (122 bytes), never mid-character.
        let reason = String(repeating: "é", count: 62)
        let frame = WebSocketFrameBuilder.makeCloseFrame(code: .goingAway, reason: reason, allocator: ByteBufferAllocator())
        #expect(Array(frame.readableBytesView.prefix(4)) == [0x88, 124, 0x03, 0xE9])
        #expect(frame.readableBytes == 2 + 2 + 122)
        #expect(WebSocketUTF8Validator.isValid(frame.getSlice(at: frame.readerIndex + 4, length: 122)!))
    }

    @Test func closeFrameForReservedCodeIsEmpty() {
        let frame = WebSocketFrameBuilder.makeCloseFrame(code: .noStatusReceived, reason: "x", allocator: ByteBufferAllocator())
        #expect(Array(frame.readableBytesView) == [0x88, 0x00])
    }

    @Test func configurationDefaults() {
        let configuration = WebSocketConfiguration()
        #expect(configuration.maxFrameSize == 1 << 20)
        #expect(configuration.maxMessageSize == 1 << 20)
        #expect(configuration.closeTimeout == .seconds(5))
    }

    @Test func closeCodeValidity() {
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            #expect(WebSocketCloseCode(rawValue: code).isValidOnWire, "\(code)")
        }
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            #expect(!WebSocketCloseCode(rawValue: code).isValidOnWire, "\(code)")
        }
    }
}
