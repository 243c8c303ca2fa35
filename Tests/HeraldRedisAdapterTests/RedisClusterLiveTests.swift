import HeraldTesting
import NIOCore
import NIOPosix
import HeraldRedis
import HeraldRedisAdapter
import SocketIO
import SocketIOProtocol
import Testing

/// The cluster adapter on a real redis-server: two nodes, rooms across them, recovery from the Redis stream,
/// and a Redis restart.
@Suite(.serialized, .enabled(if: RedisServerProcess.liveTestsEnabled, "redis-server not on PATH (set CI to make this fail)"))
struct RedisClusterLiveTests {
    final class Node: Sendable {
        let io: SocketIOServer
        let bus: RedisClusterBus
        let group: MultiThreadedEventLoopGroup
        let channel: any Channel
        var port: Int { channel.localAddress!.port! }
        var adapter: ClusterAdapter { io.sockets.adapter as! ClusterAdapter }

        init(redis: RedisConfiguration, socketIO: SocketIOConfiguration) async throws {
            group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
            bus = RedisClusterBus(configuration: redis, eventLoop: group.next())
            try await bus.connect()
            io = SocketIOServer(configuration: socketIO, adapterFactory: ClusterAdapter.factory(bus: bus, log: bus))
            let io = self.io
            io.onConnection { socket in
                socket.on("join") { event in
                    socket.join(event.args.compactMap(\.stringValue))
                    event.ack()
                }
                socket.on("joinReachable") { event in
                    Task {
                        await socket.joinReachable(event.args.compactMap(\.stringValue))
                        event.ack()
                    }
                }
            }
            channel = try await io.bind(host: "127.0.0.1", port: 0, group: group)
            try await (io.sockets.adapter as! ClusterAdapter).ready()
        }

        func shutdown() async {
            try? await channel.close()
            io.close()
            let io = self.io
            try? await waitUntilAsync { io.engine.sessionCount == 0 }
            await adapter.subscriptionsSettled()
            await bus.close()
            try? await group.shutdownGracefully()
        }
    }

    static func withNodes(_ count: Int, socketIO: SocketIOConfiguration = SocketIOConfiguration(),
                          _ body: (RedisServerProcess, [Node], MultiThreadedEventLoopGroup) async throws -> Void) async throws {
        let redis = try await RedisServerProcess.start()
        var nodes: [Node] = []
        let clients = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            for _ in 0..<count { nodes.append(try await Node(redis: redis.configuration, socketIO: socketIO)) }
            try await body(redis, nodes, clients)
        } catch {
            for node in nodes { await node.shutdown() }
            try? await clients.shutdownGracefully()
            redis.kill()
            throw error
        }
        for node in nodes { await node.shutdown() }
        try? await clients.shutdownGracefully()
        redis.kill()
    }

    static func join(_ client: RawSocketIOClient, _ room: String, on node: Node) async throws {
        client.emit("join", "\"\(room)\"", ackID: 9)
        #expect(try await client.nextText() == "439[]")
        await node.adapter.subscriptionsSettled()
    }

    @Test func roomBroadcastAcrossNodesAndClusterRequests() async throws {
        try await Self.withNodes(2) { _, nodes, clients in
            let a = try await RawSocketIOClient.open(port: nodes[0].port, group: clients)
            let aSid = try await a.connect()
            let b = try await RawSocketIOClient.open(port: nodes[1].port, group: clients)
            _ = try await b.connect()
            try await Self.join(a, "order:7", on: nodes[0])

            nodes[1].io.to("order:7").emit("order:updated", ["status": "paid"], .binary(ByteBuffer(bytes: [7])))
            #expect(try await a.nextText() == #"451-["order:updated",{"status":"paid"},{"_placeholder":true,"num":0}]"#)
            #expect(try await a.nextBinary() == [7])

            let found = try await nodes[1].io.in("order:7").fetchSockets()
            #expect(found.map(\.id) == [aSid])
            #expect(try await nodes[1].io.sockets.adapter.serverCount() == 2)
        }
    }

    /// No `subscriptionsSettled()` here: the ack itself must mean that a publish from another node arrives.
    @Test func joinReachableAcksOnlyOnceOtherNodesReachTheRoom() async throws {
        try await Self.withNodes(2) { _, nodes, clients in
            let a = try await RawSocketIOClient.open(port: nodes[0].port, group: clients)
            _ = try await a.connect()
            for round in 0..<20 {
                a.emit("joinReachable", "\"room-\(round)\"", ackID: round)
                #expect(try await a.nextText() == "43\(round)[]")
                // Confirmed by Redis before the ack left, not merely queued.
                #expect(nodes[0].adapter.subscribedRooms.contains("room-\(round)"))
                nodes[1].io.to("room-\(round)").emit("hit", .int(round))
                #expect(try await a.nextText() == #"42["hit",\#(round)]"#)
            }
        }
    }

    @Test func recoveryFromTheRedisStreamOnAnotherNode() async throws {
        let socketIO = SocketIOConfiguration(connectionStateRecovery: ConnectionStateRecovery())
        try await Self.withNodes(2, socketIO: socketIO) { _, nodes, clients in
            let first = try await RawSocketIOClient.open(port: nodes[0].port, group: clients)
            first.send("40")
            let reply = try await first.nextText()
            let sid = try #require(reply.jsonStringField("sid"))
            let pid = try #require(reply.jsonStringField("pid"))
            try await Self.join(first, "r", on: nodes[0])
            try await nodes[1].io.to("r").publish("e1", args: [1])
            let e1 = try await first.nextText()
            let offset = String(try #require(e1.split(separator: ",").last).dropFirst().dropLast(2))
            #expect(offset.contains(":"), "offset is EPOCH:STREAM-ID, got \(offset)")

            await first.disconnectTransport()
            try await waitUntil { nodes[0].io.sockets.socketCount == 0 }
            try await nodes[0].io.to("r").publish("e2", args: [2])

            // The session is saved asynchronously on disconnect: wait until Redis has it.
            let bus = nodes[0].bus
            try await waitUntilAsync { (try? await bus.client.send("EXISTS", "herald:log:{1:/}:session:\(pid)"))?.integer == 1 }
            let second = try await RawSocketIOClient.open(port: nodes[1].port, group: clients)
            second.send(#"40{"pid":"\#(pid)","offset":"\#(offset)"}"#)
            #expect(try await second.nextText() == #"40{"sid":"\#(sid)","pid":"\#(pid)"}"#)
            #expect(try await second.nextText().hasPrefix(#"42["e2",2,""#))
        }
    }

    /// A Redis envelope is received by every node, and each delivers it to its own members with a local
    /// broadcast. With recovery on, that broadcast must not go through the log (which publishes to every node):
    /// each member gets it once, not once per node.
    @Test func localBroadcastsWithRecoveryReachEachMemberOnce() async throws {
        let socketIO = SocketIOConfiguration(connectionStateRecovery: ConnectionStateRecovery())
        try await Self.withNodes(2, socketIO: socketIO) { _, nodes, clients in
            var members: [RawSocketIOClient] = []
            for node in nodes {
                let client = try await RawSocketIOClient.open(port: node.port, group: clients)
                client.send("40")
                _ = try await client.nextText()
                try await Self.join(client, "r", on: node)
                members.append(client)
            }
            // As every node does on an envelope.
            for node in nodes { node.io.local.to("r").emit("envelope", .int(1)) }
            // A logged cluster broadcast after it: a duplicate would arrive before this marker.
            try await nodes[0].io.to("r").publish("marker", args: [])
            for client in members {
                #expect(try await client.nextText() == #"42["envelope",1]"#)
                #expect(try await client.nextText().hasPrefix(#"42["marker",""#))
            }
        }
    }

    /// Recovery reads only what follows the client's offset, and honours it only when the log issued it since the
    /// session connected; a session older than the log's history (its connect offset trimmed) still recovers.
    @Test func entriesAfterAnOffsetIssuedSinceTheSessionConnected() async throws {
        try await Self.withNodes(1) { _, nodes, _ in
            let bus = nodes[0].bus, log = "herald:test-log"
            func append(_ text: String) async throws -> String {
                try await bus.appendAndPublish(log: log, entry: ByteBuffer(string: text), channel: "unused", maxAge: .seconds(60)).get()
            }
            func read(_ offset: String, since floor: String) async throws -> [String]? {
                try await bus.entries(log: log, after: offset, issuedSince: floor)?.map { String(buffer: $0.entry) }
            }
            let earlier = try await append("e-1")
            _ = try await append("e0")
            let floor = try await bus.currentOffset(log: log)
            let e1 = try await append("e1"), e2 = try await append("e2")
            _ = try await append("e3")
            #expect(try await read(floor, since: floor) == ["e1", "e2", "e3"])
            #expect(try await read(e1, since: floor) == ["e2", "e3"])
            // Issued before the session connected, never issued, another epoch: no recovery.
            #expect(try await read(earlier, since: floor) == nil)
            let parts = e1.split(separator: ":"), id = parts[1].split(separator: "-")
            let neverIssued = "\(parts[0]):\(id[0])-\(UInt64(id[1])! + 1000)"
            #expect(try await read(neverIssued, since: floor) == nil)
            #expect(try await read("other:" + parts[1], since: floor) == nil)
            // Trimmed up to e2: the connect offset is gone, the events after e2 are all there.
            _ = try await bus.client.send("XTRIM", log, "MINID", String(e2.split(separator: ":")[1]))
            #expect(try await read(e2, since: floor) == ["e3"])
            // What followed the connect offset may be among the trimmed: a new session.
            #expect(try await read(floor, since: floor) == nil)
        }
    }

    /// A storm of holds on distinct rooms goes to Redis in a few SUBSCRIBE commands, not one round trip each;
    /// a room named like a socket id is never subscribed (its broadcasts travel on the namespace channel).
    @Test func manyRoomHoldsShareSubscribeCommands() async throws {
        try await Self.withNodes(1) { _, nodes, _ in
            let adapter = nodes[0].adapter, client = nodes[0].bus.client
            _ = try await client.send("CONFIG", "RESETSTAT")
            let rooms = (0..<400).map { "user:\($0)" }
            await withTaskGroup(of: Void.self) { group in
                for room in rooms { group.addTask { await adapter.holdRooms([room]) } }
            }
            #expect(adapter.subscribedRooms.isSuperset(of: rooms))
            let stats = try await client.send("INFO", "commandstats").string ?? ""
            let line = try #require(stats.split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_subscribe:") })
            let calls = try #require(Int(line.dropFirst("cmdstat_subscribe:calls=".count).prefix { $0.isNumber }))
            #expect(calls < 40, "\(calls) SUBSCRIBE commands for \(rooms.count) rooms")
            await adapter.holdRooms(["AAAAAAAAAAAAAAAAAAAA"])
            #expect(!adapter.subscribedRooms.contains("AAAAAAAAAAAAAAAAAAAA"))
            adapter.releaseRooms(rooms)
            await adapter.subscriptionsSettled()
            #expect(adapter.subscribedRooms.isDisjoint(with: rooms))
        }
    }

    @Test func loggedBroadcastsKeepTheirOrder() async throws {
        let socketIO = SocketIOConfiguration(connectionStateRecovery: ConnectionStateRecovery())
        try await Self.withNodes(2, socketIO: socketIO) { _, nodes, clients in
            let client = try await RawSocketIOClient.open(port: nodes[0].port, group: clients)
            client.send("40")
            _ = try await client.nextText()
            await nodes[0].adapter.subscriptionsSettled()
            // Emitted back to back, logged through Redis one by one: they must arrive in emit order, on both nodes' paths.
            for index in 0..<200 { nodes[index % 2].io.emit("n", .int(index)) }
            var received: [Int] = []
            for _ in 0..<200 {
                let text = try await client.nextText()
                received.append(Int(text.dropFirst(#"42["n","#.count).prefix { $0 != "," })!)
            }
            let fromNode0 = received.filter { $0 % 2 == 0 }
            let fromNode1 = received.filter { $0 % 2 == 1 }
            #expect(fromNode0 == fromNode0.sorted())
            #expect(fromNode1 == fromNode1.sorted())
            #expect(received.count == 200)
        }
    }

    @Test func redisRestartResubscribesRooms() async throws {
        try await Self.withNodes(2) { redis, nodes, clients in
            let a = try await RawSocketIOClient.open(port: nodes[0].port, group: clients)
            _ = try await a.connect()
            try await Self.join(a, "room", on: nodes[0])
            redis.kill()
            // While Redis is away, a publish reports the failure and this node's members still get it.
            await #expect(throws: (any Error).self) { try await nodes[0].io.to("room").publish("local-only", args: []) }
            #expect(try await a.nextText() == #"42["local-only"]"#)
            try await redis.launch()
            try await waitUntilAsync { nodes[0].bus.isConnected && nodes[1].bus.isConnected }
            nodes[1].io.to("room").emit("after-restart")
            #expect(try await a.nextText() == #"42["after-restart"]"#)
        }
    }
}

/// Polls an asynchronous condition (a reconnect) a bounded number of times, failing when it never holds.
func waitUntilAsync(_ condition: @Sendable () async -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let deadline = ContinuousClock.now + .seconds(15)
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition not met within 15 s", sourceLocation: sourceLocation)
}
