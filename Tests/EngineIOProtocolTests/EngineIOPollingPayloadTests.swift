import EngineIOProtocol
import NIOCore
import Testing

/// Polling payloads: packets joined by U+001E, binary as `b<base64>`. The body always arrives whole (one HTTP
/// body), so there is no drip-feeding; the interesting edges are the segment boundaries.
@Suite struct EngineIOPollingPayloadTests {
    func decode(_ wire: String) throws(EngineIOProtocolError) -> [EngineIOPacket] {
        try EngineIOPollingPayload.decode(ByteBuffer(string: wire))
    }

    func encode(_ packets: [EngineIOPacket]) -> String {
        var buffer = ByteBuffer()
        EngineIOPollingPayload.encode(packets, into: &buffer)
        return String(buffer: buffer)
    }

    @Test func separatorIsRecordSeparator() {
        #expect(EngineIOPollingPayload.separator == 0x1E)
    }

    @Test func specExampleTextPayload() throws {
        // v4 spec: `4hello\x1e2\x1e4€` is a message, a ping, and a message.
        let wire = "4hello\u{1e}2\u{1e}4€"
        let packets: [EngineIOPacket] = [.message("hello"), .ping(), .message("€")]
        #expect(try decode(wire) == packets)
        #expect(encode(packets) == wire)
    }

    @Test func specExampleMixedPayload() throws {
        // v4 spec: `4€\x1ebAQIDBA==` is a text message and the binary message 01 02 03 04.
        let wire = "4€\u{1e}bAQIDBA=="
        let packets: [EngineIOPacket] = [.message("€"), .binary(ByteBuffer(bytes: [1, 2, 3, 4]))]
        #expect(try decode(wire) == packets)
        #expect(encode(packets) == wire)
    }

    @Test func conformanceSuiteBatch() throws {
        let wire = "4test1\u{1e}4test2\u{1e}4test3"
        #expect(try decode(wire) == [.message("test1"), .message("test2"), .message("test3")])
    }

    @Test func singlePacketHasNoSeparator() throws {
        #expect(try decode("4hello") == [.message("hello")])
        #expect(encode([.message("hello")]) == "4hello")
        #expect(encode([]) == "")
    }

    @Test func everyPacketTypeRoundTrips() throws {
        let packets: [EngineIOPacket] = [
            .open(ByteBuffer(string: "{}")), .close, .ping("probe"), .pong("probe"), .message("x"), .upgrade, .noop,
            .binary(ByteBuffer(bytes: [0, 0x1E, 0xFF])),
        ]
        let wire = encode(packets)
        #expect(wire == "0{}\u{1e}1\u{1e}2probe\u{1e}3probe\u{1e}4x\u{1e}5\u{1e}6\u{1e}bAB7/")
        #expect(try decode(wire) == packets)
    }

    @Test func emptyMessagesBetweenSeparators() throws {
        // `4` alone is an empty message, so each segment boundary is exact.
        #expect(try decode("4\u{1e}4") == [.message(""), .message("")])
    }

    @Test func emptyBodyIsAnError() {
        #expect(throws: EngineIOProtocolError.emptyPayload) { try decode("") }
    }

    @Test(arguments: ["\u{1e}", "4a\u{1e}", "\u{1e}4a", "4a\u{1e}\u{1e}4b"])
    func emptySegmentIsAnError(wire: String) {
        #expect(throws: EngineIOProtocolError.invalidPacketType) { try decode(wire) }
    }

    @Test(arguments: ["abc", "9", "4a\u{1e}x", "4a\u{1e}8"])
    func badTypeCharacterIsAnError(wire: String) {
        #expect(throws: EngineIOProtocolError.invalidPacketType) { try decode(wire) }
    }

    @Test(arguments: ["b!!!!", "bA", "bAQIDB", "bAQ=D", "4a\u{1e}b-_-_"])
    func badBase64IsAnError(wire: String) {
        #expect(throws: EngineIOProtocolError.invalidBase64) { try decode(wire) }
    }

    @Test func unpaddedBase64IsAccepted() throws {
        #expect(try decode("bAQIDBA") == [.binary(ByteBuffer(bytes: [1, 2, 3, 4]))])
    }

    @Test func loneBinaryPrefixIsAnEmptyBinaryMessage() throws {
        #expect(try decode("b") == [.binary(ByteBuffer())])
    }

    @Test func decodesFromTheReaderIndex() throws {
        var buffer = ByteBuffer(string: "junk4a\u{1e}4b")
        buffer.moveReaderIndex(forwardBy: 4)
        #expect(try EngineIOPollingPayload.decode(buffer) == [.message("a"), .message("b")])
    }
}

/// RFC 4648 section 10 test vectors, plus the edges Engine.IO relies on, through the buffer adapters the polling
/// codec uses.
@Suite struct Base64Tests {
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    static func encode(_ bytes: [UInt8]) -> String {
        var buffer = ByteBuffer()
        buffer.writeBase64(ByteBuffer(bytes: bytes).readableBytesView)
        return String(buffer: buffer)
    }

    static func decode(_ encoded: String) -> ByteBuffer? {
        ByteBuffer(base64Decoding: ByteBuffer(string: encoded).readableBytesView)
    }

    @Test(arguments: 0..<vectors.count)
    func rfc4648Vector(index: Int) throws {
        let (plain, encoded) = Self.vectors[index]
        #expect(Self.encode(Array(plain.utf8)) == encoded)
        let decoded = try #require(Self.decode(encoded))
        #expect(String(buffer: decoded) == plain)
        // Padding is optional on input, and any amount of it ends the text.
        let unpadded = encoded.filter { $0 != "=" }
        #expect(Self.decode(unpadded).map { String(buffer: $0) } == plain)
        #expect(Self.decode(unpadded + "===").map { String(buffer: $0) } == plain)
    }

    @Test func allByteValuesRoundTrip() throws {
        let bytes = (0...255).map { UInt8($0) }
        let encoded = Self.encode(bytes)
        #expect(encoded.hasPrefix("AAECAwQF"))
        #expect(encoded.hasSuffix("+/w=="))
        #expect(try #require(Self.decode(encoded)).readableBytesView.elementsEqual(bytes))
    }

    @Test func standardAlphabetNotURLSafe() {
        #expect(Self.encode([0xFB, 0xFF]) == "+/8=")
        #expect(Self.decode("-_8=") == nil)
    }

    @Test(arguments: ["Z", "Zm9vY", "Zm9v!", "Zm 9v", "Zg==Zg==", "Zm9v\n", "Zm=v", "Zm9vZm=v", "=Zm9v", "Zm9v\u{0}"])
    func invalidInput(encoded: String) {
        #expect(Self.decode(encoded) == nil)
    }

    @Test func encodeAppendsToBuffer() {
        var buffer = ByteBuffer(string: "b")
        buffer.writeBase64(ByteBuffer(bytes: [1, 2, 3, 4]).readableBytesView)
        #expect(String(buffer: buffer) == "bAQIDBA==")
    }

    @Test func decodesASliceInTheMiddleOfABuffer() throws {
        let buffer = ByteBuffer(string: "xxZm9vYmFyyy")
        let slice = try #require(buffer.getSlice(at: 2, length: 8))
        #expect(try #require(ByteBuffer(base64Decoding: slice.readableBytesView)) == ByteBuffer(string: "foobar"))
    }
}
