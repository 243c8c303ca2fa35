import Foundation
import Herald
import HeraldBench
import SocketIO
import Testing

/// A CI-sized soak against an in-process bench server with two event loops (so upgrades cross loops) and a
/// short heartbeat interval (so the ping-timeout cycles end quickly): every cycle completes, and sessions, sockets,
/// rooms, heartbeat timer entries and file descriptors are back where they started once the clients are gone.
@Suite(.serialized) struct SoakScenarioTests {
    @Test func countsReturnToZeroAndMemoryStaysFlat() async throws {
        var configuration = SocketIOConfiguration()
        // Short, so the ping-timeout cycles end quickly; the timeout leaves a polling cycle, which answers a ping
        // only at its next GET, 400 ms even on a loaded machine.
        configuration.engine.pingInterval = .milliseconds(100)
        configuration.engine.pingTimeout = .milliseconds(400)
        try await LiveScenarioTests.withBenchServer(configuration: configuration, threads: 2, setUp: { io in
            io.engine.setRoutes(HeraldMetrics(redis: false, bootstrapMetricsSystem: false).resourceRoute(io: io))
        }) { port in
            let options = SoakOptions(
                cycles: 1_500, warmup: 250, concurrency: 96,
                metrics: (BenchEndpoint(host: "127.0.0.1", port: port), "/metrics"),
                cycleTimeout: .seconds(5), settleTimeout: .seconds(10))
            // Server and load generator share this process, so the RSS is both of theirs.
            let result = try await BenchScenarios.soak(
                target: BenchTarget(port: port, threads: 2), options: options, probe: ServerProbe(pid: getpid()))
            #expect(result.completed == 1_500, "\(result.errors)")
            #expect(result.failed == 0)
            for mode in SoakMode.allCases { #expect(result.byMode[mode.rawValue]?.completed == 300) }
            #expect(result.settleSeconds != nil, "not settled: \(result.resourcesEnd)")
            for gauge in SoakResult.zeroGauges where gauge != "herald_redis_room_subscriptions" {
                #expect(result.resourcesEnd[gauge] == 0, "\(gauge) in \(result.resourcesEnd)")
            }
            #expect(result.resourcesEnd["herald_open_fds"] != nil)
            #expect(result.leftovers.isEmpty, "\(result.leftovers)")
            let growth = try #require(result.rssGrowthPercent)
            #expect(growth < 15, "RSS \(result.serverRSSWarmKiB ?? 0) → \(result.serverRSSEndKiB ?? 0) KiB")
        }
    }
}
