import HeraldTesting
import Logging
import MetricsTestKit
import NIOCore
import NIOPosix
import ServiceLifecycle
import SocketIO
import Testing

/// `SocketIOServer` as a swift-service-lifecycle `Service`, and the swift-metrics it reports by itself.
@Suite struct ServiceTests {
    @Test func runServesUntilGracefulShutdownThenDrainsAndReturns() async throws {
        let metrics = TestMetrics()
        let io = SocketIOServer(
            metrics: SocketIOMetrics(factory: metrics),
            service: SocketIOServiceConfiguration(port: 0, drainWindow: .zero, metricsInterval: .seconds(3600)))
        io.onConnection { socket in
            socket.on("echo") { event in event.ack(event.args) }
        }
        let services = ServiceGroup(services: [io], logger: Logger(label: "test"))
        let clientGroup = MultiThreadedEventLoopGroup.singleton
        let port = try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await services.run() }
            let port = try #require(try await io.listeningAddress().port)
            let client = try await RawSocketIOClient.open(port: port, group: clientGroup)
            try await client.connect()
            client.emit("echo", "1", ackID: 7)
            #expect(try await client.nextText() == "437[1]")

            await services.triggerGracefulShutdown()
            // Drained: the session is closed by the server (recoverably, as "server shutting down").
            try await client.expectClosed()
            // And run() returned, which ends the group.
            try await tasks.next()
            return port
        }
        // No longer listening.
        await #expect(throws: (any Error).self) { try await RawSocketIOClient.open(port: port, group: clientGroup) }
        // run() reports once more as it stops.
        #expect(try metrics.expectCounter("socketio_events_received_total").totalValue == 1)
    }

    @Test func eachFigureIsReportedOnceHoweverOftenMetricsRun() async throws {
        let metrics = TestMetrics()
        let io = SocketIOServer(metrics: SocketIOMetrics(factory: metrics, prefix: "app"))
        io.onConnection { socket in
            socket.on("echo") { event in socket.emit("echo", args: event.args) }
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let channel = try await io.bind(host: "127.0.0.1", port: 0, group: group)
        let client = try await RawSocketIOClient.open(port: channel.localAddress!.port!, group: group)
        try await client.connect()
        client.emit("echo", "1")
        try await client.expectEvent("echo", "1")
        // One broadcast in `fanOutSampleEvery` (16) is timed.
        for _ in 0..<16 { io.emit("tick") }
        for _ in 0..<16 { try await client.expectEvent("tick") }
        io.reportMetrics()
        io.reportMetrics()
        client.emit("echo", "2")
        try await client.expectEvent("echo", "2")
        io.reportMetrics()

        #expect(try metrics.expectCounter("app_events_received_total").totalValue == 2)
        #expect(try metrics.expectCounter("app_events_sent_total").totalValue == 18)
        #expect(try metrics.expectCounter("app_deliveries_total").totalValue == 18)
        #expect(try metrics.expectCounter("app_volatile_drops_total").totalValue == 0)
        #expect(try metrics.expectMeter("app_sessions").lastValue == 1)
        #expect(try metrics.expectMeter("app_sockets", [("namespace", "/")]).lastValue == 1)
        #expect(try metrics.expectTimer("app_fanout_latency_seconds").values.count == 1)
        try await channel.close()
    }
}
