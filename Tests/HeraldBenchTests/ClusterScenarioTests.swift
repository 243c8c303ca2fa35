import Foundation
import HeraldBench
import HeraldTesting
import NIOCore
import NIOPosix
import HeraldRedis
import HeraldRedisAdapter
import SocketIO
import Testing

/// The `cluster` scenario against two bench-server nodes in this process, joined by a real redis-server.
@Suite(.serialized, .enabled(if: RedisServerProcess.liveTestsEnabled, "redis-server not on PATH (set CI to make this fail)"))
struct ClusterScenarioTests {
    /// One node: `herald bench-server --redis-url` (Sources/herald/BenchServer.swift), handlers mirrored here.
    final class Node: Sendable {
        let io: SocketIOServer
        let bus: RedisClusterBus
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel: any Channel
        var endpoint: BenchEndpoint { BenchEndpoint(host: "127.0.0.1", port: channel.localAddress!.port!) }

        init(redis: RedisConfiguration) async throws {
            bus = RedisClusterBus(configuration: redis, eventLoop: group.next())
            try await bus.connect()
            let io = SocketIOServer(adapterFactory: ClusterAdapter.factory(bus: bus))
            self.io = io
            // Clustered, the room is joined in middleware so its subscription is in place before CONNECT.
            io.use { socket in
                if let room = socket.handshake.auth["room"]?.stringValue { socket.join(room) }
            }
            io.onConnection { socket in
                socket.on("broadcast") { event in
                    io.emit("broadcast", event[0] ?? .null)
                    event.ack(event.args)
                }
                socket.on("fanout") { event in io.to("fanout").emit("tick", event[0] ?? .null) }
            }
            try await (io.sockets.adapter as! ClusterAdapter).ready()
            channel = try await io.bind(host: "127.0.0.1", port: 0, group: group)
        }

        func shutdown() async {
            try? await channel.close()
            io.close()
            await bus.close()
            try? await group.shutdownGracefully()
        }
    }

    static func withNodes(_ count: Int, _ body: ([Node]) async throws -> Void) async throws {
        let redis = try await RedisServerProcess.start()
        var nodes: [Node] = []
        do {
            for _ in 0..<count { nodes.append(try await Node(redis: redis.configuration)) }
            try await body(nodes)
        } catch {
            for node in nodes { await node.shutdown() }
            redis.kill()
            throw error
        }
        for node in nodes { await node.shutdown() }
        redis.kill()
    }

    static func target(_ nodes: [Node]) -> BenchTarget {
        var target = BenchTarget(threads: 2, concurrency: 20)
        target.servers = nodes.map(\.endpoint)
        return target
    }

    @Test func everyClientOnEveryNodeGetsEveryBroadcastOnce() async throws {
        try await Self.withNodes(2) { nodes in
            let result = try await BenchScenarios.cluster(
                target: Self.target(nodes), clients: 41, broadcasts: 12, rate: 0, rotate: true, padding: 16,
                probes: [ServerProbe(pid: getpid()), ServerProbe(pid: getpid())])
            #expect(!result.drainTimedOut)
            #expect(result.nodes == 2 && result.connected == 41 && result.failed == 0 && result.dropped == 0)
            #expect(result.perNode.map(\.clients) == [21, 20])
            #expect(result.perNode.map(\.deliveries) == [21 * 12, 20 * 12])
            #expect(result.perNode.map(\.expectedDeliveries) == [21 * 12, 20 * 12])
            #expect(result.expectedDeliveries == 41 * 12 && result.deliveries == 41 * 12)
            #expect(result.lost == 0 && result.duplicated == 0 && result.mismatchedClients == 0)
            // Every broadcast reached the last client on each node, and the overall figure is the worst node.
            #expect(result.toLastClient.count == 12)
            #expect(result.perNode.allSatisfy { $0.toLastClient.count == 12 })
            #expect(result.toLastClient.max == result.perNode.map(\.toLastClient.max).max())
            #expect(result.roundTrip.count == 12)
            #expect(result.perNode.allSatisfy { $0.serverCPU != nil && $0.serverRSSKiB != nil })
            let json = try JSONSerialization.jsonObject(with: BenchReport.json(result)) as! [String: Any]
            #expect(json["scenario"] as? String == "cluster")
            #expect((json["perNode"] as? [Any])?.count == 2)
            #expect(BenchReport.text(result).contains("deliveries/s"))
        }
    }

    /// Two bench processes' parts merge into the same totals as one.
    @Test func partsFromSeveralProcessesMerge() async throws {
        try await Self.withNodes(2) { nodes in
            let target = Self.target(nodes)
            let first = try ClusterReceivers(target: target, clients: 0..<5)
            let second = try ClusterReceivers(target: target, clients: 5..<12)
            _ = await first.ramp(rate: 0)
            _ = await second.ramp(rate: 0)
            #expect(first.connected == 5 && second.connected == 7)
            try await first.prepare(broadcasts: 6)
            try await second.prepare(broadcasts: 6)
            let publishers = try await ClusterPublishers(target: target)
            let start = benchClockMicros()
            try await publishers.publish(broadcasts: 6, rate: 0, rotate: false, padding: 0)
            let deadline = ContinuousClock.now + .seconds(20)
            #expect(try await first.waitForDeliveries(broadcasts: 6, deadline: deadline))
            #expect(try await second.waitForDeliveries(broadcasts: 6, deadline: deadline))
            let cpu = CPUShare(cpuSeconds: 0, wallSeconds: 1)
            let parts = [
                try await first.tally(broadcasts: 6, rampSeconds: 0, benchCPU: cpu, drainTimedOut: false),
                try await second.tally(broadcasts: 6, rampSeconds: 0, benchCPU: cpu, drainTimedOut: false),
            ]
            #expect(parts.map(\.connectedPerNode) == [[3, 2], [3, 4]])   // clients 0…11 round robin over 2 nodes
            let result = BenchScenarios.mergeCluster(
                parts, servers: target.endpoints, broadcasts: 6, rate: 0, rotate: false, padding: 0, rampSeconds: 0,
                firstSendMicros: start, roundTrips: try await publishers.roundTrips(), publisherCPU: nil, serverStats: [])
            #expect(result.processes == 2 && result.connected == 12)
            #expect(result.perNode.map(\.clients) == [6, 6])
            #expect(result.perNode.map(\.deliveries) == [36, 36])
            #expect(result.deliveries == 72 && result.lost == 0 && result.duplicated == 0)
            #expect(result.toLastClient.count == 6)
            await publishers.shutdown()
            await first.shutdown()
            await second.shutdown()
        }
    }

    /// Room members on node B, publisher on node A: the cross-node fanout latency mode.
    @Test func fanoutAcrossNodes() async throws {
        try await Self.withNodes(2) { nodes in
            let result = try await BenchScenarios.fanout(
                target: Self.target(nodes), members: 25, events: 40, rate: 1000, memberNode: 1, publisherNode: 0)
            #expect(result.deliveries == 25 * 40)
            #expect(result.lost == 0 && result.duplicated == 0 && !result.drainTimedOut)
            #expect(result.latencyToLastMember.count == 40)
            #expect(result.memberServer == nodes[1].endpoint.description)
            #expect(result.publisherServer == nodes[0].endpoint.description)
        }
    }
}
