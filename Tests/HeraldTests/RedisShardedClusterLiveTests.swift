import Foundation
import Herald
import HeraldRedis
import HeraldTesting
import Logging
import NIOPosix
import SocketIOProtocol
import Testing

/// Two herald nodes on a 3-primary/3-replica Redis Cluster started by the test: room traffic on sharded
/// pub/sub reaches the other node for rooms on every shard, and survives a primary's failover.
@Suite(.serialized, .enabled(if: RedisServerProcess.liveTestsEnabled, "redis-server not on PATH (set CI to make this fail)"))
struct RedisShardedClusterLiveTests {
    /// The room's channel (docs/cluster.md) and its slot.
    static func slot(ofRoom room: String) -> Int {
        RedisClusterSlot.slot(of: "herald#1:/#r\(room.utf8.count):\(room)")
    }

    @Test func roomsOnEveryShardAndAFailover() async throws {
        let redis = try await RedisClusterProcess.start()
        defer { redis.stop() }
        // One room per primary: names tried in turn until each shard has one.
        var rooms: [Int: String] = [:]
        var index = 0
        while rooms.count < 3 && index < 200 {
            let room = "chat:shard-\(index)"
            let port = try await redis.primaryPort(forSlot: Self.slot(ofRoom: room))
            if rooms[port] == nil { rooms[port] = room }
            index += 1
        }
        #expect(rooms.count == 3, "rooms spread over \(rooms.count) shards")

        var logger = Logger(label: "rcluster-test")
        logger.logLevel = .critical
        func node() -> HeraldNode {
            var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, drainTimeout: .milliseconds(200))
            configuration.chat = ChatConfiguration(database: .sqliteMemory)
            var base = redis.configuration
            base.commandTimeout = .seconds(2)
            base.connectTimeout = .milliseconds(500)
            configuration.redis = base
            configuration.redisTopology = .cluster(seeds: redis.seeds)
            return HeraldNode(configuration: configuration, logger: logger)
        }
        try await withRunningNode(node()) { publisher, _ in
            try await withRunningNode(node()) { _, port in
                let member = ChatTestClient(raw: try await RawSocketIOClient.open(port: port, group: MultiThreadedEventLoopGroup.singleton))
                try await member.raw.connect()
                for room in rooms.values { try await member.join(room) }

                // A publish on one node reaches the member on the other, for a room on every shard.
                for (shard, room) in rooms {
                    try await publisher.io.to(room).publish("chat:message", args: [["text": .string("before \(shard)")]])
                    #expect(try await member.next("chat:message")["text"] == .string("before \(shard)"))
                }

                // Kill a primary (not the first seed, which carries the plain subscriber).
                let victim = try #require(rooms.keys.sorted().first { $0 != redis.servers[0].port })
                let room = try #require(rooms[victim])
                let killed = ContinuousClock.now
                redis.server(port: victim)?.kill()
                try await redis.waitUntil(within: .seconds(5)) {
                    (try? JSONValue(parsing: try await RawHTTP.get("/health", port: port).body))?["status"] == "degraded"
                }

                // Probes until one gets through: the replica was promoted and the room's channel moved to it.
                var probe = 0
                var resumed = false
                while !resumed && ContinuousClock.now - killed < .seconds(10) {
                    probe += 1
                    try? await publisher.io.to(room).publish("chat:message", args: [["text": .string("probe \(probe)")]])
                    if let text = try? await member.next("chat:message", timeout: .milliseconds(100))["text"] {
                        resumed = text.stringValue?.hasPrefix("probe") == true
                    }
                }
                let gap = ContinuousClock.now - killed
                #expect(resumed, "fan-out did not resume within 10 s of the primary's death")
                print("rcluster failover: fan-out resumed \(gap) after the primary was killed")
                // A probe published during the outage that the node still held may arrive late: drain them.
                while (try? await member.next("chat:message", timeout: .milliseconds(300))) != nil {}

                // Nothing published after the resume is lost, on the failed-over shard or the others.
                for number in 0..<20 {
                    try await publisher.io.to(room).publish("chat:message", args: [["text": .string("after \(number)")]])
                }
                for number in 0..<20 {
                    #expect(try await member.next("chat:message")["text"] == .string("after \(number)"))
                }
                for (shard, other) in rooms where shard != victim {
                    try await publisher.io.to(other).publish("chat:message", args: [["text": .string("still \(shard)")]])
                    #expect(try await member.next("chat:message")["text"] == .string("still \(shard)"))
                }
                try await redis.waitUntil(within: .seconds(10)) {
                    (try? JSONValue(parsing: try await RawHTTP.get("/health", port: port).body))?["status"] == "ok"
                }
                try await expectNodeServes(port: port)
                await member.close()
            }
        }
    }
}
