import NIOCore
import NIOPosix
import Synchronization

// MARK: soak

public struct SoakModeTally: Codable, Sendable, Equatable {
    public var completed = 0
    public var failed = 0
}

public struct SoakResult: Codable, Sendable {
    public var scenario = "soak"
    public var cycles: Int
    public var warmupCycles: Int
    public var concurrency: Int
    public var completed: Int
    public var failed: Int
    public var byMode: [String: SoakModeTally]
    public var seconds: Double
    public var cyclesPerSecond: Double
    /// Server RSS once the warm-up's clients were gone and the node had settled, and the same after the run.
    public var serverRSSWarmKiB: Int?
    public var serverRSSEndKiB: Int?
    public var rssGrowthPercent: Double?
    /// Server RSS after each tenth of the cycles (clients still coming and going).
    public var rssSamplesKiB: [Int]
    /// The node's resource gauges from `/metrics` (name → value) when settled after the warm-up and after the run.
    public var resourcesWarm: [String: Double]
    public var resourcesEnd: [String: Double]
    /// From the last cycle's end until the counts were back at zero (nil: they were not, within the settle timeout).
    public var settleSeconds: Double?
    public var benchCPU: CPUShare
    public var serverCPU: CPUShare?
    public var errors: [String: Int]

    /// The gauges that must be back at zero once the clients are gone (present in `resourcesEnd`).
    public static let zeroGauges = [
        "herald_sessions", #"herald_sockets{namespace="/"}"#, "herald_rooms", "herald_heartbeat_timer_entries",
        "herald_redis_room_subscriptions",
    ]

    /// Gauges (of `zeroGauges`) not at zero after the run, and file descriptors above the warm baseline.
    public var leftovers: [String: Double] {
        var left: [String: Double] = [:]
        for name in Self.zeroGauges { if let value = resourcesEnd[name], value != 0 { left[name] = value } }
        if let end = resourcesEnd["herald_open_fds"], let warm = resourcesWarm["herald_open_fds"], end > warm {
            left["herald_open_fds"] = end - warm
        }
        return left
    }
}

public struct SoakOptions: Sendable {
    public var cycles: Int
    public var warmup: Int
    /// Cycles in progress at once.
    public var concurrency: Int
    public var modes: [SoakMode]
    /// Where the server under test serves its gauges (`herald bench-server --metrics`, `herald serve`).
    public var metrics: (endpoint: BenchEndpoint, path: String)?
    /// A cycle still running after this is abandoned (its connections closed) and counted as failed.
    public var cycleTimeout: Duration
    /// How long to wait for the counts to return to zero after the warm-up and after the run.
    public var settleTimeout: Duration

    public init(cycles: Int, warmup: Int = 500, concurrency: Int = 32, modes: [SoakMode] = SoakMode.allCases,
                metrics: (endpoint: BenchEndpoint, path: String)? = nil, cycleTimeout: Duration = .seconds(10),
                settleTimeout: Duration = .seconds(30)) {
        self.cycles = cycles
        self.warmup = warmup
        self.concurrency = concurrency
        self.modes = modes
        self.metrics = metrics
        self.cycleTimeout = cycleTimeout
        self.settleTimeout = settleTimeout
    }
}

extension BenchScenarios {
    /// Cycles of connect, join a room (CONNECT auth `{"room": R}`, the bench server's rule), emit `echo` with an
    /// ack, and leave, over the `modes` in turn. Warm-up first, then the node must settle (its gauges at zero)
    /// before the baseline RSS is read; the same after the run.
    public static func soak(target: BenchTarget, options: SoakOptions, probe: ServerProbe = ServerProbe(pid: nil),
                            progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> SoakResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, target.threads))
        do {
            let result = try await soak(target: target, options: options, probe: probe, group: group, progress: progress)
            try? await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func soak(target: BenchTarget, options: SoakOptions, probe: ServerProbe, group: MultiThreadedEventLoopGroup,
                             progress: @escaping @Sendable (String) -> Void) async throws -> SoakResult {
        let driver = SoakDriver(target: target, options: options, group: group)
        let clock = ContinuousClock()

        await driver.run(cycles: 0..<options.warmup, rssEvery: nil, probe: probe)
        let warm = try await driver.settle()
        if warm.resources == nil && options.metrics != nil { progress("node did not settle after the warm-up: \(warm.last)") }
        let rssWarm = probe.rssKiB
        progress("warm: RSS \(rssWarm.map(String.init) ?? "-") KiB, \(warm.last)")
        let before = driver.tallies()

        let window = CPUWindow(probe: probe)
        let start = clock.now
        await driver.run(cycles: options.warmup..<(options.warmup + options.cycles), rssEvery: max(1, options.cycles / 10),
                         probe: probe, progress: progress)
        let seconds = (clock.now - start) / .seconds(1)
        let (benchCPU, serverCPU) = window.finish()
        let settleStart = clock.now
        let end = try await driver.settle()
        let settleSeconds = end.resources != nil || options.metrics == nil ? (clock.now - settleStart) / .seconds(1) : nil
        let rssEnd = probe.rssKiB

        var byMode: [String: SoakModeTally] = [:]
        let after = driver.tallies()
        for (mode, tally) in after {
            let old = before[mode] ?? SoakModeTally()
            byMode[mode] = SoakModeTally(completed: tally.completed - old.completed, failed: tally.failed - old.failed)
        }
        let completed = byMode.values.reduce(0) { $0 + $1.completed }
        return SoakResult(
            cycles: options.cycles, warmupCycles: options.warmup, concurrency: options.concurrency,
            completed: completed, failed: byMode.values.reduce(0) { $0 + $1.failed }, byMode: byMode,
            seconds: rounded(seconds, 3), cyclesPerSecond: rounded(Double(completed) / max(seconds, 0.001)),
            serverRSSWarmKiB: rssWarm, serverRSSEndKiB: rssEnd,
            rssGrowthPercent: zip2(rssWarm, rssEnd).map { rounded(Double($1 - $0) / Double(max($0, 1)) * 100, 2) },
            rssSamplesKiB: driver.rssSamples(), resourcesWarm: warm.last, resourcesEnd: end.last,
            settleSeconds: settleSeconds.map { rounded($0, 3) }, benchCPU: benchCPU, serverCPU: serverCPU,
            errors: driver.run.errors.withLock { $0 })
    }
}

/// Runs soak cycles from `concurrency` tasks and keeps the tallies (lock-protected: every task reports here).
final class SoakDriver: Sendable {
    let target: BenchTarget
    let options: SoakOptions
    let group: MultiThreadedEventLoopGroup
    let run = BenchRun(upgradeRequests: [])
    private let state = Mutex<(tallies: [String: SoakModeTally], rss: [Int])>(([:], []))
    private let host: String

    init(target: BenchTarget, options: SoakOptions, group: MultiThreadedEventLoopGroup) {
        self.target = target
        self.options = options
        self.group = group
        host = "\(target.host):\(target.port)"
    }

    func tallies() -> [String: SoakModeTally] { state.withLock { $0.tallies } }
    func rssSamples() -> [Int] { state.withLock { $0.rss } }

    func run(cycles: Range<Int>, rssEvery: Int?, probe: ServerProbe, progress: @escaping @Sendable (String) -> Void = { _ in }) async {
        let next = SoakCounter(cycles.lowerBound)
        let done = SoakCounter(0)
        let clock = ContinuousClock()
        let start = clock.now
        await withTaskGroup(of: Void.self) { tasks in
            for worker in 0..<max(1, options.concurrency) {
                tasks.addTask { [self] in
                    while true {
                        let index = next.value.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard index < cycles.upperBound else { return }
                        await cycle(index, seed: UInt32(truncatingIfNeeded: index &* 2_654_435_761 &+ worker))
                        let count = done.value.wrappingAdd(1, ordering: .relaxed).newValue
                        if let rssEvery, count % rssEvery == 0 {
                            let rss = probe.rssKiB
                            if let rss { state.withLock { $0.rss.append(rss) } }
                            let rate = Double(count) / ((clock.now - start) / .seconds(1))
                            progress("\(count) cycles, \(Int(rate))/s, server RSS \(rss.map(String.init) ?? "-") KiB")
                        }
                    }
                }
            }
        }
    }

    private func cycle(_ index: Int, seed: UInt32) async {
        let mode = options.modes[index % options.modes.count]
        do {
            try await perform(mode, index: index, seed: seed)
            state.withLock { $0.tallies[mode.rawValue, default: SoakModeTally()].completed += 1 }
        } catch {
            state.withLock { $0.tallies[mode.rawValue, default: SoakModeTally()].failed += 1 }
            run.fail("\(mode.rawValue): \(error)")
        }
    }

    /// A connection closed by a watchdog after `cycleTimeout`, so a stuck cycle ends in an error.
    private func open(seed: UInt32) async throws -> SoakConnection {
        let connection = try await SoakConnection.open(host: target.host, port: target.port, group: group, seed: seed)
        let channel = connection.channel
        let watchdog = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(options.cycleTimeout / .milliseconds(1)))) {
            channel.close(promise: nil)
        }
        channel.closeFuture.whenComplete { _ in watchdog.cancel() }
        return connection
    }

    private func perform(_ mode: SoakMode, index: Int, seed: UInt32) async throws {
        let path = target.path
        let connect = "40{\"room\":\"soak-\(index % 64)\"}"
        switch mode {
        case .websocket, .reset, .pingTimeout:
            let ws = try await open(seed: seed)
            do {
                try await ws.upgrade(path: path, host: host)
                _ = try await ws.frame(startingWith: "0")
                try await ws.sendFrame(connect)
                _ = try await ws.frame(startingWith: "40")
                try await echo(over: ws, index: index)
                switch mode {
                case .reset:
                    await ws.reset()
                case .pingTimeout:
                    try await ws.awaitClose()   // pings unanswered: the server must give up on us
                    await ws.close()
                default:
                    try await goodbye(ws)
                }
            } catch {
                await ws.close()
                throw error
            }
        case .polling, .upgrade:
            let http = try await open(seed: seed)
            var ws: SoakConnection?
            do {
                let (status, open) = try await http.request("GET", "\(path)?EIO=4&transport=polling", host: host)
                guard status == 200, open.hasPrefix("0"), let sid = soakSessionID(in: open) else {
                    throw SoakError("polling handshake: \(status)")
                }
                let uri = "\(path)?EIO=4&transport=polling&sid=\(sid)"
                try await post(http, uri, connect)
                _ = try await poll(http, uri, until: "40")
                if mode == .polling {
                    try await post(http, uri, "421[\"echo\",\(index)]")
                    _ = try await poll(http, uri, until: "431")
                    try await post(http, uri, "41\u{1e}1")
                    await http.close()
                    return
                }
                let upgraded = try await self.open(seed: seed ^ 0x5555)
                ws = upgraded
                try await upgraded.upgrade(path: path, host: host, sid: sid)
                try await upgraded.sendFrame("2probe")
                _ = try await upgraded.frame(startingWith: "3probe")
                try await upgraded.sendFrame("5")
                try await echo(over: upgraded, index: index)
                try await goodbye(upgraded)
                await http.close()
            } catch {
                await http.close()
                await ws?.close()
                throw error
            }
        }
    }

    private func echo(over ws: SoakConnection, index: Int) async throws {
        try await ws.sendFrame("421[\"echo\",\(index)]")
        _ = try await ws.frame(startingWith: "431")
    }

    /// Socket.IO DISCONNECT, then a websocket close (1000); waits for the server's close.
    private func goodbye(_ ws: SoakConnection) async throws {
        try await ws.sendFrame("41")
        try await ws.sendClose()
        try await ws.awaitClose()
        await ws.close()
    }

    private func post(_ http: SoakConnection, _ uri: String, _ body: String) async throws {
        let (status, answer) = try await http.request("POST", uri, host: host, body: body)
        guard status == 200 else { throw SoakError("POST \(body.prefix(3)): \(status) \(answer.prefix(60))") }
    }

    /// Polls until a packet starting with `prefix` arrives, answering pings.
    private func poll(_ http: SoakConnection, _ uri: String, until prefix: String) async throws -> String {
        while true {
            let (status, body) = try await http.request("GET", uri, host: host)
            guard status == 200 else { throw SoakError("poll: \(status) \(body.prefix(60))") }
            for packet in body.split(separator: "\u{1e}") {
                if packet.hasPrefix(prefix) { return String(packet) }
                if packet == "2" { try await post(http, uri, "3") }
                if packet == "1" { throw SoakError("server closed the polling session waiting for \(prefix)") }
            }
        }
    }

    // MARK: Settling

    /// Polls `/metrics` until the zero gauges are all zero; returns the last reading, with `resources` nil when
    /// it timed out. Without a metrics endpoint, returns at once.
    func settle() async throws -> (resources: [String: Double]?, last: [String: Double]) {
        guard let metrics = options.metrics else { return ([:], [:]) }
        let clock = ContinuousClock()
        let deadline = clock.now + options.settleTimeout
        var last: [String: Double] = [:]
        while true {
            last = try await Self.readGauges(metrics.endpoint, path: metrics.path, group: group)
            let zero = SoakResult.zeroGauges.allSatisfy { (last[$0] ?? 0) == 0 }
            if zero { return (last, last) }
            if clock.now >= deadline { return (nil, last) }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The `herald_*` samples of a Prometheus text page (name with labels → value).
    static func readGauges(_ endpoint: BenchEndpoint, path: String, group: any EventLoopGroup) async throws -> [String: Double] {
        let http = try await SoakConnection.open(host: endpoint.host, port: endpoint.port, group: group, seed: 1)
        let answer = try? await http.request("GET", path, host: endpoint.description)
        await http.close()
        guard let (status, body) = answer else { throw SoakError("metrics: no answer") }
        guard status == 200 else { throw SoakError("metrics: HTTP \(status)") }
        return parseGauges(body).filter { SoakResult.zeroGauges.contains($0.key) || Self.otherGauges.contains($0.key) }
    }

    /// Reported but not expected at zero: descriptors (the listeners, Redis) and the bus's own subscriptions.
    static let otherGauges: Set<String> = ["herald_open_fds", "herald_redis_subscriptions"]

    static func parseGauges(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("herald_") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        return values
    }
}

/// An atomic shared by the soak's tasks.
final class SoakCounter: Sendable {
    let value: Atomic<Int>
    init(_ start: Int) { value = Atomic(start) }
}
