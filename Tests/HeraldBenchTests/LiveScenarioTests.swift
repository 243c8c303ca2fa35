import Foundation
import HeraldBench
import NIOCore
import NIOPosix
import SocketIO
import Testing

/// One tiny run of each scenario against an in-process server speaking the bench protocol.
@Suite(.serialized) struct LiveScenarioTests {
    /// Mirrors `herald bench-server`'s handlers (Sources/herald/BenchServer.swift).
    static func withBenchServer(
        configuration: SocketIOConfiguration = SocketIOConfiguration(), threads: Int = 1,
        setUp: (SocketIOServer) -> Void = { _ in }, _ body: (Int) async throws -> Void
    ) async throws {
        let io = SocketIOServer(configuration: configuration)
        setUp(io)
        io.onConnection { socket in
            if let room = socket.handshake.auth["room"]?.stringValue { socket.join(room) }
            socket.on("broadcast") { event in
                io.emit("broadcast", event[0] ?? .null)
                event.ack(event.args)
            }
            socket.on("echo") { event in event.ack(event.args) }
            socket.on("fanout") { event in io.to("fanout").emit("tick", event[0] ?? .null) }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let channel = try await io.bind(host: "127.0.0.1", port: 0, group: group)
        do {
            try await body(channel.localAddress!.port!)
        } catch {
            io.close()
            try? await group.shutdownGracefully()
            throw error
        }
        io.close()
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    static func target(_ port: Int) -> BenchTarget {
        BenchTarget(port: port, threads: 1, sourceAddresses: 2, concurrency: 20)
    }

    /// Every scenario's JSON must round-trip through the encoder with its headline fields present.
    static func json<T: Encodable>(_ value: T) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: BenchReport.json(value)) as! [String: Any]
    }

    @Test func idle() async throws {
        try await Self.withBenchServer { port in
            let result = try await BenchScenarios.idle(
                target: Self.target(port), clients: 40, rate: 0, hold: .milliseconds(50),
                probe: ServerProbe(pid: getpid()))
            #expect(result.connected == 40)
            #expect(result.failed == 0)
            #expect(result.handshake.count == 40)
            #expect(result.serverRSSAfterKiB != nil)
            #expect(result.benchCPU.wallSeconds > 0)
            let json = try Self.json(result)
            #expect(json["connectionsPerSecond"] != nil && json["serverKiBPerConnection"] != nil)
        }
    }

    /// Held through several ping intervals: a client that failed to answer `2` with `3` would be dropped.
    @Test func idleClientsAnswerPings() async throws {
        var configuration = SocketIOConfiguration()
        configuration.engine.pingInterval = .milliseconds(50)
        configuration.engine.pingTimeout = .milliseconds(100)
        try await Self.withBenchServer(configuration: configuration) { port in
            let result = try await BenchScenarios.idle(target: Self.target(port), clients: 20, rate: 0, hold: .milliseconds(600))
            #expect(result.connected == 20)
            #expect(result.dropped == 0)
        }
    }

    @Test func storm() async throws {
        try await Self.withBenchServer { port in
            let result = try await BenchScenarios.storm(target: Self.target(port), clients: 40)
            #expect(result.connected == 40)
            #expect(result.failed == 0)
            #expect(result.handshakesPerSecond > 0)
            #expect(try Self.json(result)["secondsUntilAllIn"] != nil)
        }
    }

    @Test func broadcast() async throws {
        try await Self.withBenchServer { port in
            let result = try await BenchScenarios.broadcast(
                target: Self.target(port), step: 15, maxClients: 30, broadcasts: 20, p95Limit: 10_000)
            #expect(result.stoppedBecause == "max clients")
            #expect(result.steps.map(\.clients) == [15, 30])
            for step in result.steps {
                #expect(step.broadcasts == 20)
                #expect(step.roundTrip.count == 20)
                #expect(step.toLastClient.count == 20)
                #expect(step.expectedDeliveries == 20 * step.clients)
                #expect(step.lost == 0 && step.duplicated == 0 && step.mismatchedClients == 0)
            }
            #expect((try Self.json(result)["steps"] as? [Any])?.count == 2)
        }
    }

    @Test func fanout() async throws {
        try await Self.withBenchServer { port in
            let result = try await BenchScenarios.fanout(target: Self.target(port), members: 30, events: 50, rate: 500)
            #expect(result.deliveries == 30 * 50)
            #expect(result.lost == 0 && result.duplicated == 0)
            #expect(result.latencyToLastMember.count == 50)
            #expect(result.deliveriesPerSecond > 0)
            #expect(try Self.json(result)["latencyToLastMember"] != nil)
        }
    }
}
