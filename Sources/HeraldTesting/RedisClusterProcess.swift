import Foundation
import HeraldRedis
import NIOPosix

/// A throwaway Redis Cluster for live tests: `primaries` × (1 + `replicasPerPrimary`) redis-servers with
/// `--cluster-enabled yes` on free ports, joined by `redis-cli --cluster create`. A small
/// `cluster-node-timeout` makes a killed primary's replica take over within a few seconds. With `certificates`
/// every node speaks only TLS, to clients, replicas and the cluster bus alike.
public final class RedisClusterProcess: @unchecked Sendable {
    public let servers: [RedisServerProcess]
    public let directory: String
    public var seeds: [RedisEndpoint] { servers.map { RedisEndpoint(host: "127.0.0.1", port: $0.port) } }
    public var configuration: RedisConfiguration { servers[0].configuration }

    private init(servers: [RedisServerProcess], directory: String) {
        self.servers = servers
        self.directory = directory
    }

    public static func start(primaries: Int = 3, replicasPerPrimary: Int = 1, nodeTimeout: Duration = .milliseconds(1000),
                             certificates: TestCertificates? = nil) async throws -> RedisClusterProcess {
        let directory = NSTemporaryDirectory() + "herald-rcluster-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var servers: [RedisServerProcess] = []
        let milliseconds = nodeTimeout.components.seconds * 1000 + nodeTimeout.components.attoseconds / 1_000_000_000_000_000
        // Outgoing connections (replication, cluster bus) present the client certificate: the server one is
        // for serverAuth only.
        let tls = certificates.map { ["--tls-cluster", "yes", "--tls-replication", "yes",
                                      "--tls-client-cert-file", $0.clientCertificateFile, "--tls-client-key-file", $0.clientKeyFile] } ?? []
        for _ in 0..<(primaries * (1 + replicasPerPrimary)) {
            let port = try await freePort()
            servers.append(try await RedisServerProcess.start([
                "--cluster-enabled", "yes", "--cluster-config-file", "\(directory)/nodes-\(port).conf",
                "--cluster-node-timeout", "\(milliseconds)", "--cluster-port", "\(try await freePort())",
                "--dir", directory,
                // Replicas sync at once (the default waits 5 s for more replicas to share a diskless transfer), and
                // their offset moves within a second (CLUSTER SLOTS lists a replica only once it has one; the
                // primary's first PING to its replicas, which gives it, otherwise comes after 10 s).
                "--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "1",
            ] + tls, certificates: certificates, port: port))
        }
        let cluster = RedisClusterProcess(servers: servers, directory: directory)
        let cli = Process()
        cli.executableURL = URL(fileURLWithPath: RedisServerProcess.executable.map { ($0 as NSString).deletingLastPathComponent + "/redis-cli" } ?? "/usr/bin/redis-cli")
        cli.arguments = (certificates.map { ["--tls", "--cacert", $0.caFile, "--cert", $0.clientCertificateFile, "--key", $0.clientKeyFile] } ?? [])
            + ["--cluster", "create"] + servers.map { "127.0.0.1:\($0.port)" }
            + ["--cluster-replicas", "\(replicasPerPrimary)", "--cluster-yes"]
        cli.standardOutput = FileHandle.nullDevice
        cli.standardError = FileHandle.nullDevice
        try cli.run()
        cli.waitUntilExit()
        guard cli.terminationStatus == 0 else {
            cluster.stop()
            throw TestFailure("redis-cli --cluster create failed with status \(cli.terminationStatus)")
        }
        try await cluster.waitUntil(within: .seconds(10)) { try await cluster.isConsistent(primaries: primaries, replicasPerPrimary: replicasPerPrimary) }
        return cluster
    }

    /// Every live node reports `cluster_state:ok` and the same `primaries` slot owners, each with its replicas
    /// listed, and every replica's link to its primary is up (a replica that never synced does not fail over).
    public func isConsistent(primaries: Int, replicasPerPrimary: Int) async throws -> Bool {
        var maps: Set<[Int]> = []
        for server in servers where server.isRunning {
            guard let connection = try? await RedisConnection.connect(configuration: server.configuration, eventLoop: MultiThreadedEventLoopGroup.singleton.any()) else { return false }
            defer { Task { try? await connection.close() } }
            guard let info = try? await connection.send("CLUSTER", "INFO"), info.string?.contains("cluster_state:ok") == true,
                  let slots = try? await connection.send("CLUSTER", "SLOTS"), let role = try? await connection.send("ROLE"),
                  (slots.elements ?? []).allSatisfy({ ($0.elements?.count ?? 0) == 3 + replicasPerPrimary })
            else { return false }
            if role.elements?.first?.string == "slave" && role.elements?[3].string != "connected" { return false }
            maps.insert(Self.owners(slots).sorted())
        }
        return maps.count == 1 && maps.first?.count == primaries
    }

    /// The port of each range's primary in a `CLUSTER SLOTS` reply.
    static func owners(_ reply: RESPValue) -> [Int] {
        Array(Set((reply.elements ?? []).compactMap { $0.elements?[2].elements?[1].integer.map(Int.init) }))
    }

    /// The port of the primary serving `slot`, as the first live node sees it.
    public func primaryPort(forSlot slot: Int) async throws -> Int {
        for server in servers where server.isRunning {
            guard let connection = try? await RedisConnection.connect(configuration: server.configuration, eventLoop: MultiThreadedEventLoopGroup.singleton.any()) else { continue }
            defer { Task { try? await connection.close() } }
            let reply = try await connection.send("CLUSTER", "SLOTS")
            for range in reply.elements ?? [] {
                guard let fields = range.elements, let start = fields[0].integer, let end = fields[1].integer,
                      let port = fields[2].elements?[1].integer, (start...end).contains(Int64(slot)) else { continue }
                return Int(port)
            }
        }
        throw TestFailure("no live node knows slot \(slot)")
    }

    public func server(port: Int) -> RedisServerProcess? { servers.first { $0.port == port } }

    /// Polls `condition` every 50 ms; fails (never passes) when it stays false past `bound`.
    public func waitUntil(within bound: Duration, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + bound
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("Redis Cluster condition not met within \(bound)")
    }

    public func stop() {
        for server in servers { server.kill() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
