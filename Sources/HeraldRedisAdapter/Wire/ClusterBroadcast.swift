import NIOCore
import SocketIO

/// A broadcast as it travels between nodes: who sent it, who should get it, and the Socket.IO packet already
/// encoded (its text and binary attachments), so each receiving node only frames it once for all its members.
///
/// Layout: `H3` magic+version, u8 flags, then u32 length + bytes for the origin, u32 count + (u32 length + bytes)
/// per room and per excepted room, u32 length + text, u32 count + (u32 length + bytes) per attachment. Every
/// length and count is 32 bits (a room of 70 000 bytes used to trap a 16-bit conversion); encoding refuses what
/// does not fit, and decoding reads only what the message holds.
struct ClusterBroadcast: Equatable {
    var origin: String
    var rooms: [String]
    var except: [String]
    var volatile: Bool
    /// The Socket.IO packet's text (what follows Engine.IO's `4`).
    var text: ByteBuffer
    var attachments: [ByteBuffer]

    static let magic: UInt16 = 0x4833   // "H3" ("H2" starts a logged broadcast, see `LoggedBroadcast`)

    /// A field longer than a 32-bit length can say.
    struct EncodeError: Error, CustomStringConvertible {
        var description: String { "cluster broadcast field exceeds 4 GiB" }
    }

    struct DecodeError: Error {}

    func encode(allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(EncodeError) -> ByteBuffer {
        var capacity = 32 + text.readableBytes
        for attachment in attachments { capacity += attachment.readableBytes + 4 }
        var buffer = allocator.buffer(capacity: capacity)
        buffer.writeInteger(Self.magic)
        buffer.writeInteger(UInt8(volatile ? 1 : 0))
        try Self.writeString(origin, into: &buffer)
        try Self.writeStrings(rooms, into: &buffer)
        try Self.writeStrings(except, into: &buffer)
        try Self.writeBytes(text, into: &buffer)
        try Self.writeLength(attachments.count, into: &buffer)
        for attachment in attachments { try Self.writeBytes(attachment, into: &buffer) }
        return buffer
    }

    static func decode(_ input: ByteBuffer) throws(DecodeError) -> ClusterBroadcast {
        var buffer = input
        guard buffer.readInteger(as: UInt16.self) == magic, let flags = buffer.readInteger(as: UInt8.self) else { throw DecodeError() }
        let origin = try readString(&buffer)
        let rooms = try readStrings(&buffer)
        let except = try readStrings(&buffer)
        let text = try readBytes(&buffer)
        let count = try readCount(&buffer)
        var attachments: [ByteBuffer] = []
        attachments.reserveCapacity(count)
        for _ in 0..<count { attachments.append(try readBytes(&buffer)) }
        return ClusterBroadcast(origin: origin, rooms: rooms, except: except, volatile: flags & 1 == 1, text: text, attachments: attachments)
    }

    private static func writeLength(_ length: Int, into buffer: inout ByteBuffer) throws(EncodeError) {
        guard let value = UInt32(exactly: length) else { throw EncodeError() }
        buffer.writeInteger(value)
    }

    private static func writeBytes(_ bytes: ByteBuffer, into buffer: inout ByteBuffer) throws(EncodeError) {
        try writeLength(bytes.readableBytes, into: &buffer)
        var bytes = bytes
        buffer.writeBuffer(&bytes)
    }

    private static func writeString(_ string: String, into buffer: inout ByteBuffer) throws(EncodeError) {
        try writeLength(string.utf8.count, into: &buffer)
        buffer.writeString(string)
    }

    private static func writeStrings(_ strings: [String], into buffer: inout ByteBuffer) throws(EncodeError) {
        try writeLength(strings.count, into: &buffer)
        for string in strings { try writeString(string, into: &buffer) }
    }

    /// A count of elements that each take at least 4 bytes: never more than the message can hold, so a forged
    /// count cannot make the decoder reserve memory for elements that are not there.
    private static func readCount(_ buffer: inout ByteBuffer) throws(DecodeError) -> Int {
        guard let count = buffer.readInteger(as: UInt32.self), Int(count) <= buffer.readableBytes / 4 else { throw DecodeError() }
        return Int(count)
    }

    private static func readBytes(_ buffer: inout ByteBuffer) throws(DecodeError) -> ByteBuffer {
        guard let length = buffer.readInteger(as: UInt32.self), let bytes = buffer.readSlice(length: Int(length)) else { throw DecodeError() }
        return bytes
    }

    private static func readString(_ buffer: inout ByteBuffer) throws(DecodeError) -> String {
        guard let length = buffer.readInteger(as: UInt32.self), let string = buffer.readString(length: Int(length)) else { throw DecodeError() }
        return string
    }

    private static func readStrings(_ buffer: inout ByteBuffer) throws(DecodeError) -> [String] {
        let count = try readCount(&buffer)
        var strings: [String] = []
        strings.reserveCapacity(count)
        for _ in 0..<count { strings.append(try readString(&buffer)) }
        return strings
    }

    var options: BroadcastOptions {
        BroadcastOptions(rooms: Set(rooms), except: Set(except), local: true, volatile: volatile)
    }
}
