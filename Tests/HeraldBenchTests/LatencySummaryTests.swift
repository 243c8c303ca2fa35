@testable import HeraldBench
import NIOCore
import Testing

@Suite struct LatencySummaryTests {
    @Test func nearestRankPercentiles() {
        let values = Array(1...100)
        #expect(LatencySummary.percentile(values, 50) == 50)
        #expect(LatencySummary.percentile(values, 95) == 95)
        #expect(LatencySummary.percentile(values, 99) == 99)
        #expect(LatencySummary.percentile(values, 100) == 100)
        #expect(LatencySummary.percentile(values, 0) == 1)
        // A percentile between samples rounds up to a sample that was measured.
        #expect(LatencySummary.percentile([10, 20, 30], 50) == 20)
        #expect(LatencySummary.percentile([10, 20, 30], 34) == 20)
        #expect(LatencySummary.percentile([7], 99) == 7)
    }

    @Test func summaryIsInMillisecondsAndOrderFree() {
        let summary = LatencySummary(micros: [3000, 1000, 2000, 4000])
        #expect(summary.count == 4)
        #expect(summary.min == 1)
        #expect(summary.max == 4)
        #expect(summary.mean == 2.5)
        #expect(summary.p50 == 2)
        #expect(summary.p95 == 4)
    }

    @Test func emptySummaryIsZero() {
        let summary = LatencySummary(micros: [])
        #expect(summary.count == 0)
        #expect(summary.p99 == 0)
    }

    @Test func cpuShareIsPercentOfOneCore() {
        #expect(CPUShare(cpuSeconds: 1.5, wallSeconds: 2).percentOfOneCore == 75)
        #expect(CPUShare(cpuSeconds: 1, wallSeconds: 0).percentOfOneCore == 0)
    }

    @Test func wireHelpers() {
        let payload = ByteBuffer(string: "42[\"broadcast\",{\"id\":123,\"t\":456789,\"p\":\"xx\"}]")
        #expect(BenchWire.integer(after: "\"id\":", in: payload) == 123)
        #expect(BenchWire.integer(after: "\"t\":", in: payload) == 456789)
        #expect(BenchWire.integer(after: "\"seq\":", in: payload) == nil)
        #expect(BenchWire.hasPrefix(payload, "42[\"broadcast\","))
        #expect(!BenchWire.hasPrefix(payload, "42[\"tick\","))
    }
}

@Suite struct IdleMergeTests {
    static func part(clients: Int, failed: Int, samples: [UInt32], cpu: Double, wall: Double) -> IdleResult {
        IdleResult(clients: clients, connected: clients - failed, failed: failed, dropped: 0, rampSeconds: wall,
                   connectionsPerSecond: 0, handshake: LatencySummary(micros: samples),
                   benchCPU: CPUShare(cpuSeconds: cpu, wallSeconds: wall), errors: failed > 0 ? ["refused": failed] : [:],
                   handshakeSamplesMicros: samples)
    }

    /// Percentiles come from the pooled samples, not from averaging each worker's percentiles.
    @Test func workersMergeIntoOneResult() {
        let merged = BenchScenarios.merge(
            [Self.part(clients: 3, failed: 0, samples: [1000, 2000, 3000], cpu: 0.5, wall: 1),
             Self.part(clients: 3, failed: 1, samples: [10_000, 20_000], cpu: 0.3, wall: 2)],
            rampSeconds: 2, hold: (before: 1000, after: 1050), serverCPU: nil)
        #expect(merged.clients == 6)
        #expect(merged.connected == 5)
        #expect(merged.failed == 1)
        #expect(merged.connectionsPerSecond == 2.5)
        #expect(merged.handshake.count == 5)
        #expect(merged.handshake.max == 20)
        #expect(merged.handshake.p50 == 3)
        #expect(merged.serverKiBPerConnection == 10)
        #expect(merged.benchCPU.percentOfOneCore == 40)
        #expect(merged.errors == ["refused": 1])
        #expect(merged.processes == 2)
        #expect(merged.handshakeSamplesMicros == nil)
    }
}
