import NIOCore
import NIOPosix

/// One server to connect to.
public struct BenchEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `ws://127.0.0.1:3301`, `http://127.0.0.1:3301/…` or `127.0.0.1:3301` (a path is ignored: see `BenchTarget.path`).
    public init?(url: String) {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), !rest[..<colon].isEmpty
        else { return nil }
        self.init(host: String(rest[..<colon]), port: port)
    }

    public var description: String { "\(host):\(port)" }
}

/// Where to connect and how: the options every scenario shares.
public struct BenchTarget: Sendable {
    public var host: String
    public var port: Int
    public var path: String
    /// Event loop threads of the load generator.
    public var threads: Int
    /// Loopback source addresses 127.0.0.1 … 127.0.0.N; each gives ~28k ephemeral ports.
    public var sourceAddresses: Int
    /// Handshakes allowed in progress at once while ramping (0 = unbounded).
    public var concurrency: Int
    /// The first source address is 127.0.0.<this>, so several bench processes can use disjoint ranges.
    public var firstSourceAddress: Int
    /// Several servers (the nodes of a cluster); empty means the one at `host`:`port`.
    public var servers: [BenchEndpoint] = []

    /// The servers clients connect to, in order (connection `i` of a cluster run goes to `i % count`).
    public var endpoints: [BenchEndpoint] { servers.isEmpty ? [BenchEndpoint(host: host, port: port)] : servers }

    public init(host: String = "127.0.0.1", port: Int = 3300, path: String = "/socket.io/",
                threads: Int = 2, sourceAddresses: Int = 1, concurrency: Int = 1000, firstSourceAddress: Int = 1) {
        self.firstSourceAddress = firstSourceAddress
        self.host = host
        self.port = port
        self.path = path
        self.threads = threads
        self.sourceAddresses = sourceAddresses
        self.concurrency = concurrency
    }
}

/// The connections of one scenario, spread round-robin over the loops and source addresses.
final class BenchPool: Sendable {
    let target: BenchTarget
    let group: MultiThreadedEventLoopGroup
    let loops: [BenchLoop]
    let run: BenchRun
    private let servers: [SocketAddress]
    private let sources: [SocketAddress]

    init(target: BenchTarget) throws {
        self.target = target
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, target.threads))
        run = BenchRun(upgradeRequests: target.endpoints.map { BenchWire.upgradeRequest(host: $0.host, port: $0.port, path: target.path) })
        var loops: [BenchLoop] = []
        for (index, loop) in group.makeIterator().enumerated() {
            loops.append(BenchLoop(eventLoop: loop, run: run, seed: UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15))
        }
        self.loops = loops
        servers = try target.endpoints.map { try SocketAddress(ipAddress: $0.host, port: $0.port) }
        // Only loopback sources are generated: the bench is for 127.0.0.0/8 targets.
        let first = min(max(target.firstSourceAddress, 1), 254)
        sources = target.sourceAddresses > 1 || first > 1
            ? try (first...min(first + max(target.sourceAddresses, 1) - 1, 254)).map { try SocketAddress(ipAddress: "127.0.0.\($0)", port: 0) }
            : []
    }

    var serverCount: Int { servers.count }

    /// Starts connection `index` (no waiting); results land in `run` and the loop's counters. It goes to
    /// server `server`, or round robin over the servers (`index % count`).
    func connect(index: Int, member: Bool = false, server: Int? = nil) {
        let loop = loops[index % loops.count]
        let started = nowMicros()
        let node = server ?? index % servers.count
        var bootstrap = ClientBootstrap(group: loop.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let client = BenchClient(loop: loop, member: member, server: UInt16(node), startedMicros: started)
                    loop.clients.append(client)
                    if !member && loop.publisher == nil { loop.publisher = client }
                    try channel.pipeline.syncOperations.addHandler(client)
                }
            }
        if !sources.isEmpty {
            #if os(Linux)
            // IP_BIND_ADDRESS_NO_PORT: the port is picked at connect time for the whole 4-tuple, so one source
            // address serves ~28k connections to each server rather than ~28k in all.
            bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: .ip, name: .init(rawValue: 24)), value: 1)
            #endif
            bootstrap = bootstrap.bind(to: sources[(index / loops.count) % sources.count])
        }
        let run = self.run
        bootstrap.connect(to: servers[node]).whenFailure { error in run.fail("connect: \(error)") }
    }

    var connected: Int { run.connected.load(ordering: .relaxed) }
    var failed: Int { run.failed.load(ordering: .relaxed) }

    /// Opens connections `from..<to` at `rate` per second (0 = all at once), keeping at most
    /// `target.concurrency` handshakes in progress; returns when each has joined or failed (or at `timeout`).
    func ramp(from: Int, to: Int, rate: Double, member: Bool = false, server: Int? = nil, timeout: Duration = .seconds(120)) async {
        let clock = ContinuousClock()
        let start = clock.now
        let baseline = connected + failed - from
        var issued = from
        while issued < to || connected + failed - baseline < to {
            if clock.now - start > timeout { return }
            let settled = connected + failed - baseline
            var allowed = to - issued
            if rate > 0 {
                let elapsed = (clock.now - start) / .seconds(1)
                allowed = min(allowed, Int(elapsed * rate) + 1 - (issued - from))
            }
            if target.concurrency > 0 { allowed = min(allowed, target.concurrency - (issued - settled)) }
            if allowed > 0 {
                for index in issued..<(issued + allowed) { connect(index: index, member: member, server: server) }
                issued += allowed
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Runs `body` on every loop and gathers the results.
    func onEachLoop<T: Sendable>(_ body: @escaping @Sendable (BenchLoop) -> T) async throws -> [T] {
        var results: [T] = []
        for loop in loops { results.append(try await loop.eventLoop.submit { body(loop) }.get()) }
        return results
    }

    func handshakeMicros() async throws -> [UInt32] {
        try await onEachLoop { $0.handshakeMicros }.flatMap { $0 }
    }

    func deliveries() async throws -> Int {
        try await onEachLoop { $0.deliveries }.reduce(0, +)
    }

    /// Closes every connection and stops the loops.
    func shutdown() async {
        _ = try? await onEachLoop { loop in
            for client in loop.clients { client.close() }
            loop.clients.removeAll()
            loop.publisher = nil
        }
        try? await group.shutdownGracefully()
    }

    var errors: [String: Int] { run.errors.withLock { $0 } }
}
