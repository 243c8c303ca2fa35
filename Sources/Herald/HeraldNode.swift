import EngineIO
import Logging
import Redis
import RedisAdapter
import NIOCore
import NIOPosix
import ServiceLifecycle
import SocketIO
import SocketIOProtocol
import Synchronization

/// One herald node as a service: listens, serves Socket.IO and the HTTP routes, and drains on shutdown.
public final class HeraldNode: Service, Sendable {
    public let configuration: HeraldConfiguration
    public let io: SocketIOServer
    public let logger: Logger
    let group: MultiThreadedEventLoopGroup
    private let boundAddress = Mutex<SocketAddress?>(nil)
    private let ready = Mutex<[CheckedContinuation<SocketAddress, any Error>]>([])
    /// The one delivery path of the publish API, the envelope channel and the bridges.
    public let publisher: Publisher
    /// The Redis side of publishing; `publishing.start(on:)` once a subscriber exists.
    public let publishing: PublishingListener
    let apiAddress = Mutex<SocketAddress?>(nil)
    /// The Redis connections when the node is one of many; nil for a single node.
    public let cluster: RedisClusterBus?
    /// Chat with history (`chat:send`, `chat:join`, the history API); its store opens in `run()`.
    public let chat: ChatService
    private let clusterUp = Flag()

    /// A flag shared with callbacks created before `self` exists.
    final class Flag: Sendable {
        private let value = Mutex(false)
        /// Sets the flag; returns whether it changed.
        func set(_ newValue: Bool) -> Bool { value.withLock { old in defer { old = newValue }; return old != newValue } }
        var isSet: Bool { value.withLock { $0 } }
    }

    public init(configuration: HeraldConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        if let redis = configuration.redis {
            let clusterUp = self.clusterUp
            let bus = RedisClusterBus(configuration: redis, eventLoop: group.next(), logger: logger) { up in
                if clusterUp.set(up) {
                    if up { logger.info("redis connected") } else { logger.warning("redis unreachable: serving this node's clients only until it is back") }
                }
            }
            self.cluster = bus
            self.io = SocketIOServer(
                configuration: configuration.socketIO, logger: logger,
                adapterFactory: RedisAdapter.factory(bus: bus, log: bus, logger: logger))
        } else {
            self.cluster = nil
            self.io = SocketIOServer(configuration: configuration.socketIO, logger: logger)
        }
        (publisher, publishing) = Self.makePublishing(configuration.publishing, io: io, cluster: cluster, logger: logger)
        chat = ChatService(configuration: configuration.chat, logger: logger)
        chat.install(on: io.sockets)
        io.engine.setRoutes { [self] request in
            switch (request.method, request.path) {
            case (.GET, "/health"):
                return .json(.ok, health.jsonString)
            default:
                return await chat.route(request)
            }
        }
    }

    /// `ok`, or `degraded` while Redis is unreachable (this node's clients are still served).
    public var health: JSONValue {
        var health: JSONObject = ["status": "ok", "sessions": .int(io.engine.sessionCount)]
        if cluster != nil {
            let up = clusterUp.isSet
            health["status"] = up ? "ok" : "degraded"
            health["redis"] = up ? "connected" : "unreachable"
        }
        return .object(health)
    }

    /// The address the node listens on, once it does.
    public func listeningAddress() async throws -> SocketAddress {
        if let address = boundAddress.withLock({ $0 }) { return address }
        return try await withCheckedThrowingContinuation { continuation in
            let address: SocketAddress? = boundAddress.withLock { bound in
                if let bound { return bound }
                ready.withLock { $0.append(continuation) }
                return nil
            }
            if let address { continuation.resume(returning: address) }
        }
    }

    public func run() async throws {
        if let limits = FileDescriptorLimit.raiseToHard() {
            logger.info("file descriptor limit", metadata: [
                "soft": "\(limits.soft)", "hard": "\(limits.hard)",
                "connectionCeiling": "\(FileDescriptorLimit.connectionCeiling(limits))",
            ])
        }
        if let cluster {
            do {
                try await cluster.connect()
            } catch {
                // The connections keep retrying; meanwhile this node serves its own clients.
                logger.error("redis unreachable at start", metadata: ["error": "\(error)"])
            }
            do {
                try await publishing.start(on: PublishRouter(bus: cluster).router)
            } catch {
                logger.error("publishing channels not subscribed", metadata: ["error": "\(error)"])
            }
        }
        let channel: any Channel
        let api: (any Channel)?
        do {
            // Before listening: a store that cannot open at all (bad SQLite path) stops the node here.
            try await chat.open()
            // The API first: once listeningAddress() answers, apiListeningAddress is known too.
            api = try await bindPublishAPI()
            do {
                channel = try await io.bind(host: configuration.host, port: configuration.port, group: group)
            } catch {
                try? await api?.close()
                throw error
            }
        } catch {
            for waiter in ready.withLock({ waiters in defer { waiters = [] }; return waiters }) { waiter.resume(throwing: error) }
            throw error
        }
        let address = channel.localAddress!
        let waiters = boundAddress.withLock { bound in
            bound = address
            return ready.withLock { waiters in defer { waiters = [] }; return waiters }
        }
        for waiter in waiters { waiter.resume(returning: address) }
        logger.info("herald listening", metadata: [
            "address": "\(address)",
            "path": "\(configuration.socketIO.engine.path)",
            "threads": "\(configuration.threads)",
        ])

        try? await gracefulShutdown()

        logger.info("shutting down: disconnecting clients")
        io.close()
        // Give the close packets a moment to leave before the listener and loops go away.
        let deadline = ContinuousClock.now + configuration.drainTimeout
        while io.engine.sessionCount > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        try? await api?.close()
        try? await channel.close()
        await cluster?.close()
        await chat.close()
        try? await group.shutdownGracefully()
        logger.info("herald stopped")
    }
}
