import Foundation
import Herald
import HeraldTesting
import Logging
import NIOPosix
import HeraldRedisAdapter
import SocketIO
import SocketIOProtocol
import Testing

/// Attacks on rooms, packets and publishing against a running node over real sockets: each test checks that
/// the node stays up, a fresh client still connects, and what the attacker made the node keep stays bounded.
@Suite(.serialized, .enabled(if: RedisServerProcess.liveTestsEnabled, "redis-server not on PATH (set CI to make this fail)"))
struct HostileRoomsTests {
    /// Regression: with Redis and auth off, `chat:send` to a joined 70 000-byte room trapped the 16-bit length
    /// conversion of the cluster broadcast encoder and killed the process.
    @Test func aRoomOfSeventyThousandBytesDoesNotKillAClusteredNode() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.kill() }
        try await withHostileNode(redis: redis) { _, port in
            let attacker = ChatTestClient(raw: try await RawSocketIOClient.open(port: port, group: MultiThreadedEventLoopGroup.singleton))
            try await attacker.raw.connect()
            let room = "chat:" + String(repeating: "A", count: 70_000)
            let joined = try await attacker.emitWithAck("chat:join", ["room": .string(room)])
            if joined["ok"] == true {
                _ = try await attacker.emitWithAck("chat:send", ["room": .string(room), "text": "boom"])
            }
            try await expectNodeServes(port: port)
            await attacker.close()
        }
    }

    /// A client asking for room after room on a clustered node: past the cap every join is refused before it
    /// costs a Redis SUBSCRIBE, names past 256 bytes or with control characters are refused at the edge, and
    /// the node keeps serving.
    @Test func roomFloodIsCappedBeforeItReachesRedis() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.kill() }
        try await withHostileNode(redis: redis, configure: { $0.socketIO.maxRoomsPerSocket = 5 }) { node, port in
            node.io.onConnection { socket in
                socket.onJoinAckingRefusals { event in try [node.io.roomName(event[0]?.stringValue ?? "")] }
            }
            let attacker = ChatTestClient(raw: try await RawSocketIOClient.open(port: port, group: MultiThreadedEventLoopGroup.singleton))
            try await attacker.raw.connect()
            var answers: [String: Int] = [:]
            for index in 0..<200 {
                let answer = try await attacker.emitWithAck("join", .string("flood:\(index)"))
                answers[answer.stringValue ?? "?", default: 0] += 1
            }
            #expect(answers == ["ok": 5, "too_many_rooms": 195])
            #expect(try await attacker.emitWithAck("join", .string("chat:" + String(repeating: "A", count: 70_000))) == "room_too_long")
            #expect(try await attacker.emitWithAck("join", "bell\u{7}") == "room_control_character")
            let adapter = try #require(node.io.sockets.adapter as? RedisAdapter)
            await adapter.subscriptionsSettled()
            #expect(adapter.subscribedRooms.count == 5, "\(adapter.subscribedRooms.count) Redis subscriptions")
            #expect(node.io.stats.roomJoinsRefused == 195)
            try await expectNodeServes(port: port)
            await attacker.close()
        }
    }
}

/// A node with chat (SQLite in memory) and, when given, Redis; auth off, as `herald serve` by default.
func withHostileNode(redis: RedisServerProcess? = nil, configure: (inout HeraldConfiguration) -> Void = { _ in },
                     _ body: (HeraldNode, Int) async throws -> Void) async throws {
    var logger = Logger(label: "hostile-test")
    logger.logLevel = .critical
    var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, drainTimeout: .milliseconds(200))
    configuration.chat = ChatConfiguration(database: .sqliteMemory)
    configuration.redis = redis?.configuration
    configure(&configuration)
    try await withRunningNode(HeraldNode(configuration: configuration, logger: logger), body)
}

/// The node is up: a fresh client connects to the main namespace and an event round-trips through a room.
func expectNodeServes(port: Int) async throws {
    let fresh = ChatTestClient(raw: try await RawSocketIOClient.open(port: port, group: MultiThreadedEventLoopGroup.singleton))
    try await fresh.raw.connect()
    try await fresh.join("chat:fresh")
    #expect(try await fresh.send("chat:fresh", "still here")["ok"] == true)
    #expect(try await fresh.next("chat:message")["text"] == "still here")
    await fresh.close()
}

extension HeraldConfigurationTests {
    @Test func roomAndPacketSettings() throws {
        var configuration = HeraldConfiguration()
        #expect(configuration.socketIO.attachmentTimeout == .seconds(30))
        #expect(configuration.socketIO.broadcastFlushSlice == .milliseconds(1))
        try configuration.apply(["HERALD_MAX_ROOM_NAME_BYTES": "64", "HERALD_MAX_ROOMS_PER_SOCKET": "5",
                                 "HERALD_MAX_ATTACHMENTS": "2", "HERALD_ATTACHMENT_TIMEOUT": "1500",
                                 "HERALD_BROADCAST_FLUSH_SLICE": "0"])
        #expect(configuration.socketIO.maxRoomNameBytes == 64)
        #expect(configuration.socketIO.maxRoomsPerSocket == 5)
        #expect(configuration.socketIO.maxAttachments == 2)
        #expect(configuration.socketIO.attachmentTimeout == .milliseconds(1500))
        #expect(configuration.socketIO.broadcastFlushSlice == .zero)
        #expect(throws: HeraldConfiguration.SettingError.self) { try configuration.apply(["HERALD_MAX_ROOMS_PER_SOCKET": "0"]) }
        #expect(throws: HeraldConfiguration.SettingError.self) { try configuration.apply(["HERALD_MAX_ROOM_NAME_BYTES": "lots"]) }
    }
}
