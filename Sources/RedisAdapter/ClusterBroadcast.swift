import NIOCore
import SocketIO

/// A broadcast as it travels between nodes: who sent it, who should get it, and the Socket.IO packet already
/// encoded (its text and binary attachments), so each receiving node only frames it once for all its members.
///
/// Layout: `H1` magic+version, u16 + JSON-free header fields, u32 text length + text, u16 count + (u32 + bytes) per attachment.
struct ClusterBroadcast: Equatable {
    var origin: String
    var rooms: [String]
    var except: [String]
    var volatile: Bool
    /// The Socket.IO packet's text (what follows Engine.IO's `4`).
    var text: ByteBuffer
    var attachments: [ByteBuffer]

    static let magic: UInt16 = 0x4831   // "H1"

    func encode(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 32 + text.readableBytes + attachments.reduce(0) { $0 + $1.readableBytes + 4 })
        buffer.writeInteger(Self.magic)
        buffer.writeInteger(UInt8(volatile ? 1 : 0))
        Self.writeString(origin, into: &buffer)
        Self.writeStrings(rooms, into: &buffer)
        Self.writeStrings(except, into: &buffer)
        buffer.writeInteger(UInt32(text.readableBytes))
        var text = self.text
        buffer.writeBuffer(&text)
        buffer.writeInteger(UInt16(attachments.count))
        for var attachment in attachments {
            buffer.writeInteger(UInt32(attachment.readableBytes))
            buffer.writeBuffer(&attachment)
        }
        return buffer
    }

    struct DecodeError: Error {}

    static func decode(_ input: ByteBuffer) throws -> ClusterBroadcast {
        var buffer = input
        guard buffer.readInteger(as: UInt16.self) == magic, let flags = buffer.readInteger(as: UInt8.self) else { throw DecodeError() }
        let origin = try readString(&buffer)
        let rooms = try readStrings(&buffer)
        let except = try readStrings(&buffer)
        guard let textLength = buffer.readInteger(as: UInt32.self), let text = buffer.readSlice(length: Int(textLength)),
              let count = buffer.readInteger(as: UInt16.self)
        else { throw DecodeError() }
        var attachments: [ByteBuffer] = []
        for _ in 0..<count {
            guard let length = buffer.readInteger(as: UInt32.self), let attachment = buffer.readSlice(length: Int(length)) else {
                throw DecodeError()
            }
            attachments.append(attachment)
        }
        return ClusterBroadcast(origin: origin, rooms: rooms, except: except, volatile: flags & 1 == 1, text: text, attachments: attachments)
    }

    private static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(string.utf8.count))
        buffer.writeString(string)
    }

    private static func writeStrings(_ strings: [String], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(strings.count))
        for string in strings { writeString(string, into: &buffer) }
    }

    private static func readString(_ buffer: inout ByteBuffer) throws -> String {
        guard let length = buffer.readInteger(as: UInt16.self), let string = buffer.readString(length: Int(length)) else { throw DecodeError() }
        return string
    }

    private static func readStrings(_ buffer: inout ByteBuffer) throws -> [String] {
        guard let count = buffer.readInteger(as: UInt16.self) else { throw DecodeError() }
        return try (0..<count).map { _ in try readString(&buffer) }
    }

    var options: BroadcastOptions {
        BroadcastOptions(rooms: Set(rooms), except: Set(except), local: true, volatile: volatile)
    }
}
