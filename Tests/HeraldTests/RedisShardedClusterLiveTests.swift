import Foundation
import Herald
import HeraldRedis
import HeraldTesting
import Logging
import NIOPosix
import SocketIOProtocol
import Testing

/// Two herald nodes on a 3-primary/3-replica Redis Cluster over TLS started by the test: room traffic on sharded
/// pub/sub reaches the other node for rooms on every shard, and it and the plain subscription (the publishing
/// envelope) survive the failover of the primary that was the first seed.
@Suite(.serialized, .enabled(if: RedisServerProcess.liveTestsEnabled, "redis-server not on PATH (set CI to make this fail)"))
struct RedisShardedClusterLiveTests {
    /// The room's channel (docs/cluster.md) and its slot.
    static func slot(ofRoom room: String) -> Int {
        RedisClusterSlot.slot(of: "herald#1:/#r\(room.utf8.count):\(room)")
    }

    @Test func roomsOnEveryShardAndAFailover() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let redis = try await RedisClusterProcess.start(certificates: certificates)
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

                // The envelope, PUBLISHed cluster-wide, reaches the member through its node's plain subscriber.
                func envelope(_ text: String) async throws {
                    let live = try #require(redis.servers.first { $0.isRunning })
                    let connection = try await RedisConnection.connect(configuration: live.configuration, eventLoop: MultiThreadedEventLoopGroup.singleton.any())
                    let room = try #require(rooms.values.first)
                    _ = try await connection.send("PUBLISH", "herald:publish", #"{"room":"\#(room)","event":"chat:message","data":{"text":"\#(text)"}}"#)
                    try await connection.close()
                }
                try await envelope("envelope before")
                #expect(try await member.next("chat:message")["text"] == .string("envelope before"))

                // Kill the first seed's primary: the plain subscriptions were made there.
                let victim = redis.servers[0].port
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
                // The plain subscription moved to another primary too.
                var envelopeProbe = 0
                var envelopeResumed = false
                while !envelopeResumed && ContinuousClock.now - killed < .seconds(10) {
                    envelopeProbe += 1
                    try await envelope("envelope probe \(envelopeProbe)")
                    if let text = try? await member.next("chat:message", timeout: .milliseconds(100))["text"] {
                        envelopeResumed = text.stringValue?.hasPrefix("envelope probe") == true
                    }
                }
                #expect(envelopeResumed, "the envelope did not reach the member within 10 s of the first seed's death")
                print("rcluster failover: envelope fan-out resumed \(ContinuousClock.now - killed) after the first seed was killed")
                while (try? await member.next("chat:message", timeout: .milliseconds(300))) != nil {}
                for number in 0..<5 { try await envelope("envelope after \(number)") }
                for number in 0..<5 {
                    #expect(try await member.next("chat:message")["text"] == .string("envelope after \(number)"))
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

    /// Presence (multi-key scripts) and cross-node idempotency keys work on a Redis Cluster: two nodes' stores, rooms
    /// on different slots, a user's tabs on both nodes counted once, a graceful leave handing back the departure.
    @Test func presenceAndIdempotencyOnACluster() async throws {
        let redis = try await RedisClusterProcess.start(replicasPerPrimary: 0)
        defer { redis.stop() }
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        var clients: [RedisClusterClient] = []
        for _ in 0..<2 {
            let client = RedisClusterClient(seeds: redis.seeds, configuration: redis.configuration, eventLoop: eventLoop) { _, _ in }
            try await client.connect()
            clients.append(client)
        }
        let stores = clients.enumerated().map { RedisPresenceStore(client: $1, node: "node\($0)", timeout: .seconds(5)) }
        // Rooms whose names hash to different slots (all presence keys share the hash tag's slot regardless).
        let rooms = ["chat:a", "chat:b", "chat:zz"]
        #expect(Set(rooms.map { RedisClusterSlot.slot(of: $0) }).count == 3)
        for store in stores { _ = try await store.heartbeat() }
        for room in rooms {
            let first = try await stores[0].change(room: room, subject: "ann", info: #"{"n":"Ann"}"#, delta: 1).get()
            #expect(first.transition == .joined && first.users == 1)
            let second = try await stores[1].change(room: room, subject: "ann", info: #"{"n":"Ann"}"#, delta: 1).get()
            #expect(second.transition == .unchanged && second.users == 1)
            let other = try await stores[1].change(room: room, subject: "bob", info: "{}", delta: 1).get()
            #expect(other.transition == .joined && other.users == 2)
            #expect(try await stores[0].snapshot(room: room, limit: 10).users == 2)
        }
        #expect(try await stores[1].ownMembers().count == 6)
        // Node 1 leaves: bob goes everywhere, ann stays (her tab on node 0).
        let departures = try await stores[1].leaveCluster()
        #expect(Set(departures.map(\.room)) == Set(rooms) && departures.allSatisfy { $0.subject == "bob" && $0.users == 1 })
        for room in rooms { #expect(try await stores[0].snapshot(room: room, limit: 10).users == 1) }

        // A publish's idempotency key claimed through one node is a duplicate through the other.
        let idempotency = clients.map { RedisIdempotencyStore(local: InMemoryIdempotencyStore(window: .seconds(60), capacity: 100), client: $0) }
        #expect(await idempotency[0].claimAcrossCluster("order-17"))
        #expect(!(await idempotency[1].claimAcrossCluster("order-17")))
        await idempotency[0].release("order-17")
        #expect(await idempotency[1].claimAcrossCluster("order-17"))
        for client in clients { await client.close() }
    }
}
