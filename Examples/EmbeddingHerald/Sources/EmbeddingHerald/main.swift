// A Swift service built on Herald's library products: its own Socket.IO server with an event handler, a whole
// herald node embedded beside it, both in one swift-service-lifecycle group, and the Swift client talking to
// the server.
//
//   swift run EmbeddingHerald          # serves until Ctrl-C (SIGINT/SIGTERM drain both)
//   swift run EmbeddingHerald --once   # one exchange with the client, then a graceful shutdown
import Herald
import Logging
import ServiceLifecycle
import SocketIO
import SocketIOClient

let logger = Logger(label: "embedding-herald")

// 1. A Socket.IO server of our own: `greet` is answered through the client's acknowledgement.
let io = SocketIOServer(logger: logger, service: SocketIOServiceConfiguration(host: "127.0.0.1", port: 0))
io.onConnection { socket in
    socket.on("greet") { event in
        event.ack(.string("hello, \(event[0]?.stringValue ?? "stranger")"))
    }
}

// 2. A whole herald node (its routes, chat, dashboard and /metrics), configured in code. No load balancer
// watches its /ready here, so it drains without the pre-drain delay; the application keeps the process-wide
// swift-metrics bootstrap to itself.
var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, preDrainDelay: .zero)
configuration.dashboard.bootstrapMetricsSystem = false
let node = HeraldNode(configuration: configuration, logger: logger)

// Namespaces spread over several nodes: every namespace gets a cluster adapter on the node's bus (herald does
// this itself with --redis-url; `RedisClusterBus` is the Redis bus, any `ClusterBus` works).
func clusterAdapters(bus: any ClusterBus) -> @Sendable (String) -> any SocketIOAdapter {
    ClusterAdapter.factory(bus: bus, configuration: ClusterAdapterConfiguration(requestTimeout: .seconds(2)))
}

let services = ServiceGroup(services: [io, node], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)

try await withThrowingDiscardingTaskGroup { group in
    group.addTask { try await services.run() }
    group.addTask {
        // 3. The Swift client, against our server.
        guard let port = try await io.listeningAddress().port else { return }
        let manager = SocketIOManager(host: "127.0.0.1", port: port)
        let socket = manager.socket()
        try await socket.connect()
        let reply: [JSONValue] = try await socket.emitWithAck("greet", "Swift", timeout: .seconds(5))
        print("server answered \(reply)")
        print("herald node listening on \(try await node.listeningAddress())")
        socket.disconnect()
        await manager.shutdown()
        if CommandLine.arguments.contains("--once") { await services.triggerGracefulShutdown() }
    }
}
