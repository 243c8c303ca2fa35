import NIOCore
import Testing
@testable import HeraldWebSocket

@Suite struct WebSocketUTF8ValidatorTests {
    private func validate(_ bytes: [UInt8]) -> Bool {
        WebSocketUTF8Validator.isValid(ByteBuffer(bytes: bytes))
    }

    @Test func validSequences() {
        #expect(validate([]))
        #expect(validate(Array("Hello, world! 0123456789 long ascii run".utf8)))
        #expect(validate(Array("κόσμε".utf8)))
        #expect(validate([0xC2, 0x80]))                 // U+0080
        #expect(validate([0xE0, 0xA0, 0x80]))           // U+0800
        #expect(validate([0xED, 0x9F, 0xBF]))           // U+D7FF, last before surrogates
        #expect(validate([0xEE, 0x80, 0x80]))           // U+E000
        #expect(validate([0xF0, 0x90, 0x80, 0x80]))     // U+10000
        #expect(validate([0xF4, 0x8F, 0xBF, 0xBF]))     // U+10FFFF
        #expect(validate(Array("abcdefgh€ijklmnop😀".utf8)))
    }

    @Test(arguments: [
        [0xC0, 0xAF],               // overlong "/"
        [0xC1, 0xBF],               // overlong
        [0xE0, 0x80, 0xAF],         // overlong 3-byte
        [0xF0, 0x80, 0x80, 0xAF],   // overlong 4-byte
        [0xED, 0xA0, 0x80],         // U+D800 surrogate
        [0xED, 0xBF, 0xBF],         // U+DFFF surrogate
        [0xF4, 0x90, 0x80, 0x80],   // U+110000
        [0xF5, 0x80, 0x80, 0x80],   // lead byte beyond range
        [0xFF],
        [0x80],                     // stray continuation
        [0x61, 0xC2],               // truncated at end
        [0xE2, 0x82],               // truncated 3-byte
        [0xF0, 0x9F, 0x98],         // truncated 4-byte
    ] as [[UInt8]])
    func invalidSequences(bytes: [UInt8]) {
        #expect(!validate(bytes))
    }

    @Test func failsFastAtTheFirstImpossibleByteAcrossChunks() {
        var validator = WebSocketUTF8Validator()
        // "κ" then half of "ό": still possibly valid.
        #expect(validator.feed(ByteBuffer(bytes: [0xCE, 0xBA, 0xE1])) == nil)
        #expect(!validator.isComplete)
        // The next byte cannot continue E1: reported at its offset within the chunk.
        #expect(validator.feed(ByteBuffer(bytes: [0xBD, 0xB9, 0xCE, 0xBC, 0xF4, 0x90, 0x80])) == 5)
        #expect(validator.hasFailed)
        // Once failed it stays failed.
        #expect(validator.feed(ByteBuffer(bytes: [0x61])) == 0)
    }

    @Test func sequenceSplitAtEveryPosition() {
        let bytes = Array("aé€😀z".utf8)
        for cut in 0...bytes.count {
            var validator = WebSocketUTF8Validator()
            #expect(validator.feed(ByteBuffer(bytes: bytes[..<cut])) == nil)
            #expect(validator.feed(ByteBuffer(bytes: bytes[cut...])) == nil)
            #expect(validator.isComplete)
        }
    }

    @Test func surrogateRejectedAtSecondByte() {
        var validator = WebSocketUTF8Validator()
        #expect(validator.feed(ByteBuffer(bytes: [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0xED, 0xA0, 0x80])) == 10)
    }
}
