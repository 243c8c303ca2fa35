import Foundation
import NIOCore

// MARK: cluster

/// The bench's clock (CLOCK_MONOTONIC, shared by every process on the machine), in microseconds.
public func benchClockMicros() -> UInt64 { nowMicros() }

/// One bench process's share of a cluster run: its clients' counts and, per node and broadcast id, the latest
/// arrival. Worker processes write it as JSON; the parent merges the parts into a `ClusterResult`.
public struct ClusterPart: Codable, Sendable {
    public var clients: Int
    public var connected: Int
    public var failed: Int
    public var dropped: Int
    public var rampSeconds: Double
    /// Joined clients per node (index = position in the server list).
    public var connectedPerNode: [Int]
    /// Broadcasts received by the clients of each node.
    public var deliveriesPerNode: [Int]
    public var deliveries: Int
    /// Expected deliveries that did not arrive, extra ones, and clients whose count was right but id sum wrong.
    public var lost: Int
    public var duplicated: Int
    public var mismatchedClients: Int
    /// `node * (broadcasts + 1) + id`: microseconds from the send stamp until the last of this part's
    /// clients on that node read broadcast `id` (0 = none did).
    public var lastMicros: [UInt32]
    public var lastDeliveryMicros: UInt64
    public var handshakeMicros: [UInt32]
    public var benchCPU: CPUShare
    public var drainTimedOut: Bool
    public var errors: [String: Int]
}

public struct ClusterNode: Codable, Sendable {
    public var server: String
    public var clients: Int
    public var deliveries: Int
    public var expectedDeliveries: Int
    /// Per broadcast: from the send stamp until the last client of this node read it.
    public var toLastClient: LatencySummary
    public var serverCPU: CPUShare?
    public var serverRSSKiB: Int?
}

public struct ClusterResult: Codable, Sendable {
    public var scenario = "cluster"
    public var nodes: Int
    public var clients: Int
    public var connected: Int
    public var failed: Int
    /// Clients a server closed after they had joined.
    public var dropped: Int
    public var processes: Int
    public var rampSeconds: Double
    public var handshake: LatencySummary
    public var broadcasts: Int
    /// Broadcasts per second offered (0 = as fast as the publisher writes).
    public var rate: Double
    /// Whether the publishing node rotated over the nodes (else every broadcast came from the first node).
    public var rotate: Bool
    public var padding: Int
    /// Per broadcast: from the send stamp until the last client on every node read it.
    public var toLastClient: LatencySummary
    /// Per broadcast: send → the publishing node's ack (it has delivered locally and published to Redis).
    public var roundTrip: LatencySummary
    public var expectedDeliveries: Int
    public var deliveries: Int
    public var lost: Int
    public var duplicated: Int
    public var mismatchedClients: Int
    /// From the first send until the last delivery.
    public var seconds: Double
    public var deliveriesPerSecond: Double
    public var perNode: [ClusterNode]
    /// The bench processes together (workers and publisher), over the broadcast phase.
    public var benchCPU: CPUShare
    public var drainTimedOut: Bool
    public var errors: [String: Int]
}

/// The receiving clients of one bench process: connection `i` of `clients` goes to server `i % servers`.
public final class ClusterReceivers: Sendable {
    let pool: BenchPool
    let clients: Range<Int>

    public init(target: BenchTarget, clients: Range<Int>) throws {
        pool = try BenchPool(target: target)
        self.clients = clients
    }

    /// Connects every client (`rate` per second, 0 = as fast as `concurrency` allows); returns the seconds it took.
    public func ramp(rate: Double, timeout: Duration = .seconds(300)) async -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        await pool.ramp(from: clients.lowerBound, to: clients.upperBound, rate: rate, timeout: timeout)
        return (clock.now - start) / .seconds(1)
    }

    public var connected: Int { pool.connected }
    public var failed: Int { pool.failed }

    /// Sizes the per-loop tallies for `broadcasts` ids (1…broadcasts) and clears the counters.
    public func prepare(broadcasts: Int) async throws {
        let nodes = pool.serverCount
        _ = try await pool.onEachLoop { loop in
            loop.resetPhase()
            loop.broadcastStride = broadcasts + 1
            loop.broadcastLastMicros = Array(repeating: 0, count: nodes * (broadcasts + 1))
            loop.nodeDeliveries = Array(repeating: 0, count: nodes)
        }
    }

    /// Waits until every joined client has `broadcasts` deliveries, or until `deadline`; returns whether all came.
    public func waitForDeliveries(broadcasts: Int, deadline: ContinuousClock.Instant) async throws -> Bool {
        let expected = broadcasts * pool.connected
        while ContinuousClock.now < deadline {
            if try await pool.deliveries() >= expected { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return try await pool.deliveries() >= expected
    }

    public func tally(broadcasts: Int, rampSeconds: Double, benchCPU: CPUShare, drainTimedOut: Bool) async throws -> ClusterPart {
        let nodes = pool.serverCount
        let expectedSum = UInt64(broadcasts) * UInt64(broadcasts + 1) / 2
        let perLoop = try await pool.onEachLoop { loop in
            var lost = 0, duplicated = 0, mismatched = 0
            var joined = Array(repeating: 0, count: nodes)
            for client in loop.clients where client.isJoined || client.received > 0 {
                if client.isJoined { joined[Int(client.server)] += 1 }
                let got = Int(client.received)
                if got < broadcasts { lost += broadcasts - got } else if got > broadcasts { duplicated += got - broadcasts }
                else if client.idSum != expectedSum { mismatched += 1 }
            }
            return (lost, duplicated, mismatched, joined, loop.nodeDeliveries, loop.broadcastLastMicros,
                    loop.deliveries, loop.lastDeliveryMicros, loop.handshakeMicros)
        }
        var last = Array(repeating: UInt32(0), count: nodes * (broadcasts + 1))
        for loop in perLoop {
            for index in last.indices where index < loop.5.count { last[index] = max(last[index], loop.5[index]) }
        }
        func sum(_ arrays: [[Int]]) -> [Int] {
            (0..<nodes).map { node in arrays.reduce(0) { $0 + (node < $1.count ? $1[node] : 0) } }
        }
        return ClusterPart(
            clients: clients.count, connected: pool.connected, failed: pool.failed,
            dropped: pool.run.dropped.load(ordering: .relaxed), rampSeconds: rampSeconds,
            connectedPerNode: sum(perLoop.map(\.3)), deliveriesPerNode: sum(perLoop.map(\.4)),
            deliveries: perLoop.reduce(0) { $0 + $1.6 },
            lost: perLoop.reduce(0) { $0 + $1.0 }, duplicated: perLoop.reduce(0) { $0 + $1.1 },
            mismatchedClients: perLoop.reduce(0) { $0 + $1.2 }, lastMicros: last,
            lastDeliveryMicros: perLoop.map(\.7).max() ?? 0, handshakeMicros: perLoop.flatMap(\.8),
            benchCPU: benchCPU, drainTimedOut: drainTimedOut, errors: pool.errors)
    }

    public func shutdown() async { await pool.shutdown() }
}

/// One publishing client per node, on one event loop of the process that runs the scenario.
public final class ClusterPublishers: Sendable {
    let pool: BenchPool

    public init(target: BenchTarget) async throws {
        var single = target
        single.threads = 1
        single.sourceAddresses = 1
        single.firstSourceAddress = 1
        pool = try BenchPool(target: single)
        let nodes = pool.serverCount
        for node in 0..<nodes { pool.connect(index: node, server: node) }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while pool.connected + pool.failed < nodes, clock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        guard pool.connected == nodes else {
            let errors = pool.errors
            await pool.shutdown()
            throw BenchError("only \(pool.connected) of \(nodes) publishers connected: \(errors)")
        }
    }

    /// Sends broadcasts 1…`broadcasts` at `rate` per second (0 = all at once), from the first node's publisher
    /// or, with `rotate`, from node `(id - 1) % nodes`. Returns once the last one is written.
    public func publish(broadcasts: Int, rate: Double, rotate: Bool, padding: Int) async throws {
        let loop = pool.loops[0]
        let nodes = pool.serverCount
        let tail = ",\"p\":\"" + String(repeating: "x", count: padding) + "\"}]"
        let done = loop.eventLoop.makePromise(of: Void.self)
        let start = nowMicros()
        loop.eventLoop.execute {
            var found = [BenchClient?](repeating: nil, count: nodes)
            for client in loop.clients where client.isJoined && found[Int(client.server)] == nil {
                found[Int(client.server)] = client
            }
            let publishers = NIOLoopBound(found, eventLoop: loop.eventLoop)
            let next = NIOLoopBoundBox(1, eventLoop: loop.eventLoop)
            loop.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { task in
                let due = rate > 0 ? min(broadcasts, Int(Double(nowMicros() - start) / 1_000_000 * rate) + 1) : broadcasts
                while next.value <= due {
                    let node = rotate ? (next.value - 1) % nodes : 0
                    guard let publisher = publishers.value[node], publisher.isJoined else {
                        task.cancel()
                        return done.fail(BenchError("the publisher on node \(node) was closed"))
                    }
                    publisher.sendBroadcast(id: next.value, tail: tail)
                    next.value += 1
                }
                if next.value > broadcasts {
                    task.cancel()
                    done.succeed()
                }
            }
        }
        try await done.futureResult.get()
    }

    /// Round trips (send → the publishing node's ack) recorded so far.
    public func roundTrips() async throws -> [UInt32] {
        try await pool.onEachLoop { $0.rttMicros }.flatMap { $0 }
    }

    public func shutdown() async { await pool.shutdown() }
}

/// CPU and RSS of every node's process over the broadcast phase.
public struct ClusterServerWindow: Sendable {
    let probes: [ServerProbe]
    let start: [Double?]
    let clock = ContinuousClock()
    let started: ContinuousClock.Instant

    public init(probes: [ServerProbe]) {
        self.probes = probes
        start = probes.map(\.cpuSeconds)
        started = clock.now
    }

    public func finish() -> [(cpu: CPUShare?, rssKiB: Int?)] {
        let wall = (clock.now - started) / .seconds(1)
        return probes.indices.map { index in
            (zip2(start[index], probes[index].cpuSeconds).map { CPUShare(cpuSeconds: $1 - $0, wallSeconds: wall) }, probes[index].rssKiB)
        }
    }
}

extension BenchScenarios {
    /// Merges the parts of the processes that held the clients. `firstSendMicros` is the publisher's start;
    /// `publisherCPUSeconds` the CPU of the process that published (when it held no receivers).
    public static func mergeCluster(
        _ parts: [ClusterPart], servers: [BenchEndpoint], broadcasts: Int, rate: Double, rotate: Bool, padding: Int,
        rampSeconds: Double, firstSendMicros: UInt64, roundTrips: [UInt32], publisherCPU: CPUShare?,
        serverStats: [(cpu: CPUShare?, rssKiB: Int?)]
    ) -> ClusterResult {
        let nodes = servers.count
        let stride = broadcasts + 1
        func perNode(_ values: (ClusterPart) -> [Int]) -> [Int] {
            (0..<nodes).map { node in parts.reduce(0) { $0 + (node < values($1).count ? values($1)[node] : 0) } }
        }
        let connectedPerNode = perNode(\.connectedPerNode)
        let deliveriesPerNode = perNode(\.deliveriesPerNode)
        // Latest arrival per node and id over every part.
        var last = Array(repeating: UInt32(0), count: nodes * stride)
        for part in parts {
            for index in last.indices where index < part.lastMicros.count { last[index] = max(last[index], part.lastMicros[index]) }
        }
        let nodeSummaries = (0..<nodes).map { node in
            LatencySummary(micros: (1..<max(stride, 1)).compactMap { id in last[node * stride + id] > 0 ? last[node * stride + id] : nil })
        }
        let overall = (1..<max(stride, 1)).compactMap { id -> UInt32? in
            let latest = (0..<nodes).map { last[$0 * stride + id] }.max() ?? 0
            return latest > 0 ? latest : nil
        }
        let connected = parts.reduce(0) { $0 + $1.connected }
        let deliveries = parts.reduce(0) { $0 + $1.deliveries }
        let lastDelivery = parts.map(\.lastDeliveryMicros).max() ?? firstSendMicros
        let seconds = Double(max(lastDelivery, firstSendMicros + 1) - firstSendMicros) / 1_000_000
        var errors: [String: Int] = [:]
        for part in parts { errors.merge(part.errors, uniquingKeysWith: +) }
        let cpu = parts.reduce(0.0) { $0 + $1.benchCPU.cpuSeconds } + (publisherCPU?.cpuSeconds ?? 0)
        let wall = (parts.map(\.benchCPU.wallSeconds) + [publisherCPU?.wallSeconds ?? 0]).max() ?? 0
        return ClusterResult(
            nodes: nodes, clients: parts.reduce(0) { $0 + $1.clients }, connected: connected,
            failed: parts.reduce(0) { $0 + $1.failed }, dropped: parts.reduce(0) { $0 + $1.dropped },
            processes: parts.count, rampSeconds: rounded(rampSeconds, 3),
            handshake: LatencySummary(micros: parts.flatMap(\.handshakeMicros)),
            broadcasts: broadcasts, rate: rate, rotate: rotate, padding: padding,
            toLastClient: LatencySummary(micros: overall), roundTrip: LatencySummary(micros: roundTrips),
            expectedDeliveries: broadcasts * connected, deliveries: deliveries,
            lost: parts.reduce(0) { $0 + $1.lost }, duplicated: parts.reduce(0) { $0 + $1.duplicated },
            mismatchedClients: parts.reduce(0) { $0 + $1.mismatchedClients },
            seconds: rounded(seconds, 3), deliveriesPerSecond: rounded(Double(deliveries) / seconds),
            perNode: (0..<nodes).map { node in
                ClusterNode(
                    server: servers[node].description, clients: connectedPerNode[node], deliveries: deliveriesPerNode[node],
                    expectedDeliveries: connectedPerNode[node] * broadcasts, toLastClient: nodeSummaries[node],
                    serverCPU: node < serverStats.count ? serverStats[node].cpu : nil,
                    serverRSSKiB: node < serverStats.count ? serverStats[node].rssKiB : nil)
            },
            benchCPU: CPUShare(cpuSeconds: cpu, wallSeconds: wall),
            drainTimedOut: parts.contains(where: \.drainTimedOut), errors: errors)
    }

    /// `clients` spread round robin over the servers of `target` (cluster nodes joined by Redis), in this
    /// process; one more client per node publishes `broadcasts` at `rate` per second, each of which its node
    /// emits to everyone (`io.emit`). Waits up to `drain` after the last send for deliveries still on their way.
    public static func cluster(target: BenchTarget, clients: Int, broadcasts: Int, rate: Double, rotate: Bool = false,
                               padding: Int = 200, rampRate: Double = 0, drain: Duration = .seconds(30),
                               probes: [ServerProbe] = []) async throws -> ClusterResult {
        let receivers = try ClusterReceivers(target: target, clients: 0..<clients)
        let rampSeconds = await receivers.ramp(rate: rampRate)
        guard receivers.connected == clients else {
            await receivers.shutdown()
            throw BenchError("only \(receivers.connected) of \(clients) connected: \(receivers.pool.errors)")
        }
        let publishers: ClusterPublishers
        do {
            publishers = try await ClusterPublishers(target: target)
        } catch {
            await receivers.shutdown()
            throw error
        }
        do {
            try await receivers.prepare(broadcasts: broadcasts)
            let servers = ClusterServerWindow(probes: probes)
            let ownStart = ProcessCPU.now()
            let clock = ContinuousClock()
            let started = clock.now
            let firstSend = nowMicros()
            try await publishers.publish(broadcasts: broadcasts, rate: rate, rotate: rotate, padding: padding)
            let drained = try await receivers.waitForDeliveries(broadcasts: broadcasts, deadline: clock.now + drain)
            let benchCPU = CPUShare(cpuSeconds: ProcessCPU.now().seconds - ownStart.seconds, wallSeconds: (clock.now - started) / .seconds(1))
            let serverStats = servers.finish()
            let part = try await receivers.tally(broadcasts: broadcasts, rampSeconds: rampSeconds, benchCPU: benchCPU, drainTimedOut: !drained)
            let result = mergeCluster(
                [part], servers: target.endpoints, broadcasts: broadcasts, rate: rate, rotate: rotate, padding: padding,
                rampSeconds: rampSeconds, firstSendMicros: firstSend, roundTrips: try await publishers.roundTrips(),
                publisherCPU: nil, serverStats: serverStats)
            await publishers.shutdown()
            await receivers.shutdown()
            return result
        } catch {
            await publishers.shutdown()
            await receivers.shutdown()
            throw error
        }
    }
}
