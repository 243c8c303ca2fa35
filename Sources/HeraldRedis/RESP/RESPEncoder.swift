import NIOCore

/// Writes RESP straight into a `ByteBuffer`: no intermediate `RESPValue` for commands.
public enum RESPEncoder {
    /// `*<count>\r\n`
    public static func writeArrayHeader(_ count: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        writeDecimal(count, into: &buffer)
        buffer.writeInteger(UInt16(0x0D0A))
    }

    /// `$<len>\r\n<bytes>\r\n`
    public static func writeBulkString(_ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "$"))
        writeDecimal(bytes.readableBytes, into: &buffer)
        buffer.writeInteger(UInt16(0x0D0A))
        buffer.writeImmutableBuffer(bytes)
        buffer.writeInteger(UInt16(0x0D0A))
    }

    /// `$<len>\r\n<utf8>\r\n`
    public static func writeBulkString(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "$"))
        writeDecimal(string.utf8.count, into: &buffer)
        buffer.writeInteger(UInt16(0x0D0A))
        buffer.writeString(string)
        buffer.writeInteger(UInt16(0x0D0A))
    }

    /// A command: an array of bulk strings, the only request form Redis needs.
    public static func writeCommand(_ arguments: [String], into buffer: inout ByteBuffer) {
        writeArrayHeader(arguments.count, into: &buffer)
        for argument in arguments { writeBulkString(argument, into: &buffer) }
    }

    /// Any value, in its canonical wire form (used by tests and fake servers).
    public static func write(_ value: RESPValue, into buffer: inout ByteBuffer) {
        switch value {
        case .simpleString(let s):
            buffer.writeInteger(UInt8(ascii: "+")); buffer.writeString(s); buffer.writeInteger(UInt16(0x0D0A))
        case .error(let s):
            buffer.writeInteger(UInt8(ascii: "-")); buffer.writeString(s); buffer.writeInteger(UInt16(0x0D0A))
        case .integer(let i):
            buffer.writeInteger(UInt8(ascii: ":")); buffer.writeString(String(i)); buffer.writeInteger(UInt16(0x0D0A))
        case .bulkString(let b?):
            writeBulkString(b, into: &buffer)
        case .bulkString(nil):
            buffer.writeString("$-1\r\n")
        case .array(let a?):
            writeArrayHeader(a.count, into: &buffer)
            for element in a { write(element, into: &buffer) }
        case .array(nil):
            buffer.writeString("*-1\r\n")
        case .null:
            buffer.writeString("_\r\n")
        case .push(let a):
            buffer.writeInteger(UInt8(ascii: ">"))
            writeDecimal(a.count, into: &buffer)
            buffer.writeInteger(UInt16(0x0D0A))
            for element in a { write(element, into: &buffer) }
        }
    }

    /// Decimal digits without going through `String` (hot path: two per PUBLISH).
    @inline(__always)
    static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        if value >= 0 && value < 10 {
            buffer.writeInteger(UInt8(ascii: "0") + UInt8(value))
            return
        }
        buffer.writeString(String(value))
    }
}

/// A command encoded once, ready to write. Encoding happens in the caller's context,
/// so the connection's event loop only moves bytes.
public struct RedisCommand: Sendable {
    /// The command name, for error messages and logs.
    public let name: String
    /// The encoded RESP array.
    public let bytes: ByteBuffer
    /// The key (or sharded channel) that places the command on a Redis Cluster slot; nil for a command any
    /// node answers. See `routingKey(name:argument:)`.
    public let key: String?

    public init(_ name: String, _ arguments: String...) {
        self.init(name, arguments: arguments)
    }

    public init(_ name: String, arguments: [String]) {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(16 + name.utf8.count + arguments.reduce(0) { $0 + $1.utf8.count + 16 })
        RESPEncoder.writeArrayHeader(arguments.count + 1, into: &buffer)
        RESPEncoder.writeBulkString(name, into: &buffer)
        for argument in arguments { RESPEncoder.writeBulkString(argument, into: &buffer) }
        self.name = name
        self.bytes = buffer
        self.key = Self.routingKey(name: name) { arguments.indices.contains($0) ? arguments[$0] : nil }
    }

    /// Which argument is the key: the first for single-key commands, the third of `EVAL` (its first key), the
    /// second of `XINFO STREAM key` and `PUBSUB SHARDNUMSUB channel`; none for server-wide commands.
    static func routingKey(name: String, argument: (Int) -> String?) -> String? {
        switch name.uppercased() {
        case "PING", "AUTH", "SELECT", "HELLO", "CLUSTER", "PUBLISH", "ASKING", "READONLY", "INFO", "SENTINEL", "ROLE",
             "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE", "CLIENT", "CONFIG", "DEBUG", "SCRIPT", "FLUSHALL":
            return nil
        case "EVAL", "EVALSHA", "FCALL": return argument(1) == "0" ? nil : argument(2)
        case "XINFO", "PUBSUB": return argument(1)
        default: return argument(0)
        }
    }

    /// Arguments given as raw bytes (binary payloads).
    public init(_ name: String, arguments: [ByteBuffer]) {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(16 + name.utf8.count + arguments.reduce(0) { $0 + $1.readableBytes + 16 })
        RESPEncoder.writeArrayHeader(arguments.count + 1, into: &buffer)
        RESPEncoder.writeBulkString(name, into: &buffer)
        for argument in arguments { RESPEncoder.writeBulkString(argument, into: &buffer) }
        self.name = name
        self.bytes = buffer
        self.key = Self.routingKey(name: name) { arguments.indices.contains($0) ? String(buffer: arguments[$0]) : nil }
    }

    /// `PUBLISH`/`SPUBLISH` with a binary message, encoded without an intermediate array.
    static func publish(_ name: String, channel: String, message: ByteBuffer) -> RedisCommand {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(40 + channel.utf8.count + message.readableBytes)
        RESPEncoder.writeArrayHeader(3, into: &buffer)
        RESPEncoder.writeBulkString(name, into: &buffer)
        RESPEncoder.writeBulkString(channel, into: &buffer)
        RESPEncoder.writeBulkString(message, into: &buffer)
        return RedisCommand(name: name, bytes: buffer, key: name == "SPUBLISH" ? channel : nil)
    }

    init(name: String, bytes: ByteBuffer, key: String? = nil) {
        self.name = name
        self.bytes = bytes
        self.key = key
    }
}
