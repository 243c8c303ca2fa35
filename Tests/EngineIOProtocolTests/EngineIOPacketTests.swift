import EngineIOProtocol
import NIOCore
import Testing

/// Golden packets from the Engine.IO v4 spec (docs/engine.io-protocol/v4-current.md, "Packet encoding").
@Suite struct EngineIOPacketTests {
    static let goldens: [(EngineIOPacket, String)] = [
        (.open(ByteBuffer(string: #"{"sid":"lv_VI97HAXpY6yYWAAAC"}"#)), #"0{"sid":"lv_VI97HAXpY6yYWAAAC"}"#),
        (.close, "1"),
        (.ping(), "2"),
        (.ping("probe"), "2probe"),
        (.pong(), "3"),
        (.pong("probe"), "3probe"),
        (.message("hello"), "4hello"),
        (.message("€"), "4€"),
        (.message(""), "4"),
        (.upgrade, "5"),
        (.noop, "6"),
    ]

    @Test(arguments: 0..<goldens.count)
    func encodesTextPacket(index: Int) {
        let (packet, wire) = Self.goldens[index]
        #expect(packet.encodedString == wire)
    }

    @Test(arguments: 0..<goldens.count)
    func decodesTextPacket(index: Int) throws {
        let (packet, wire) = Self.goldens[index]
        #expect(try EngineIOPacket.decode(text: ByteBuffer(string: wire)) == packet)
    }

    @Test func packetTypesAreTheSpecDigits() {
        #expect(EngineIOPacketType.allCases.map { Character(UnicodeScalar($0.rawValue)) } == Array("0123456"))
        #expect(EngineIOPacket.binary(ByteBuffer()).type == .message)
        #expect(EngineIOPacket.binary(ByteBuffer()).isBinary)
        #expect(!EngineIOPacket.message("x").isBinary)
    }

    @Test func binaryPacketEncodesAsBase64WithPrefix() {
        // The spec's example: the bytes 1 2 3 4 travel over polling as `bAQIDBA==`.
        #expect(EngineIOPacket.binary(ByteBuffer(bytes: [1, 2, 3, 4])).encodedString == "bAQIDBA==")
        #expect(EngineIOPacket.binary(ByteBuffer()).encodedString == "b")
    }

    @Test func emptyTextIsInvalid() {
        #expect(throws: EngineIOProtocolError.invalidPacketType) { try EngineIOPacket.decode(text: ByteBuffer()) }
    }

    @Test(arguments: ["7", "9", "a", "b", "/", ":", " 4hello", "{}"])
    func unknownTypeCharacterIsInvalid(wire: String) {
        // `b` is only a prefix inside polling payloads; a websocket text frame never starts with it.
        #expect(throws: EngineIOProtocolError.invalidPacketType) { try EngineIOPacket.decode(text: ByteBuffer(string: wire)) }
    }

    @Test func decodeKeepsPayloadBytesWithoutCopyingTheRest() throws {
        // A slice in the middle of a larger buffer decodes from its reader index.
        var buffer = ByteBuffer(string: "xx4hello")
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(try EngineIOPacket.decode(text: buffer) == .message("hello"))
    }

    @Test func errorDescriptions() {
        #expect(EngineIOProtocolError.invalidPacketType.description == "invalid packet type")
        #expect(EngineIOProtocolError.invalidBase64.description == "invalid base64 binary packet")
        #expect(EngineIOProtocolError.emptyPayload.description == "empty payload")
    }
}

@Suite struct EngineIOOpenPayloadTests {
    @Test func defaultHandshakeJSONIsExact() {
        let open = EngineIOOpenPayload(
            sid: "lv_VI97HAXpY6yYWAAAC", upgrades: ["websocket"], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1_000_000)
        #expect(open.packet.encodedString
            == #"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#)
    }

    @Test func websocketHandshakeHasNoUpgrades() {
        var buffer = ByteBuffer()
        EngineIOOpenPayload(sid: "abc", upgrades: [], pingInterval: 300, pingTimeout: 200, maxPayload: 1_000_000)
            .writeJSON(into: &buffer)
        #expect(String(buffer: buffer) == #"{"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#)
    }

    @Test func severalUpgradesAreCommaSeparated() {
        let open = EngineIOOpenPayload(sid: "s", upgrades: ["websocket", "webtransport"], pingInterval: 1, pingTimeout: 2, maxPayload: 3)
        #expect(open.packet.encodedString == #"0{"sid":"s","upgrades":["websocket","webtransport"],"pingInterval":1,"pingTimeout":2,"maxPayload":3}"#)
    }
}

@Suite struct EngineIOErrorCodeTests {
    static let expected: [(EngineIOErrorCode, Int, String)] = [
        (.unknownTransport, 400, #"{"code":0,"message":"Transport unknown"}"#),
        (.unknownSessionID, 400, #"{"code":1,"message":"Session ID unknown"}"#),
        (.badHandshakeMethod, 400, #"{"code":2,"message":"Bad handshake method"}"#),
        (.badRequest, 400, #"{"code":3,"message":"Bad request"}"#),
        (.forbidden, 403, #"{"code":4,"message":"Forbidden"}"#),
        (.unsupportedProtocolVersion, 400, #"{"code":5,"message":"Unsupported protocol version"}"#),
    ]

    @Test(arguments: 0..<expected.count)
    func bodyAndStatus(index: Int) {
        let (code, status, body) = Self.expected[index]
        #expect(code.rawValue == index)
        #expect(code.httpStatus == status)
        #expect(code.jsonBody == body)
    }

    @Test func exactlySixCodes() {
        #expect(EngineIOErrorCode.allCases.map(\.rawValue) == [0, 1, 2, 3, 4, 5])
        #expect(EngineIOErrorCode.forbidden.description == "Forbidden")
    }
}
