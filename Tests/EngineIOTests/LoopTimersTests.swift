import EngineIO
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The per-loop timer queue behind heartbeats, connect timeouts and request head timeouts, on an embedded loop's
/// virtual clock.
@Suite struct LoopTimersTests {
    final class Target: LoopTimerTarget {
        var loopTimer = LoopTimer()
        var fired: [UInt64] = []
        let loop: EmbeddedEventLoop
        var onFire: ((Target) -> Void)?

        init(loop: EmbeddedEventLoop) { self.loop = loop }

        func loopTimerFired() {
            fired.append(loop.now.uptimeNanoseconds)
            onFire?(self)
        }
    }

    @Test func firesAtItsDeadlineAndNotBefore() {
        let loop = EmbeddedEventLoop()
        let timers = LoopTimers(eventLoop: loop)
        let target = Target(loop: loop)
        let start = loop.now.uptimeNanoseconds
        timers.arm(target, after: .milliseconds(100))
        #expect(timers.armedCount == 1)
        loop.advanceTime(by: .milliseconds(99))
        #expect(target.fired.isEmpty)
        loop.advanceTime(by: .milliseconds(1))
        #expect(target.fired == [start + 100_000_000])
        #expect(!target.loopTimer.isArmed)
        #expect(timers.armedCount == 0 && timers.entryCount == 0)
    }

    @Test func cancelledTimerNeverFiresAndItsEntryGoesWhenDue() {
        let loop = EmbeddedEventLoop()
        let timers = LoopTimers(eventLoop: loop)
        let target = Target(loop: loop)
        timers.arm(target, after: .milliseconds(100))
        timers.cancel(target)
        #expect(timers.armedCount == 0)
        #expect(timers.entryCount == 1)
        loop.advanceTime(by: .seconds(1))
        #expect(target.fired.isEmpty)
        #expect(timers.entryCount == 0)
        timers.cancel(target)
        #expect(timers.armedCount == 0)
    }

    @Test func reArmingReplacesTheEarlierDeadline() {
        let loop = EmbeddedEventLoop()
        let timers = LoopTimers(eventLoop: loop)
        let target = Target(loop: loop)
        let start = loop.now.uptimeNanoseconds
        timers.arm(target, after: .milliseconds(50))
        timers.arm(target, after: .milliseconds(200))
        #expect(timers.armedCount == 1)
        loop.advanceTime(by: .seconds(1))
        #expect(target.fired == [start + 200_000_000])
    }

    @Test func targetsWithDifferentDelaysFireInDeadlineOrder() {
        let loop = EmbeddedEventLoop()
        let timers = LoopTimers(eventLoop: loop)
        let start = loop.now.uptimeNanoseconds
        let long = Target(loop: loop), short = Target(loop: loop), later = Target(loop: loop)
        timers.arm(long, after: .milliseconds(300))
        timers.arm(short, after: .milliseconds(100))
        loop.advanceTime(by: .milliseconds(50))
        timers.arm(later, after: .milliseconds(100))
        loop.advanceTime(by: .milliseconds(60))
        #expect(short.fired == [start + 100_000_000])
        #expect(later.fired.isEmpty)
        loop.advanceTime(by: .seconds(1))
        #expect(later.fired == [start + 150_000_000])
        #expect(long.fired == [start + 300_000_000])
    }

    /// The heartbeat's pattern: the handler arms the next timer.
    @Test func handlerMayArmAgain() {
        let loop = EmbeddedEventLoop()
        let timers = LoopTimers(eventLoop: loop)
        let target = Target(loop: loop)
        let start = loop.now.uptimeNanoseconds
        target.onFire = { target in if target.fired.count < 3 { timers.arm(target, after: .milliseconds(100)) } }
        timers.arm(target, after: .milliseconds(100))
        loop.advanceTime(by: .seconds(1))
        let expected: [UInt64] = [100_000_000, 200_000_000, 300_000_000].map { start + $0 }
        #expect(target.fired == expected)
        #expect(timers.entryCount == 0)
    }

    /// Cancelled entries do not pile up for a whole timeout: past 1 024 stale ones the queues are compacted.
    @Test func staleEntriesAreCompacted() {
        let loop = EmbeddedEventLoop()
        let timers = LoopTimers(eventLoop: loop)
        let kept = (0..<10).map { _ in Target(loop: loop) }
        for target in kept { timers.arm(target, after: .seconds(10)) }
        for _ in 0..<5000 {
            let target = Target(loop: loop)
            timers.arm(target, after: .seconds(10))
            timers.cancel(target)
        }
        #expect(timers.entryCount <= 2 * 10 + 1025)
        #expect(timers.armedCount == 10)
        loop.advanceTime(by: .seconds(10))
        #expect(kept.allSatisfy { $0.fired.count == 1 })
        #expect(timers.entryCount == 0)
    }
}

/// The request head timer of `HTTPConnectionGuard` on its loop's timers: fires, and is cancelled by an upgrade
/// and by the connection's close.
@Suite struct HTTPConnectionGuardTimerTests {
    static func connectedChannel(limits: HTTPConnectionLimits, timers: HTTPConnectionTimers) throws -> (EmbeddedChannel, HTTPConnectionGuard, LoopTimers) {
        let channel = EmbeddedChannel()
        let connectionGuard = HTTPConnectionGuard(limits: limits, timers: timers)
        try channel.pipeline.syncOperations.addHandler(connectionGuard)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, connectionGuard, timers.byLoop.timers(for: channel.embeddedEventLoop))
    }

    @Test func silentConnectionIsClosedAtTheHeadTimeout() throws {
        let timers = HTTPConnectionTimers()
        let (channel, _, loopTimers) = try Self.connectedChannel(limits: HTTPConnectionLimits(requestHeadTimeout: .milliseconds(300)), timers: timers)
        #expect(loopTimers.armedCount == 1)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(299))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive)
        #expect(loopTimers.armedCount == 0)
    }

    @Test func halfHeadGets408AtTheHeadTimeout() throws {
        let timers = HTTPConnectionTimers()
        let (channel, _, _) = try Self.connectedChannel(limits: HTTPConnectionLimits(requestHeadTimeout: .milliseconds(300)), timers: timers)
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n"))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(300))
        let response = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: response).hasPrefix("HTTP/1.1 408 "))
        #expect(!channel.isActive)
    }

    @Test func upgradeCancelsTheHeadTimer() throws {
        let timers = HTTPConnectionTimers()
        let (channel, connectionGuard, loopTimers) = try Self.connectedChannel(limits: HTTPConnectionLimits(requestHeadTimeout: .milliseconds(300)), timers: timers)
        connectionGuard.connectionUpgraded()
        #expect(loopTimers.armedCount == 0)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(channel.isActive)
        #expect(loopTimers.entryCount == 0)
        _ = try channel.finish()
    }

    @Test func closeCancelsTheHeadTimer() throws {
        let timers = HTTPConnectionTimers()
        let (channel, _, loopTimers) = try Self.connectedChannel(limits: HTTPConnectionLimits(requestHeadTimeout: .milliseconds(300)), timers: timers)
        try channel.close().wait()
        #expect(loopTimers.armedCount == 0)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(loopTimers.entryCount == 0)
    }
}
