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
