import ArgumentParser
import Foundation
import Herald
import Logging
import NIOCore
import NIOPosix
import HeraldRedis
import HeraldRedisAdapter
import SocketIO
import Synchronization

/// The server half of `herald bench`: a plain SocketIOServer with the shootout's handlers, so the numbers
/// measure herald's core rather than the gateway's options (auth, publishing) that `serve` layers on.
struct BenchServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-server",
        abstract: "Serve the benchmark protocol for `herald bench` (broadcast, echo, fanout).",
        discussion: """
            CONNECT auth {"room": R} joins room R. Event `broadcast` (payload P, with ack): io.emit("broadcast", P), \
            then the ack answers P to the sender. Event `echo`: acks its arguments. Event `fanout` (payload P): \
            io.to("fanout").emit("tick", P). With --redis-url, the server is one node of a cluster: its broadcasts \
            reach the clients of every node on the same Redis (the `cluster` scenario); --redis-cluster does the same \
            on a Redis Cluster. With --rooms K every client joins rooms b0…b(K-1) and each node sends its broadcasts \
            to those rooms in turn (every client still gets every broadcast), so the traffic spreads over K channels \
            (over the shards of a Redis Cluster) instead of the namespace's one.
            """)

    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Option(help: "Listen port.") var port = 3300
    @Option(help: "Event loop threads (default: cores).") var threads: Int?
    @Option(help: "Ping interval in ms.") var pingInterval = 25_000
    @Option(help: "Ping timeout in ms.") var pingTimeout = 20_000
    @Flag(help: "Serve the resource gauges (sessions, sockets, rooms, timers, subscriptions, descriptors) at /metrics.") var metrics = false
    @Option(help: "Redis URL (redis://host:port): join the other bench servers on it through the Redis adapter.") var redisURL: String?
    @Option(help: "Redis Cluster seed nodes host:port,…: join the other bench servers on it (sharded pub/sub).") var redisCluster: String?
    @Option(help: "Broadcast rooms every client joins; broadcasts go to them in turn (0 = to the namespace).") var rooms = 0

    func validate() throws {
        guard (0...10_000).contains(rooms) else { throw ValidationError("--rooms must be within 0...10000") }
        if redisCluster != nil && redisURL != nil { throw ValidationError("--redis-url or --redis-cluster, not both") }
    }

    func run() async throws {
        bootstrapLogging(format: .text, level: .warning)
        FileDescriptorLimit.raiseToHard()
        var configuration = SocketIOConfiguration()
        configuration.engine.pingInterval = .milliseconds(pingInterval)
        configuration.engine.pingTimeout = .milliseconds(pingTimeout)
        let logger = Logger(label: "herald.bench-server")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads ?? System.coreCount)
        let io: SocketIOServer
        var bus: RedisClusterBus?
        if redisURL != nil || redisCluster != nil {
            let cluster: RedisClusterBus
            if let redisCluster {
                guard let seeds = RedisEndpoint.list(redisCluster) else { throw ValidationError("--redis-cluster: expected host:port,…") }
                cluster = RedisClusterBus(cluster: seeds, configuration: RedisConfiguration(), eventLoop: group.next(), logger: logger)
            } else {
                let redis: RedisConfiguration
                do { redis = try RedisConfiguration(url: redisURL ?? "") } catch { throw ValidationError("--redis-url: \(error)") }
                cluster = RedisClusterBus(configuration: redis, eventLoop: group.next(), logger: logger)
            }
            try await cluster.connect()
            io = SocketIOServer(configuration: configuration, logger: logger,
                                adapterFactory: ClusterAdapter.factory(bus: cluster, logger: logger))
            bus = cluster
        } else {
            io = SocketIOServer(configuration: configuration, logger: logger)
        }
        Self.install(on: io, clustered: bus != nil, rooms: rooms)
        if metrics {
            io.engine.setRoutes(HeraldMetrics(redis: bus != nil, bootstrapMetricsSystem: false).resourceRoute(io: io, bus: bus))
        }
        // Listening only once the namespace hears the other nodes: a client let in earlier could miss a broadcast.
        try await (io.sockets.adapter as? ClusterAdapter)?.ready()
        let channel = try await io.bind(host: host, port: port, group: group)
        // Unbuffered: scripts wait for this line in a log file.
        let redis = redisURL ?? redisCluster.map { "Redis Cluster " + $0 }
        FileHandle.standardOutput.write(Data("bench-server listening on \(host):\(port)\(redis.map { " (cluster node on \($0))" } ?? "")\n".utf8))
        try await channel.closeFuture.get()
        await bus?.close()
    }

    /// Kept in step with the copy in Tests/HeraldBenchTests (tests cannot import an executable).
    /// Clustered, the room is joined in middleware: the adapter then holds the room's Redis subscription in
    /// place before the client hears CONNECT, so an event published on another node right after reaches it.
    static func install(on io: SocketIOServer, clustered: Bool = false, rooms: Int = 0) {
        let broadcastRooms = (0..<rooms).map { "b\($0)" }
        let nextRoom = Mutex(0)
        if clustered {
            io.use { socket in
                if let room = socket.handshake.auth["room"]?.stringValue { socket.join(room) }
                for room in broadcastRooms { socket.join(room) }
            }
        }
        io.onConnection { socket in
            if !clustered, let room = socket.handshake.auth["room"]?.stringValue { socket.join(room) }
            if !clustered { for room in broadcastRooms { socket.join(room) } }
            socket.on("broadcast") { event in
                if broadcastRooms.isEmpty {
                    io.emit("broadcast", event[0] ?? .null)
                } else {
                    let room = nextRoom.withLock { next in
                        defer { next = (next + 1) % broadcastRooms.count }
                        return broadcastRooms[next]
                    }
                    io.to(room).emit("broadcast", event[0] ?? .null)
                }
                event.ack(event.args)
            }
            socket.on("echo") { event in event.ack(event.args) }
            socket.on("fanout") { event in io.to("fanout").emit("tick", event[0] ?? .null) }
        }
    }
}
