import NIOCore
@testable import HeraldRedisAdapter
import Testing

@Suite struct ClusterBroadcastFormatTests {
    @Test(arguments: [false, true])
    func roundTripKeepsAudienceFlagsAndAttachments(volatile: Bool) throws {
        let broadcast = ClusterBroadcast(
            origin: "node-1", rooms: ["a", "b"], except: ["c"], volatile: volatile,
            text: ByteBuffer(string: #"51-["e",{"_placeholder":true,"num":0}]"#), attachments: [ByteBuffer(bytes: [1, 2, 3])])
        let decoded = try ClusterBroadcast.decode(broadcast.encode())
        #expect(decoded == broadcast)
        #expect(decoded.options.volatile == volatile)
        #expect(decoded.options.local, "a received broadcast is delivered on this node only")
    }

    @Test(arguments: [[UInt8](), [0x48, 0x33], [0x48, 0x33, 0, 0, 0, 0, 5], Array("not a broadcast".utf8)])
    func truncatedOrForeignMessagesAreRefused(bytes: [UInt8]) {
        #expect(throws: ClusterBroadcast.DecodeError.self) { try ClusterBroadcast.decode(ByteBuffer(bytes: bytes)) }
    }

    /// Regression: a 70 000-byte room trapped the 16-bit length conversion and killed the node.
    @Test func roomsLongerThan64KiBRoundTrip() throws {
        let room = "chat:" + String(repeating: "A", count: 70_000)
        let broadcast = ClusterBroadcast(origin: "n", rooms: [room], except: [], volatile: false, text: ByteBuffer(string: #"2["x"]"#), attachments: [])
        #expect(try ClusterBroadcast.decode(broadcast.encode()) == broadcast)
    }

    /// A forged count is refused before anything is reserved for it.
    @Test func countsBeyondTheMessageAreRefused() {
        var bytes: [UInt8] = [0x48, 0x33, 0, 0, 0, 0, 1, 0x6E]   // magic, flags, origin "n"
        bytes += [0xFF, 0xFF, 0xFF, 0xFF]   // 4 billion rooms
        #expect(throws: ClusterBroadcast.DecodeError.self) { try ClusterBroadcast.decode(ByteBuffer(bytes: bytes)) }
    }

    @Test func offsetsFromRedisAreEscapedIntoTheEvent() throws {
        let broadcast = ClusterBroadcast(origin: "n", rooms: [], except: [], volatile: false, text: ByteBuffer(string: #"2["x"]"#), attachments: [])
        let prepared = ClusterAdapter.prepared(broadcast, offset: #"e:1-0","evil"#)
        #expect(String(buffer: prepared.textPacket) == #"42["x","e:1-0\",\"evil"]"#)
    }

    @Test func loggedBroadcastsCarryTheirOffset() throws {
        let entry = try ClusterBroadcast(origin: "n", rooms: [], except: [], volatile: false, text: ByteBuffer(string: #"2["x"]"#), attachments: []).encode()
        let message = LoggedBroadcast.join(offset: "epoch:1700000000000-0", entry: entry)
        let split = try #require(LoggedBroadcast.split(message))
        #expect(split.offset == "epoch:1700000000000-0")
        #expect(split.entry == entry)
        #expect(LoggedBroadcast.split(entry) == nil)
        let prepared = ClusterAdapter.prepared(try ClusterBroadcast.decode(split.entry), offset: split.offset)
        #expect(String(buffer: prepared.textPacket) == #"42["x","epoch:1700000000000-0"]"#)
    }
}
