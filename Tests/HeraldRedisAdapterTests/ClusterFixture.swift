import HeraldTesting
import NIOCore
import NIOPosix
import HeraldRedisAdapter
import SocketIO
import SocketIOProtocol

/// N herald nodes in one process, each a real server on its own port, joined by an in-memory bus.
final class Cluster: Sendable {
    let hub: InMemoryClusterBus
    let nodes: [Node]
    let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    final class Node: Sendable {
        let io: SocketIOServer
        let group: MultiThreadedEventLoopGroup
        let channel: any Channel
        var port: Int { channel.localAddress!.port! }
        var adapter: ClusterAdapter { io.sockets.adapter as! ClusterAdapter }

        init(io: SocketIOServer, group: MultiThreadedEventLoopGroup, channel: any Channel) {
            self.io = io
            self.group = group
            self.channel = channel
        }
    }

    private init(hub: InMemoryClusterBus, nodes: [Node]) {
        self.hub = hub
        self.nodes = nodes
    }

    /// Starts `count` nodes; every node's `/` lets clients join rooms with the `join` event (acked once joined)
    /// and keeps `data` from the CONNECT auth payload.
    static func start(_ count: Int, configuration: ClusterAdapterConfiguration = ClusterAdapterConfiguration(),
                      socketIO: SocketIOConfiguration = SocketIOConfiguration(),
                      setUp: @escaping @Sendable (Int, SocketIOServer) -> Void = { _, _ in }) async throws -> Cluster {
        let hub = InMemoryClusterBus()
        var nodes: [Node] = []
        for index in 0..<count {
            let connection = hub.node()
            let io = SocketIOServer(
                configuration: socketIO,
                adapterFactory: ClusterAdapter.factory(bus: connection, log: connection, configuration: configuration))
            io.use { socket in socket.data = socket.handshake.auth }
            io.onConnection { socket in
                socket.on("join") { event in
                    socket.join(event.args.compactMap(\.stringValue))
                    event.ack()
                }
                socket.on("leave") { event in
                    for room in event.args.compactMap(\.stringValue) { socket.leave(room) }
                    event.ack()
                }
            }
            setUp(index, io)
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
            let channel = try await io.bind(host: "127.0.0.1", port: 0, group: group)
            let node = Node(io: io, group: group, channel: channel)
            try await node.adapter.ready()
            nodes.append(node)
        }
        return Cluster(hub: hub, nodes: nodes)
    }

    /// A client connected to `/` of a node, with `auth` as its CONNECT payload.
    func client(on node: Int, auth: String = "{}") async throws -> (client: RawSocketIOClient, sid: String) {
        let client = try await RawSocketIOClient.open(port: nodes[node].port, group: clientGroup)
        let sid = try await client.connect(auth: auth)
        return (client, sid)
    }

    /// Makes the client join rooms and waits until its node listens to them on the bus.
    func join(_ client: RawSocketIOClient, on node: Int, _ rooms: String...) async throws {
        client.emit("join", rooms.map { "\"\($0)\"" }.joined(separator: ","), ackID: 1)
        _ = try await client.nextText()
        await nodes[node].adapter.subscriptionsSettled()
    }

    func shutdown() async {
        for node in nodes {
            try? await node.channel.close()
            try? await node.group.shutdownGracefully()
        }
        try? await clientGroup.shutdownGracefully()
    }
}

func withCluster(_ count: Int, configuration: ClusterAdapterConfiguration = ClusterAdapterConfiguration(),
                 socketIO: SocketIOConfiguration = SocketIOConfiguration(),
                 setUp: @escaping @Sendable (Int, SocketIOServer) -> Void = { _, _ in },
                 _ body: (Cluster) async throws -> Void) async throws {
    let cluster = try await Cluster.start(count, configuration: configuration, socketIO: socketIO, setUp: setUp)
    do {
        try await body(cluster)
    } catch {
        await cluster.shutdown()
        throw error
    }
    await cluster.shutdown()
}
