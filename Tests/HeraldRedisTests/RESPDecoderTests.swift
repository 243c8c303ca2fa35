import HeraldTesting
import NIOCore
import Testing
@testable import HeraldRedis

/// Golden vectors from the RESP specification (redis.io "Redis serialization protocol").
private let goldenVectors: [(String, RESPValue)] = [
    ("+OK\r\n", .simpleString("OK")),
    ("-Error message\r\n", .error("Error message")),
    ("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
     .error("WRONGTYPE Operation against a key holding the wrong kind of value")),
    (":0\r\n", .integer(0)),
    (":1000\r\n", .integer(1000)),
    (":-42\r\n", .integer(-42)),
    ("$5\r\nhello\r\n", .bulkString("hello")),
    ("$0\r\n\r\n", .bulkString("")),
    ("$-1\r\n", .bulkString(nil)),
    ("$4\r\na\r\nb\r\n", .bulkString("a\r\nb")),
    ("*0\r\n", .array([])),
    ("*-1\r\n", .array(nil)),
    ("*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n", .array(["hello", "world"])),
    ("*3\r\n:1\r\n:2\r\n:3\r\n", .array([1, 2, 3])),
    ("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
     .array([.array([1, 2, 3]), .array([.simpleString("Hello"), .error("World")])])),
    ("*3\r\n$5\r\nhello\r\n$-1\r\n$5\r\nworld\r\n", .array(["hello", .bulkString(nil), "world"])),
    ("_\r\n", .null),
    (">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nhey\r\n", .push(["message", "ch", "hey"])),
]

@Suite struct RESPDecoderTests {
    /// A length up to the configured maximum is awaited, never added to (Int.max + 2 used to trap).
    @Test func hugeDeclaredBulkLengthsWaitInsteadOfOverflowing() throws {
        var buffer = ByteBuffer(string: "$\(Int64.max)\r\nabc")
        #expect(try RESPDecoder(limits: RESPDecoderLimits(maxBulkLength: .max)).decode(&buffer) == nil)
        var refused = ByteBuffer(string: "$\(Int64.max)\r\nabc")
        #expect(throws: RESPDecodingError.self) { try RESPDecoder().decode(&refused) }
    }

    @Test(arguments: goldenVectors.indices)
    func goldenVector(_ index: Int) throws {
        let (wire, expected) = goldenVectors[index]
        var buffer = ByteBuffer(string: wire)
        #expect(try RESPDecoder().decode(&buffer) == expected)
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: goldenVectors.indices)
    func encoderProducesTheGoldenBytes(_ index: Int) {
        let (wire, value) = goldenVectors[index]
        var buffer = ByteBuffer()
        RESPEncoder.write(value, into: &buffer)
        #expect(String(buffer: buffer) == wire)
    }

    /// Every vector, concatenated, fed one byte at a time: each value appears exactly when its last byte does.
    @Test func dripFeedByteByByte() throws {
        let wire = goldenVectors.map(\.0).joined()
        let decoder = RESPDecoder()
        var accumulated = ByteBuffer()
        var decoded: [RESPValue] = []
        for byte in wire.utf8 {
            accumulated.writeInteger(byte)
            while let value = try decoder.decode(&accumulated) { decoded.append(value) }
        }
        #expect(decoded == goldenVectors.map(\.1))
        #expect(accumulated.readableBytes == 0)
    }

    /// Every split point of the whole stream into two chunks.
    @Test func everyTwoWaySplit() throws {
        let wire = Array(goldenVectors.map(\.0).joined().utf8)
        for split in 0...wire.count {
            var accumulated = ByteBuffer(bytes: wire[..<split])
            var decoded: [RESPValue] = []
            while let value = try RESPDecoder().decode(&accumulated) { decoded.append(value) }
            accumulated.writeBytes(wire[split...])
            while let value = try RESPDecoder().decode(&accumulated) { decoded.append(value) }
            #expect(decoded == goldenVectors.map(\.1), "split at \(split)")
        }
    }

    @Test func incompleteConsumesNothing() throws {
        let wire = "*2\r\n$5\r\nhello\r\n$5\r\nwor"
        var buffer = ByteBuffer(string: wire)
        #expect(try RESPDecoder().decode(&buffer) == nil)
        #expect(buffer.readableBytes == wire.utf8.count)
    }

    @Test(arguments: [
        ("!oops\r\n", RESPDecodingError.invalidTypeByte(UInt8(ascii: "!"))),
        (":12a\r\n", .invalidInteger),
        (":\r\n", .invalidInteger),
        (":99999999999999999999\r\n", .invalidInteger),
        ("$-2\r\n", .invalidInteger),
        ("$3\r\nabcXY", .invalidLineTerminator),
        ("+OK\rX", .invalidLineTerminator),
    ])
    func malformedInput(_ wire: String, _ error: RESPDecodingError) {
        var buffer = ByteBuffer(string: wire)
        #expect(throws: error) { try RESPDecoder().decode(&buffer) }
    }

    @Test func limits() throws {
        let limits = RESPDecoderLimits(maxBulkLength: 10, maxArrayLength: 3, maxNestingDepth: 2, maxLineLength: 8)
        let decoder = RESPDecoder(limits: limits)
        var bulk = ByteBuffer(string: "$11\r\n")  // rejected from the header alone, before the payload arrives
        #expect(throws: RESPDecodingError.bulkTooLong(11)) { try decoder.decode(&bulk) }
        var array = ByteBuffer(string: "*4\r\n")
        #expect(throws: RESPDecodingError.arrayTooLong(4)) { try decoder.decode(&array) }
        var nested = ByteBuffer(string: "*1\r\n*1\r\n*1\r\n:1\r\n")
        #expect(throws: RESPDecodingError.nestingTooDeep) { try decoder.decode(&nested) }
        var okNested = ByteBuffer(string: "*1\r\n*1\r\n:1\r\n")
        #expect(try decoder.decode(&okNested) == .array([.array([1])]))
        var endless = ByteBuffer(string: "+aaaaaaaaaaaaaaaa")  // no CRLF, longer than the line limit
        #expect(throws: RESPDecodingError.lineTooLong) { try decoder.decode(&endless) }
        var huge = ByteBuffer(string: "*2147483647\r\n")  // default limit: no giant allocation, an error
        #expect(throws: RESPDecodingError.arrayTooLong(2_147_483_647)) { try RESPDecoder().decode(&huge) }
    }

    @Test func documentedDefaultLimits() {
        let limits = RESPDecoderLimits()
        #expect(limits.maxBulkLength == 512 * 1024 * 1024)
        #expect(limits.maxArrayLength == 1_048_576)
        #expect(limits.maxNestingDepth == 32)
        #expect(limits.maxLineLength == 64 * 1024)
    }

    @Test func commandEncoding() {
        #expect(String(buffer: RedisCommand("SET", "key", "value").bytes)
                == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n")
        #expect(String(buffer: RedisCommand("PING").bytes) == "*1\r\n$4\r\nPING\r\n")
        let publish = RedisCommand.publish("PUBLISH", channel: "rooms:a", message: ByteBuffer(bytes: [0, 13, 10, 255]))
        #expect(Array(buffer: publish.bytes)
                == Array("*3\r\n$7\r\nPUBLISH\r\n$7\r\nrooms:a\r\n$4\r\n".utf8) + [0, 13, 10, 255, 13, 10])
        // Multi-byte UTF-8: the length is in bytes, not characters.
        #expect(String(buffer: RedisCommand("ECHO", "é").bytes) == "*2\r\n$4\r\nECHO\r\n$2\r\né\r\n")
    }

    @Test func encodedCommandDecodesBack() throws {
        var buffer = RedisCommand("PUBLISH", "ch", "payload").bytes
        #expect(try RESPDecoder().decode(&buffer) == .array(["PUBLISH", "ch", "payload"]))
    }
}
