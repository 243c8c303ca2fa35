import NIOCore
@testable import HeraldRedisAdapter
import SocketIO
import SocketIOProtocol
import Testing

/// The exact bytes nodes exchange today. During a rolling deploy nodes of two versions share the bus and the
/// log: each message here must decode to what its sender meant, and encode back to the same bytes.
@Suite struct WireCompatibilityTests {
    static let requests: [(String, ClusterRequest)] = [
        (#"{"opts":{"rooms":["vip"],"except":["s1"]},"type":"fetchSockets","id":"q1","origin":"n1"}"#,
         ClusterRequest(body: .fetchSockets(WireAudience(rooms: ["vip"], except: ["s1"])), id: "q1", origin: "n1")),
        (#"{"opts":{"rooms":["old"],"except":[]},"rooms":["new","b"],"type":"addSockets","id":"q2","origin":"n1"}"#,
         ClusterRequest(body: .addSockets(WireAudience(rooms: ["old"]), rooms: ["new", "b"]), id: "q2", origin: "n1")),
        (#"{"opts":{"rooms":["new"],"except":[]},"rooms":["new"],"type":"removeSockets","id":"q3","origin":"n2"}"#,
         ClusterRequest(body: .removeSockets(WireAudience(rooms: ["new"]), rooms: ["new"]), id: "q3", origin: "n2")),
        (#"{"opts":{"rooms":[],"except":[]},"close":true,"type":"disconnectSockets","id":"q4","origin":"n2"}"#,
         ClusterRequest(body: .disconnectSockets(WireAudience(), close: true), id: "q4", origin: "n2")),
        (#"{"event":"whoami","args":[1,2.5,"x",{"b":1,"a":[null,true]}],"ack":true,"type":"serverSideEmit","id":"q5","origin":"n3"}"#,
         ClusterRequest(body: .serverSideEmit(event: "whoami", args: [1, 2.5, "x", ["b": 1, "a": [nil, true]]], ack: true), id: "q5", origin: "n3")),
    ]

    @Test(arguments: requests.indices)
    func requestsDecodeAndEncodeAsToday(index: Int) throws {
        let (bytes, request) = Self.requests[index]
        #expect(try WireJSONMessage.decode(ClusterRequest.self, from: ByteBuffer(string: bytes)) == request)
        #expect(String(buffer: try WireJSONMessage.encode(request)) == bytes)
    }

    @Test func responsesDecodeAndEncodeAsToday() throws {
        let fetched = #"{"id":"q1","sockets":[{"id":"s2","nsp":"/","rooms":["s2","vip"],"data":{"user":"bob","n":1},"auth":{},"address":"127.0.0.1","query":{"EIO":"4","transport":"websocket"}}]}"#
        let socket = RemoteSocket(
            id: "s2", namespace: "/", rooms: ["s2", "vip"], data: ["user": "bob", "n": 1], auth: .object([:]),
            address: "127.0.0.1", query: ["EIO": "4", "transport": "websocket"])
        let response = ClusterResponse(id: "q1", sockets: [WireSocket(socket: socket)])
        #expect(try WireJSONMessage.decode(ClusterResponse.self, from: ByteBuffer(string: fetched)) == response)
        #expect(String(buffer: try WireJSONMessage.encode(response)) == fetched)

        let acked = #"{"id":"q5","args":[2,{"k":"v"}]}"#
        let ack = ClusterResponse(id: "q5", args: [WireJSON(2), WireJSON(["k": "v"])])
        #expect(try WireJSONMessage.decode(ClusterResponse.self, from: ByteBuffer(string: acked)) == ack)
        #expect(String(buffer: try WireJSONMessage.encode(ack)) == acked)
        #expect(String(buffer: try WireJSONMessage.encode(ClusterResponse(id: "q2"))) == #"{"id":"q2"}"#)
    }

    @Test func savedSessionsDecodeAndEncodeAsToday() throws {
        let bytes = #"{"id":"s1","pid":"p1","rooms":["a","b"],"data":{"user":"ann"},"connectOffset":"e:1700000000000-0"}"#
        let session = RecoverableSession(id: "s1", pid: "p1", rooms: ["a", "b"], data: ["user": "ann"], connectOffset: "e:1700000000000-0")
        let saved = try WireJSONMessage.decode(SavedSession.self, from: ByteBuffer(string: bytes))
        #expect(saved == SavedSession(session))
        #expect(saved.recoverable(pid: "p1", maxRoomBytes: 256) == session)
        #expect(String(buffer: try WireJSONMessage.encode(SavedSession(session))) == bytes)
    }

    /// The broadcast envelope, byte for byte: `H3`, flags, origin, rooms, except, text, attachments.
    @Test func broadcastEnvelopesDecodeAndEncodeAsToday() throws {
        var bytes: [UInt8] = [0x48, 0x33, 0x01]                               // magic, volatile
        bytes += [0, 0, 0, 2] + Array("n1".utf8)                              // origin
        bytes += [0, 0, 0, 1] + [0, 0, 0, 3] + Array("vip".utf8)              // rooms
        bytes += [0, 0, 0, 1] + [0, 0, 0, 2] + Array("s1".utf8)               // except
        bytes += [0, 0, 0, 8] + Array(#"2["e",1]"#.utf8)                      // text
        bytes += [0, 0, 0, 1] + [0, 0, 0, 2] + [0xCA, 0xFE]                   // attachments
        let broadcast = ClusterBroadcast(
            origin: "n1", rooms: ["vip"], except: ["s1"], volatile: true,
            text: ByteBuffer(string: #"2["e",1]"#), attachments: [ByteBuffer(bytes: [0xCA, 0xFE])])
        #expect(try ClusterBroadcast.decode(ByteBuffer(bytes: bytes)) == broadcast)
        #expect(try Array(broadcast.encode().readableBytesView) == bytes)
        let logged = LoggedBroadcast.join(offset: "e:1-0", entry: ByteBuffer(bytes: bytes))
        #expect(Array(logged.readableBytesView) == Array("H2e:1-0\n".utf8) + bytes)
    }

    @Test func channelAndKeyNamesAreToday() {
        #expect(RedisAdapter.channelName(prefix: "herald", namespace: "/", .namespace) == "herald#1:/#")
        #expect(RedisAdapter.channelName(prefix: "herald", namespace: "/chat", .room("vip")) == "herald#5:/chat#r3:vip")
        #expect(RedisAdapter.channelName(prefix: "herald", namespace: "/", .response(node: "n1")) == "herald#1:/#response#n1")
        #expect(RedisAdapter.logName(prefix: "herald", namespace: "/chat") == "herald:log:{5:/chat}")
    }

    /// Hostile bytes from the bus: each is refused with an error (the adapter counts and drops it), none traps.
    @Test(arguments: [
        "", "{", "[]", "null", #"{"type":"fetchSockets"}"#, #"{"type":"nope","id":"q","origin":"n"}"#,
        #"{"type":"addSockets","id":"q","origin":"n","rooms":"a"}"#, #"{"type":"serverSideEmit","id":"q","origin":"n","args":{}}"#,
        #"{"type":"disconnectSockets","id":"q","origin":"n","close":1}"#, #"{"type":"fetchSockets","id":7,"origin":"n"}"#,
        String(repeating: "[", count: 100_000),
    ])
    func malformedRequestsAreRefused(bytes: String) {
        #expect(throws: (any Error).self) { try WireJSONMessage.decode(ClusterRequest.self, from: ByteBuffer(string: bytes)) }
    }

    @Test(arguments: [
        #"{"sockets":[]}"#, #"{"id":"q","sockets":[{"id":"s"}]}"#, #"{"id":"q","sockets":[{"id":"s","nsp":"/","rooms":[1]}]}"#,
        #"{"id":"q","args":"x"}"#,
    ])
    func malformedResponsesAreRefused(bytes: String) {
        #expect(throws: (any Error).self) { try WireJSONMessage.decode(ClusterResponse.self, from: ByteBuffer(string: bytes)) }
    }

    /// A malformed message on a live cluster is counted and dropped; the nodes keep answering.
    @Test func malformedMessagesOnTheBusAreCountedAndDropped() async throws {
        try await withCluster(2) { cluster in
            _ = try await cluster.client(on: 1)
            let hostile = cluster.hub.node()
            let adapter = cluster.nodes[1].adapter
            for junk in ["{", #"{"type":"nope","id":"q","origin":"x"}"#, #"{"type":"fetchSockets","opts":{"rooms":[""]},"id":"q","origin":"x"}"#] {
                try await hostile.publish(channel: "herald#1:/#request", message: ByteBuffer(string: junk))
            }
            try await hostile.publish(channel: "herald#1:/#", message: ByteBuffer(string: "H3 not a broadcast"))
            try await hostile.publish(channel: adapter.responseChannel, message: ByteBuffer(string: "[]"))
            try await waitUntil { adapter.droppedMessages == 5 }
            #expect(try await cluster.nodes[0].io.fetchSockets().count == 1)
        }
    }
}
