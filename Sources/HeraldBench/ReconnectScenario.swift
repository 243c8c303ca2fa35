import NIOCore
import NIOPosix
import Synchronization

// MARK: reconnect

public struct ReconnectResult: Codable, Sendable {
    public var scenario = "reconnect"
    public var clients: Int
    public var nodes: [String]
    public var action: String
    public var recovery: Bool
    public var pick: String
    /// Clients in on node 0 before the disruption.
    public var connectedBefore: Int
    /// From the signal until every client was connected again (nil: not within the wait).
    public var secondsUntilAllBack: Double?
    /// From the signal until node 0's process had exited.
    public var secondsUntilNodeExited: Double?
    public var connectedAtEnd: Int
    public var disconnects: Int
    public var reconnects: Int
    public var recovered: Int
    public var failedAttempts: Int
    public var refused503: Int
    public var refused1013: Int
    /// Clients that got a Socket.IO DISCONNECT and, like socket.io-client, did not come back.
    public var serverDisconnects: Int
    /// Reconnection handshakes (TCP connect → CONNECT reply) per node that received them.
    public var reconnectHandshakes: [String: LatencySummary]
    /// Events published (numbered 1…published, each acknowledged by the publish API).
    public var published: Int
    public var publishFailures: Int
    public var missedTotal: Int
    public var duplicatedTotal: Int
    public var clientsMissing: Int
    public var clientsWithDuplicates: Int
    public var maxMissedPerClient: Int
    /// The numbers one client (the first with any) missed, up to 40: shows whether losses cluster around the drain.
    public var sampleMissed: [Int]
    /// Server CPU seconds of each node over the disruption window (signal → all back), with --server pids.
    public var nodeCPUSeconds: [String: Double]
    public var errors: [String: Int]
}

public struct ReconnectOptions: Sendable {
    public var clients: Int
    public var nodes: [BenchEndpoint]
    public var path: String
    public var authMembers: String
    public var recovery: Bool
    public var pick: String
    public var publishAPI: BenchEndpoint
    public var apiKey: String
    public var room: String
    /// Events per second through the publish API.
    public var rate: Double
    /// Seconds of publishing before the disruption and after every client is back.
    public var before: Double
    public var after: Double
    /// Longest wait for every client to be back.
    public var maxWait: Double
    public var rampConcurrency: Int
    public var threads: Int
    public var sourceAddresses: Int

    public init(clients: Int, nodes: [BenchEndpoint], path: String = "/socket.io/", authMembers: String, recovery: Bool,
                pick: String = "next", publishAPI: BenchEndpoint, apiKey: String, room: String, rate: Double = 20,
                before: Double = 2, after: Double = 2, maxWait: Double = 60, rampConcurrency: Int = 500, threads: Int = 2,
                sourceAddresses: Int = 1) {
        self.clients = clients
        self.nodes = nodes
        self.path = path
        self.authMembers = authMembers
        self.recovery = recovery
        self.pick = pick
        self.publishAPI = publishAPI
        self.apiKey = apiKey
        self.room = room
        self.rate = rate
        self.before = before
        self.after = after
        self.maxWait = maxWait
        self.rampConcurrency = rampConcurrency
        self.threads = threads
        self.sourceAddresses = sourceAddresses
    }
}

extension BenchScenarios {
    /// `clients` join node 0; a publisher sends numbered events to `room` through node 1's publish API at `rate`;
    /// then `disrupt` (signal node 0, wait for its exit, restart it: the caller's) runs while the clients come
    /// back like socket.io-client. Reports when all were back and, per client, events missed or repeated.
    public static func reconnect(options: ReconnectOptions, action: String, nodePIDs: @escaping @Sendable () -> [Int32?],
                                 disrupt: @escaping @Sendable () async throws -> Void,
                                 progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> ReconnectResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        let counters = ReconnectCounters()
        let settings = ReconnectSettings(
            nodes: try options.nodes.map { try SocketAddress(ipAddress: $0.host, port: $0.port) },
            upgradeRequests: options.nodes.map { BenchWire.upgradeRequest(host: $0.host, port: $0.port, path: options.path) },
            authMembers: options.authMembers, recovery: options.recovery,
            pick: ReconnectSettings.Pick(rawValue: options.pick) ?? .next,
            initialDelayMs: 1000, maxDelayMs: 5000, randomization: 0.5, attemptTimeout: .seconds(20))
        var loops: [ReconnectLoop] = []
        for (index, loop) in group.makeIterator().enumerated() {
            loops.append(ReconnectLoop(eventLoop: loop, counters: counters, settings: settings, seed: UInt64(index + 7) &* 0x9E37_79B9_7F4A_7C15))
        }
        let clock = ContinuousClock()
        func connected() -> Int { counters.connected.load(ordering: .relaxed) }

        // Ramp onto node 0, `rampConcurrency` attempts in flight.
        var started = 0
        let rampDeadline = clock.now + .seconds(120)
        while connected() < options.clients && clock.now < rampDeadline {
            let inFlight = started - connected() - counters.failedAttempts.load(ordering: .relaxed)
            let batch = min(options.clients - started, max(0, options.rampConcurrency - inFlight))
            for _ in 0..<batch {
                let loop = loops[started % loops.count]
                loop.eventLoop.execute {
                    let client = ReconnectClient(loop: loop, node: 0)
                    loop.clients.append(client)
                    client.start()
                }
                started += 1
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let before = connected()
        progress("\(before) of \(options.clients) clients in on \(options.nodes[0])")

        let publisher = ReconnectPublisher(api: options.publishAPI, key: options.apiKey, room: options.room, group: group)
        let publishing = Task { await publisher.run(rate: options.rate) }
        try await Task.sleep(for: benchDuration(options.before))

        let pidsBefore = nodePIDs()
        let cpuStart = pidsBefore.map { $0.flatMap(ServerProcess.cpuSeconds(pid:)) }
        let signalled = clock.now
        let exited = Mutex<Duration?>(nil)
        let disruption = Task {
            try await disrupt()
            exited.withLock { $0 = clock.now - signalled }
        }
        var allBack: Duration?
        var lastReport = clock.now
        while clock.now - signalled < benchDuration(options.maxWait) {
            let nodeGone = exited.withLock { $0 } != nil
            if nodeGone && connected() == before {
                allBack = clock.now - signalled
                break
            }
            if nodeGone && connected() + counters.serverDisconnects.load(ordering: .relaxed) >= before
                && counters.serverDisconnects.load(ordering: .relaxed) > 0 && connected() < before {
                // Everyone left is either back or gone for good: nothing more will change.
                break
            }
            if clock.now - lastReport > .seconds(1) {
                lastReport = clock.now
                progress("\(String(format: "%.1f", (clock.now - signalled) / .seconds(1))) s: \(connected()) connected, \(counters.reconnects.load(ordering: .relaxed)) reconnected, \(counters.failedAttempts.load(ordering: .relaxed)) failed attempts")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let pidsAfter = nodePIDs()
        var nodeCPU: [String: Double] = [:]
        for (index, node) in options.nodes.enumerated() {
            // A restarted node is a new process: its CPU counts from zero.
            let start = pidsAfter[index] == pidsBefore[index] ? cpuStart[index] ?? 0 : 0
            if let pid = pidsAfter[index], let now = ServerProcess.cpuSeconds(pid: pid) { nodeCPU[node.description] = rounded(now - start, 3) }
        }
        try? await disruption.value
        try await Task.sleep(for: benchDuration(options.after))
        publisher.stop()
        await publishing.value
        try await Task.sleep(for: .seconds(1))   // the last events' deliveries

        let published = publisher.published
        let tallies = try await loops.asyncMap { loop in
            try await loop.eventLoop.submit { () -> (missed: [Int], dup: [Int], handshakes: [[UInt32]], sample: [Int]) in
                var missed: [Int] = [], dup: [Int] = [], sample: [Int] = []
                for client in loop.clients {
                    missed.append(published - client.received(upTo: published))
                    if sample.isEmpty, missed.last! > 0 { sample = client.missing(upTo: published, limit: 40) }
                    dup.append(client.duplicates)
                    client.stop()
                }
                return (missed, dup, loop.reconnectHandshakes, sample)
            }.get()
        }
        let missed = tallies.flatMap(\.missed), dup = tallies.flatMap(\.dup)
        var handshakes: [String: LatencySummary] = [:]
        for (index, node) in options.nodes.enumerated() {
            let samples = tallies.flatMap { $0.handshakes[index] }
            if !samples.isEmpty { handshakes[node.description] = LatencySummary(micros: samples) }
        }
        let result = ReconnectResult(
            clients: options.clients, nodes: options.nodes.map(\.description), action: action, recovery: options.recovery,
            pick: options.pick, connectedBefore: before,
            secondsUntilAllBack: allBack.map { rounded($0 / .seconds(1), 3) },
            secondsUntilNodeExited: exited.withLock { $0 }.map { rounded($0 / .seconds(1), 3) },
            connectedAtEnd: connected(),
            disconnects: counters.disconnects.load(ordering: .relaxed), reconnects: counters.reconnects.load(ordering: .relaxed),
            recovered: counters.recovered.load(ordering: .relaxed), failedAttempts: counters.failedAttempts.load(ordering: .relaxed),
            refused503: counters.refused503.load(ordering: .relaxed), refused1013: counters.refused1013.load(ordering: .relaxed),
            serverDisconnects: counters.serverDisconnects.load(ordering: .relaxed), reconnectHandshakes: handshakes,
            published: published, publishFailures: publisher.failures,
            missedTotal: missed.reduce(0, +), duplicatedTotal: dup.reduce(0, +),
            clientsMissing: missed.filter { $0 > 0 }.count, clientsWithDuplicates: dup.filter { $0 > 0 }.count,
            maxMissedPerClient: missed.max() ?? 0, sampleMissed: tallies.first { !$0.sample.isEmpty }?.sample ?? [], nodeCPUSeconds: nodeCPU,
            errors: counters.errors.errors.withLock { $0 })
        try? await group.shutdownGracefully()
        return result
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

/// Posts `{"room", "event":"tick", "data":{"n":…}}` to a node's publish API at a steady rate, one request at a
/// time on a keep-alive connection (reopened after an error). Numbers count only acknowledged publishes.
final class ReconnectPublisher: Sendable {
    private let api: BenchEndpoint
    private let key: String
    private let room: String
    private let group: any EventLoopGroup
    private let state = Mutex<(published: Int, failures: Int, stopped: Bool)>((0, 0, false))

    init(api: BenchEndpoint, key: String, room: String, group: any EventLoopGroup) {
        self.api = api
        self.key = key
        self.room = room
        self.group = group
    }

    var published: Int { state.withLock { $0.published } }
    var failures: Int { state.withLock { $0.failures } }
    func stop() { state.withLock { $0.stopped = true } }

    func run(rate: Double) async {
        let clock = ContinuousClock()
        let start = clock.now
        var connection: SoakConnection?
        var sent = 0
        while !state.withLock({ $0.stopped }) {
            let due = start + benchDuration(Double(sent) / max(rate, 0.1))
            if due > clock.now { try? await Task.sleep(until: due, clock: clock) }
            sent += 1
            let number = published + 1
            do {
                if connection == nil { connection = try await SoakConnection.open(host: api.host, port: api.port, group: group, seed: 3) }
                let body = "{\"room\":\"\(room)\",\"event\":\"tick\",\"data\":{\"n\":\(number)}}"
                let (status, _) = try await connection!.request(
                    "POST", "/api/publish", host: api.description, body: body, headers: "Authorization: Bearer \(key)\r\n")
                if status == 200 || status == 202 {
                    state.withLock { $0.published = number }
                } else {
                    state.withLock { $0.failures += 1 }
                }
            } catch {
                state.withLock { $0.failures += 1 }
                await connection?.close()
                connection = nil
            }
        }
        await connection?.close()
    }
}
