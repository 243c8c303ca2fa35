import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
@testable import HeraldWebSocket

@Suite struct WebSocketConnectionTests {
    static let closeProtocolError: [UInt8] = [0x88, 0x02, 0x03, 0xEA]
    static let closeInvalidPayload: [UInt8] = [0x88, 0x02, 0x03, 0xEF]
    static let closeTooBig: [UInt8] = [0x88, 0x02, 0x03, 0xF1]

    @Test func maskedTextIsEchoed() throws {
        let h = try Harness(echo: true)
        try h.send(clientFrame(0x1, Array("Hello".utf8)))
        #expect(h.delegate.messages == [.text(ByteBuffer(string: "Hello"))])
        #expect(try h.output() == [0x81, 0x05] + Array("Hello".utf8))
        #expect(h.channel.isActive)
    }

    @Test func binaryOf200BytesIsEchoedWithExtendedLength() throws {
        let h = try Harness(echo: true)
        let payload = (0..<200).map { UInt8($0 & 0xFF) }
        try h.send(clientFrame(0x2, payload))
        #expect(try h.output() == [0x82, 126, 0x00, 200] + payload)
    }

    @Test func fragmentedMessageIsReassembled() throws {
        let h = try Harness()
        try h.send(clientFrame(0x1, Array("Hel".utf8), fin: false))
        try h.send(clientFrame(0x0, Array("lo, ".utf8), fin: false))
        #expect(h.delegate.messages.isEmpty)
        try h.send(clientFrame(0x0, Array("wörld".utf8)))
        #expect(h.delegate.messages == [.text(ByteBuffer(string: "Hello, wörld"))])
    }

    @Test func pingBetweenFragmentsIsAnsweredWithSamePayload() throws {
        let h = try Harness()
        try h.send(clientFrame(0x2, [1, 2], fin: false))
        try h.send(clientFrame(0x9, Array("ping!".utf8)))
        #expect(try h.output() == [0x8A, 0x05] + Array("ping!".utf8))
        try h.send(clientFrame(0x0, [3]))
        #expect(h.delegate.messages == [.binary(ByteBuffer(bytes: [1, 2, 3]))])
    }

    @Test func unsolicitedPongIsIgnored() throws {
        let h = try Harness()
        try h.send(clientFrame(0xA, [9]))
        #expect(try h.output() == [])
        #expect(h.channel.isActive)
    }

    // MARK: Failing the connection: exact Close frame, then TCP closed, delegate told 1006.

    static let protocolErrors: [(String, [ByteBuffer])] = [
        ("reserved bit", [clientFrame(0x1, [0x61], rsv: 0b100)]),
        ("unknown data opcode", [clientFrame(0x3, [])]),
        ("unknown control opcode", [clientFrame(0xB, [])]),
        ("unmasked frame", [clientFrame(0x1, [0x61], mask: nil)]),
        ("continuation without start", [clientFrame(0x0, [0x61])]),
        ("new message inside a fragmented one", [clientFrame(0x1, [0x61], fin: false), clientFrame(0x1, [0x62])]),
        ("control frame payload > 125", [clientFrame(0x9, [UInt8](repeating: 0, count: 126))]),
        ("fragmented control frame", [clientFrame(0x9, [], fin: false)]),
        ("close with 1-byte payload", [clientFrame(0x8, [0x03])]),
        ("close code 999", [clientFrame(0x8, closePayload(999))]),
        ("close code 1004", [clientFrame(0x8, closePayload(1004))]),
        ("close code 1005", [clientFrame(0x8, closePayload(1005))]),
        ("close code 1006", [clientFrame(0x8, closePayload(1006))]),
        ("close code 1015", [clientFrame(0x8, closePayload(1015))]),
        ("close code 1016", [clientFrame(0x8, closePayload(1016))]),
        ("close code 2999", [clientFrame(0x8, closePayload(2999))]),
        ("close code 5000", [clientFrame(0x8, closePayload(5000))]),
    ]

    @Test(arguments: protocolErrors)
    func protocolErrorClosesWith1002(name: String, frames: [ByteBuffer]) throws {
        let h = try Harness()
        for frame in frames { try? h.send(frame) }
        #expect(try h.output() == Self.closeProtocolError, "\(name)")
        #expect(!h.channel.isActive, "\(name)")
        #expect(h.delegate.closes.map(\.code) == [.abnormalClosure])
        #expect(h.connection.delegate == nil)
    }

    static let invalidPayloads: [(String, [ByteBuffer])] = [
        ("invalid text", [clientFrame(0x1, [0x61, 0xC0, 0xAF])]),
        ("surrogate in text", [clientFrame(0x1, [0xED, 0xA0, 0x80])]),
        ("text ends mid-character", [clientFrame(0x1, [0xE2, 0x82])]),
        ("fragment ends mid-character", [clientFrame(0x1, [0xE2], fin: false), clientFrame(0x0, [0x82])]),
        ("close reason not UTF-8", [clientFrame(0x8, closePayload(1000, [0xFF]))]),
    ]

    @Test(arguments: invalidPayloads)
    func invalidPayloadClosesWith1007(name: String, frames: [ByteBuffer]) throws {
        let h = try Harness()
        for frame in frames { try? h.send(frame) }
        #expect(try h.output() == Self.closeInvalidPayload, "\(name)")
        #expect(!h.channel.isActive)
        #expect(h.delegate.messages.isEmpty)
    }

    @Test func invalidTextFailsFastBeforeTheFinalFragment() throws {
        let h = try Harness()
        try h.send(clientFrame(0x1, Array("ok".utf8), fin: false))
        try? h.send(clientFrame(0x0, [0xF4, 0x90], fin: false))   // > U+10FFFF: impossible already
        #expect(try h.output() == Self.closeInvalidPayload)
        #expect(!h.channel.isActive)
    }

    @Test func frameOverLimitClosesWith1009() throws {
        let h = try Harness(configuration: WebSocketConfiguration(maxFrameSize: 16))
        try? h.send(clientFrame(0x2, [UInt8](repeating: 1, count: 17)))
        #expect(try h.output() == Self.closeTooBig)
        #expect(!h.channel.isActive)
    }

    @Test func messageOverLimitClosesWith1009() throws {
        let h = try Harness(configuration: WebSocketConfiguration(maxFrameSize: 16, maxMessageSize: 20))
        try h.send(clientFrame(0x2, [UInt8](repeating: 1, count: 16), fin: false))
        try? h.send(clientFrame(0x0, [UInt8](repeating: 1, count: 5)))
        #expect(try h.output() == Self.closeTooBig)
        #expect(!h.channel.isActive)
        #expect(h.delegate.messages.isEmpty)
    }

    @Test func singleFrameMessageOverMessageLimitClosesWith1009() throws {
        let h = try Harness(configuration: WebSocketConfiguration(maxFrameSize: 64, maxMessageSize: 10))
        try? h.send(clientFrame(0x1, [UInt8](repeating: 0x61, count: 11)))
        #expect(try h.output() == Self.closeTooBig)
    }

    // MARK: Close handshake

    @Test func peerCloseIsEchoedAndTCPClosed() throws {
        let h = try Harness()
        try h.send(clientFrame(0x8, closePayload(1000, Array("bye".utf8))))
        #expect(try h.output() == [0x88, 0x02, 0x03, 0xE8])
        #expect(!h.channel.isActive)
        #expect(h.delegate.closes.count == 1)
        #expect(h.delegate.closes.first?.code == .normalClosure)
        #expect(h.delegate.closes.first?.reason == "bye")
    }

    @Test func emptyPeerCloseIsEchoedEmptyAndReported1005() throws {
        let h = try Harness()
        try h.send(clientFrame(0x8, []))
        #expect(try h.output() == [0x88, 0x00])
        #expect(h.delegate.closes.first?.code == .noStatusReceived)
    }

    @Test func framesAfterPeerCloseAreIgnored() throws {
        let h = try Harness()
        var both = clientFrame(0x8, closePayload(4000))
        both.writeImmutableBuffer(clientFrame(0x1, Array("late".utf8)))
        try h.send(both)
        #expect(try h.output() == [0x88, 0x02, 0x0F, 0xA0])
        #expect(h.delegate.messages.isEmpty)
    }

    @Test func ourCloseWaitsForPeerClose() throws {
        let h = try Harness()
        h.connection.close(code: .goingAway, reason: "bye")
        #expect(try h.output() == [0x88, 0x05, 0x03, 0xE9] + Array("bye".utf8))
        #expect(h.channel.isActive)
        // Closing is idempotent and no data frames go out after our Close.
        h.connection.close()
        h.connection.send(.text(ByteBuffer(string: "x")))
        #expect(try h.output() == [])
        // Data from the peer is ignored; its Close ends the connection without another Close from us.
        try h.send(clientFrame(0x1, Array("ignored".utf8)))
        try h.send(clientFrame(0x8, closePayload(1001)))
        #expect(try h.output() == [])
        #expect(!h.channel.isActive)
        #expect(h.delegate.messages.isEmpty)
        #expect(h.delegate.closes.map(\.code) == [.goingAway])
    }

    @Test func ourCloseTimesOut() throws {
        let h = try Harness(configuration: WebSocketConfiguration(closeTimeout: .seconds(3)))
        h.connection.close()
        #expect(try h.output() == [0x88, 0x02, 0x03, 0xE8])
        h.channel.embeddedEventLoop.advanceTime(by: .milliseconds(2999))
        #expect(h.channel.isActive)
        h.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!h.channel.isActive)
        #expect(h.delegate.closes.map(\.code) == [.abnormalClosure])
    }

    @Test func tcpDropWithoutCloseReports1006Once() throws {
        let h = try Harness()
        _ = try h.channel.finish()
        #expect(h.delegate.closes.map(\.code) == [.abnormalClosure])
    }

    // MARK: Writes

    @Test func sendsInOneTickAreFlushedOnce() throws {
        let h = try Harness()
        h.connection.send(.text(ByteBuffer(string: "a")))
        h.connection.send(.binary(ByteBuffer(bytes: [1])))
        h.connection.write(preframed: WebSocketFrameBuilder.makeFrame(opcode: .text, payload: ByteBuffer(string: "b"), allocator: h.channel.allocator))
        h.connection.send(.text(ByteBuffer(string: "c")))
        #expect(h.flushCounter.flushes == 0)
        #expect(try h.output() == [0x81, 0x01, 0x61, 0x82, 0x01, 0x01, 0x81, 0x01, 0x62, 0x81, 0x01, 0x63])
        #expect(h.flushCounter.flushes == 1)
        h.connection.send(.text(ByteBuffer(string: "d")))
        _ = try h.output()
        #expect(h.flushCounter.flushes == 2)
    }

    @Test func preframedWriteNeedsExplicitFlush() throws {
        let h = try Harness()
        var frame = ByteBufferAllocator().buffer(capacity: 32)
        let start = WebSocketFrameBuilder.reserveHeader(in: &frame)
        frame.writeString("shared")
        WebSocketFrameBuilder.finishFrame(in: &frame, opcode: .text, payloadStart: start)
        h.connection.write(preframed: frame)
        #expect(try h.output() == [])
        h.connection.flush()
        #expect(try h.output() == [0x81, 0x06] + Array("shared".utf8))
    }

    @Test func writabilityChangesReachTheDelegate() throws {
        let h = try Harness()
        h.channel.pipeline.fireChannelWritabilityChanged()
        #expect(h.delegate.writability == [h.channel.isWritable])
    }

    // MARK: Streaming

    @Test func dripFedConversationMatchesBulk() throws {
        var all = clientFrame(0x1, Array("Hé".utf8), fin: false)
        all.writeImmutableBuffer(clientFrame(0x9, [1, 2, 3]))
        all.writeImmutableBuffer(clientFrame(0x0, Array("llo 😀".utf8)))
        all.writeImmutableBuffer(clientFrame(0x2, [UInt8](repeating: 9, count: 300)))
        all.writeImmutableBuffer(clientFrame(0x8, closePayload(1001)))

        let bulk = try Harness(echo: true)
        try bulk.send(all)
        let drip = try Harness(echo: true)
        var input = all
        while let byte = input.readSlice(length: 1) { try drip.send(byte) }

        let expected = [0x8A, 0x03, 1, 2, 3, 0x81, 0x0B] + Array("Héllo 😀".utf8)
            + [0x82, 126, 0x01, 0x2C] + [UInt8](repeating: 9, count: 300) + [0x88, 0x02, 0x03, 0xE9]
        #expect(try bulk.output() == expected)
        #expect(try drip.output() == expected)
        #expect(drip.delegate.messages == bulk.delegate.messages)
        #expect(!drip.channel.isActive)
    }

    @Test func invalidTextFailsInsideAFrameBeforeItEnds() throws {
        let h = try Harness()
        let frame = clientFrame(0x1, Array("κόσμε".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("edited".utf8))
        // Header, mask and the first 13 payload bytes: "κόσμε" plus F4 90, which can never be valid.
        try h.send(frame.getSlice(at: 0, length: 6 + 13)!)
        #expect(try h.output() == Self.closeInvalidPayload)
        #expect(!h.channel.isActive)
    }

    @Test func oversizedFrameIsRejectedByItsHeaderAlone() throws {
        let h = try Harness(configuration: WebSocketConfiguration(maxFrameSize: 1000))
        try h.send(ByteBuffer(bytes: [0x82, 0xFE, 0x03, 0xE9, 1, 2, 3, 4]))   // claims 1001 bytes, sends none
        #expect(try h.output() == Self.closeTooBig)
        #expect(!h.channel.isActive)
    }

    @Test func lengthWithTopBitSetIs1002() throws {
        let h = try Harness()
        try h.send(ByteBuffer(bytes: [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]))
        #expect(try h.output() == Self.closeProtocolError)
    }

    @Test func peerCloseSplitAcrossReads() throws {
        let h = try Harness()
        let close = clientFrame(0x8, closePayload(3000, Array("split".utf8)))
        try h.send(close.getSlice(at: 0, length: 3)!)
        try h.send(close.getSlice(at: 3, length: close.readableBytes - 3)!)
        #expect(try h.output() == [0x88, 0x02, 0x0B, 0xB8])
        #expect(h.delegate.closes.first?.reason == "split")
    }
}
