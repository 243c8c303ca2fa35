import Foundation
import NIOCore

/// Measures the server process when its pid is known (same machine).
public struct ServerProbe: Sendable {
    public var pid: Int32?
    public init(pid: Int32?) { self.pid = pid }
    var rssKiB: Int? { pid.flatMap(ServerProcess.rssKiB(pid:)) }
    var cpuSeconds: Double? { pid.flatMap(ServerProcess.cpuSeconds(pid:)) }
}

/// CPU of the bench itself and (when known) of the server over one measured phase.
struct CPUWindow {
    let clock = ContinuousClock()
    let start: ContinuousClock.Instant
    let ownStart = ProcessCPU.now()
    let serverStart: Double?
    let probe: ServerProbe

    init(probe: ServerProbe) {
        self.probe = probe
        start = clock.now
        serverStart = probe.cpuSeconds
    }

    var wall: Double { (clock.now - start) / .seconds(1) }

    func finish() -> (bench: CPUShare, server: CPUShare?) {
        let wall = self.wall
        let bench = CPUShare(cpuSeconds: ProcessCPU.now().seconds - ownStart.seconds, wallSeconds: wall)
        let server = zip2(serverStart, probe.cpuSeconds).map { CPUShare(cpuSeconds: $1 - $0, wallSeconds: wall) }
        return (bench, server)
    }
}

func zip2<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}

func rounded(_ value: Double, _ places: Double = 1) -> Double {
    let scale = pow(10, places)
    return (value * scale).rounded() / scale
}

// MARK: idle

public struct IdleResult: Codable, Sendable {
    public var scenario = "idle"
    public var clients: Int
    public var connected: Int
    public var failed: Int
    public var dropped: Int
    public var rampSeconds: Double
    public var connectionsPerSecond: Double
    public var handshake: LatencySummary
    public var serverRSSBeforeKiB: Int?
    public var serverRSSAfterKiB: Int?
    public var serverKiBPerConnection: Double?
    /// The load generator's own RSS growth per connection: how lean its clients are.
    public var benchKiBPerConnection: Double?
    public var benchCPU: CPUShare
    public var serverCPU: CPUShare?
    public var errors: [String: Int]
    /// Raw handshake samples, only in a worker's partial result (a parent merging processes needs them).
    public var handshakeSamplesMicros: [UInt32]?
    /// Bench processes the clients were spread over.
    public var processes: Int?
}

public enum BenchScenarios {
    /// `clients` connections at `rate` per second (0 = as fast as `concurrency` allows), held for `hold`.
    /// `afterRamp` gets a partial result (no RSS, raw samples included) as soon as every client is in.
    public static func idle(target: BenchTarget, clients: Int, rate: Double, hold: Duration = .seconds(2),
                            probe: ServerProbe = ServerProbe(pid: nil),
                            afterRamp: @Sendable (IdleResult) throws -> Void = { _ in }) async throws -> IdleResult {
        let pool = try BenchPool(target: target)
        let before = probe.rssKiB
        let benchBefore = ServerProcess.rssKiB(pid: getpid())
        let window = CPUWindow(probe: probe)
        await pool.ramp(from: 0, to: clients, rate: rate)
        let rampSeconds = window.wall
        let (benchCPU, serverCPU) = window.finish()
        let samples = try await pool.handshakeMicros()
        try afterRamp(IdleResult(
            clients: clients, connected: pool.connected, failed: pool.failed, dropped: 0, rampSeconds: rampSeconds,
            connectionsPerSecond: 0, handshake: LatencySummary(micros: samples), benchCPU: benchCPU, errors: pool.errors,
            handshakeSamplesMicros: samples))
        try? await Task.sleep(for: hold)   // let the server settle (timers, allocator) before reading RSS
        let after = probe.rssKiB
        let benchAfter = ServerProcess.rssKiB(pid: getpid())
        let handshakes = samples
        let connected = pool.connected
        let result = IdleResult(
            clients: clients, connected: connected, failed: pool.failed,
            dropped: pool.run.dropped.load(ordering: .relaxed),
            rampSeconds: rounded(rampSeconds, 3), connectionsPerSecond: rounded(Double(connected) / rampSeconds),
            handshake: LatencySummary(micros: handshakes),
            serverRSSBeforeKiB: before, serverRSSAfterKiB: after,
            serverKiBPerConnection: zip2(before, after).map { connected > 0 ? rounded(Double($1 - $0) / Double(connected), 2) : 0 },
            benchKiBPerConnection: zip2(benchBefore, benchAfter).map { connected > 0 ? rounded(Double($1 - $0) / Double(connected), 2) : 0 },
            benchCPU: benchCPU, serverCPU: serverCPU, errors: pool.errors)
        await pool.shutdown()
        return result
    }

    /// Merges the partial results of bench processes that ramped at the same time.
    public static func merge(_ parts: [IdleResult], rampSeconds: Double, hold: (before: Int?, after: Int?),
                             serverCPU: CPUShare?) -> IdleResult {
        let connected = parts.reduce(0) { $0 + $1.connected }
        let cpu = parts.reduce(0.0) { $0 + $1.benchCPU.cpuSeconds }
        var errors: [String: Int] = [:]
        for part in parts { errors.merge(part.errors, uniquingKeysWith: +) }
        return IdleResult(
            clients: parts.reduce(0) { $0 + $1.clients }, connected: connected, failed: parts.reduce(0) { $0 + $1.failed },
            dropped: parts.reduce(0) { $0 + $1.dropped }, rampSeconds: rounded(rampSeconds, 3),
            connectionsPerSecond: rounded(Double(connected) / rampSeconds),
            handshake: LatencySummary(micros: parts.flatMap { $0.handshakeSamplesMicros ?? [] }),
            serverRSSBeforeKiB: hold.before, serverRSSAfterKiB: hold.after,
            serverKiBPerConnection: zip2(hold.before, hold.after).map { connected > 0 ? rounded(Double($1 - $0) / Double(connected), 2) : 0 },
            benchKiBPerConnection: nil,
            benchCPU: CPUShare(cpuSeconds: cpu, wallSeconds: parts.map(\.benchCPU.wallSeconds).max() ?? 0),
            serverCPU: serverCPU, errors: errors, processes: parts.count)
    }

    // MARK: storm

    /// All `clients` connections started at once (a reconnect storm).
    public static func storm(target: BenchTarget, clients: Int, probe: ServerProbe = ServerProbe(pid: nil)) async throws -> StormResult {
        var unbounded = target
        unbounded.concurrency = 0
        let pool = try BenchPool(target: unbounded)
        let window = CPUWindow(probe: probe)
        await pool.ramp(from: 0, to: clients, rate: 0)
        let seconds = window.wall
        let (benchCPU, serverCPU) = window.finish()
        let connected = pool.connected
        let result = StormResult(
            clients: clients, connected: connected, failed: pool.failed,
            secondsUntilAllIn: rounded(seconds, 3), handshakesPerSecond: rounded(Double(connected) / seconds),
            handshake: LatencySummary(micros: try await pool.handshakeMicros()),
            benchCPU: benchCPU, serverCPU: serverCPU, errors: pool.errors)
        await pool.shutdown()
        return result
    }
}

public struct StormResult: Codable, Sendable {
    public var scenario = "storm"
    public var clients: Int
    public var connected: Int
    public var failed: Int
    public var secondsUntilAllIn: Double
    public var handshakesPerSecond: Double
    public var handshake: LatencySummary
    public var benchCPU: CPUShare
    public var serverCPU: CPUShare?
    public var errors: [String: Int]
}

// MARK: broadcast

public struct BroadcastStep: Codable, Sendable {
    public var clients: Int
    public var broadcasts: Int
    public var roundTrip: LatencySummary
    /// Per broadcast: from the sender's stamp until the last client read it.
    public var toLastClient: LatencySummary
    /// Expected deliveries (broadcasts × clients) that never arrived, and extra ones.
    public var expectedDeliveries: Int
    public var lost: Int
    public var duplicated: Int
    /// Clients whose count was right but whose id checksum was not (a loss hidden by a duplicate).
    public var mismatchedClients: Int
    public var deliveriesPerSecond: Double
    public var benchCPU: CPUShare
    public var serverCPU: CPUShare?
    public var serverRSSKiB: Int?
}

public struct BroadcastResult: Codable, Sendable {
    public var scenario = "broadcast"
    public var step: Int
    public var maxClients: Int
    public var inFlight: Int
    public var padding: Int
    public var p95LimitMs: Double
    public var steps: [BroadcastStep]
    /// Why the run ended: "max clients", "p95 limit", or a connection problem.
    public var stoppedBecause: String
    public var failed: Int
    public var dropped: Int
    public var errors: [String: Int]
}

extension BenchScenarios {
    /// The websocket-shootout method: step the client count up; per step, `broadcasts` broadcasts with
    /// `inFlight` outstanding from random clients; stop when p95 round trip passes `p95Limit`.
    public static func broadcast(target: BenchTarget, step: Int, maxClients: Int, broadcasts: Int, inFlight: Int = 4,
                                 padding: Int = 200, p95Limit: Double = 250, rampRate: Double = 0,
                                 probe: ServerProbe = ServerProbe(pid: nil)) async throws -> BroadcastResult {
        let pool = try BenchPool(target: target)
        var steps: [BroadcastStep] = []
        var stopped = "max clients"
        var clients = 0
        while clients < maxClients {
            let next = min(clients + step, maxClients)
            await pool.ramp(from: clients, to: next, rate: rampRate)
            clients = next
            guard pool.connected == clients else {
                stopped = "only \(pool.connected) of \(clients) connected"
                break
            }
            let result = try await broadcastStep(pool: pool, clients: clients, broadcasts: broadcasts,
                                                 inFlight: inFlight, padding: padding, probe: probe)
            steps.append(result)
            if result.roundTrip.p95 > p95Limit {
                stopped = "p95 limit"
                break
            }
        }
        let result = BroadcastResult(
            step: step, maxClients: maxClients, inFlight: inFlight, padding: padding, p95LimitMs: p95Limit,
            steps: steps, stoppedBecause: stopped, failed: pool.failed,
            dropped: pool.run.dropped.load(ordering: .relaxed), errors: pool.errors)
        await pool.shutdown()
        return result
    }

    private static func broadcastStep(pool: BenchPool, clients: Int, broadcasts: Int, inFlight: Int, padding: Int,
                                      probe: ServerProbe) async throws -> BroadcastStep {
        let driver = BroadcastDriver(total: broadcasts, loops: pool.loops, padding: padding)
        _ = try await pool.onEachLoop { loop in
            loop.resetPhase()
            loop.broadcastDriver = driver
            loop.broadcastLastMicros = Array(repeating: 0, count: broadcasts + 1)
        }
        let window = CPUWindow(probe: probe)
        driver.start(inFlight: inFlight)
        let clock = ContinuousClock()
        // Acks first, then the deliveries still on their way; bounded so a lossy server ends the step.
        var deadline = clock.now + .seconds(60)
        while driver.acknowledged < broadcasts, clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let sent = broadcasts - driver.unsent
        let expected = sent * clients
        deadline = clock.now + .seconds(5)
        while try await pool.deliveries() < expected, clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let seconds = window.wall
        let (benchCPU, serverCPU) = window.finish()
        let expectedSum = UInt64(broadcasts) * UInt64(broadcasts + 1) / 2 - driver.unsentIDSum
        let tallies = try await pool.onEachLoop { loop -> (rtt: [UInt32], lost: Int, dup: Int, mismatched: Int, deliveries: Int, last: [UInt32]) in
            var lost = 0, dup = 0, mismatched = 0
            for client in loop.clients where client.isJoined || client.received > 0 {
                let got = Int(client.received)
                if got < sent { lost += sent - got } else if got > sent { dup += got - sent }
                else if client.idSum != expectedSum { mismatched += 1 }
            }
            loop.broadcastDriver = nil
            return (loop.rttMicros, lost, dup, mismatched, loop.deliveries, loop.broadcastLastMicros)
        }
        let delivered = tallies.reduce(0) { $0 + $1.deliveries }
        // Ids 1...broadcasts; an id nobody received (unsent) has no latency.
        let toLast = (1...max(broadcasts, 1)).compactMap { id -> UInt32? in
            let latest = tallies.map { id < $0.last.count ? $0.last[id] : 0 }.max() ?? 0
            return latest > 0 ? latest : nil
        }
        return BroadcastStep(
            clients: clients, broadcasts: sent, roundTrip: LatencySummary(micros: tallies.flatMap(\.rtt)),
            toLastClient: LatencySummary(micros: toLast),
            expectedDeliveries: expected,
            lost: tallies.reduce(0) { $0 + $1.lost }, duplicated: tallies.reduce(0) { $0 + $1.dup },
            mismatchedClients: tallies.reduce(0) { $0 + $1.mismatched },
            deliveriesPerSecond: rounded(Double(delivered) / seconds),
            benchCPU: benchCPU, serverCPU: serverCPU, serverRSSKiB: probe.rssKiB)
    }
}

// MARK: fanout

public struct FanoutResult: Codable, Sendable {
    public var scenario = "fanout"
    public var members: Int
    public var events: Int
    /// Events per second the publisher offered (0 = as fast as it could write).
    public var rate: Double
    public var expectedDeliveries: Int
    public var deliveries: Int
    /// Deliveries that had not arrived when the drain deadline passed (lost, or only late: see `drainTimedOut`).
    public var lost: Int
    public var duplicated: Int
    public var seconds: Double
    public var deliveriesPerSecond: Double
    /// Per event: from the publisher's send stamp until the last member read it.
    public var latencyToLastMember: LatencySummary
    public var benchCPU: CPUShare
    public var serverCPU: CPUShare?
    /// Whether the run ended at the drain deadline with deliveries still missing.
    public var drainTimedOut: Bool
    public var failed: Int
    /// Members the server closed during the run.
    public var dropped: Int
    public var errors: [String: Int]
    /// With several servers: where the members and the publisher were connected (equal = one node).
    public var memberServer: String?
    public var publisherServer: String?
}

extension BenchScenarios {
    /// `members` clients in the bench server's room; one more client publishes `events` at `rate` per second,
    /// each of which the server emits to the room.
    /// Waits up to `drain` after the last send for the deliveries still on their way.
    /// With several servers in `target` (cluster nodes), the members connect to server `memberNode` and the
    /// publisher to server `publisherNode`: different nodes measure the latency across the cluster bus.
    public static func fanout(target: BenchTarget, members: Int, events: Int, rate: Double, drain: Duration = .seconds(30),
                              probe: ServerProbe = ServerProbe(pid: nil),
                              memberNode: Int = 0, publisherNode: Int = 0) async throws -> FanoutResult {
        let pool = try BenchPool(target: target)
        guard memberNode < pool.serverCount, publisherNode < pool.serverCount else {
            await pool.shutdown()
            throw BenchError("member node \(memberNode) or publisher node \(publisherNode) is not among the \(pool.serverCount) servers")
        }
        await pool.ramp(from: 0, to: members, rate: 0, member: true, server: memberNode)
        await pool.ramp(from: members, to: members + 1, rate: 0, member: false, server: publisherNode)
        guard pool.connected == members + 1 else {
            let errors = pool.errors
            await pool.shutdown()
            throw BenchError("only \(pool.connected) of \(members + 1) connected: \(errors)")
        }
        _ = try await pool.onEachLoop { loop in
            loop.resetPhase()
            loop.fanoutCount = Array(repeating: 0, count: events)
            loop.fanoutLastMicros = Array(repeating: 0, count: events)
        }
        // The publisher is the only non-member; find its loop.
        let publisherLoops = try await pool.onEachLoop { loop in loop.publisher != nil }
        guard let index = publisherLoops.firstIndex(of: true) else { throw BenchError("publisher not found") }
        let publisherLoop = pool.loops[index]

        let window = CPUWindow(probe: probe)
        let firstSend = nowMicros()
        let clock = ContinuousClock()
        try await publish(on: publisherLoop, events: events, rate: rate)
        let expected = events * members
        let deadline = clock.now + drain
        var drained = false
        while clock.now < deadline {
            if try await pool.deliveries() >= expected { drained = true; break }
            try await Task.sleep(for: .milliseconds(5))
        }
        let (benchCPU, serverCPU) = window.finish()

        let perLoop = try await pool.onEachLoop { ($0.fanoutCount, $0.fanoutLastMicros, $0.deliveries, $0.lastDeliveryMicros) }
        var lost = 0, duplicated = 0
        var latencies: [UInt32] = []
        for seq in 0..<events {
            let count = perLoop.reduce(0) { $0 + Int($1.0[seq]) }
            if count < members { lost += members - count } else { duplicated += count - members }
            if count > 0 { latencies.append(perLoop.map { $0.1[seq] }.max() ?? 0) }
        }
        let delivered = perLoop.reduce(0) { $0 + $1.2 }
        let last = perLoop.map(\.3).max() ?? firstSend
        let seconds = Double(max(last, firstSend + 1) - firstSend) / 1_000_000
        let result = FanoutResult(
            members: members, events: events, rate: rate, expectedDeliveries: expected, deliveries: delivered,
            lost: lost, duplicated: duplicated, seconds: rounded(seconds, 3),
            deliveriesPerSecond: rounded(Double(delivered) / seconds),
            latencyToLastMember: LatencySummary(micros: latencies),
            benchCPU: benchCPU, serverCPU: serverCPU, drainTimedOut: !drained, failed: pool.failed,
            dropped: pool.run.dropped.load(ordering: .relaxed), errors: pool.errors,
            memberServer: pool.serverCount > 1 ? target.endpoints[memberNode].description : nil,
            publisherServer: pool.serverCount > 1 ? target.endpoints[publisherNode].description : nil)
        await pool.shutdown()
        return result
    }

    /// Paces the publisher on its own loop: every millisecond, write the events now due and flush once.
    private static func publish(on loop: BenchLoop, events: Int, rate: Double) async throws {
        let done = loop.eventLoop.makePromise(of: Void.self)
        let start = nowMicros()
        loop.eventLoop.execute {
            let counter = NIOLoopBoundBox(0, eventLoop: loop.eventLoop)
            loop.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { task in
                guard let publisher = loop.publisher, publisher.isJoined else {
                    task.cancel()
                    return done.fail(BenchError("publisher closed"))
                }
                let due = rate > 0 ? min(events, Int(Double(nowMicros() - start) / 1_000_000 * rate) + 1) : events
                while counter.value < due {
                    publisher.sendFanout(seq: counter.value)
                    counter.value += 1
                    // Unpaced runs still flush in batches so the socket buffer drains while we write.
                    if counter.value % 64 == 0 { publisher.flush() }
                }
                publisher.flush()
                if counter.value == events {
                    task.cancel()
                    done.succeed()
                }
            }
        }
        try await done.futureResult.get()
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
