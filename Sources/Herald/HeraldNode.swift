import EngineIO
import Logging
import HeraldRedis
import HeraldRedisAdapter
import NIOCore
import NIOPosix
import ServiceLifecycle
import SocketIO
import SocketIOProtocol
import Synchronization

/// One herald node as a service: listens, serves Socket.IO and the HTTP routes, and drains on shutdown.
/// Concurrency: immutable after init (Sendable); its long-lived loops are child tasks of `run()`, so the service
/// group that runs the node owns them.
public final class HeraldNode: Service, Sendable {
    public let configuration: HeraldConfiguration
    public let io: SocketIOServer
    public let logger: Logger
    let group: MultiThreadedEventLoopGroup
    /// One thread for the Redis connections, so that session saves and recovery reads are not queued behind the
    /// socket writes that saturate `group` during a drain or a reconnect storm; nil for a single node.
    private let redisGroup: MultiThreadedEventLoopGroup?
    private let boundAddress = ListeningAddress()
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
    /// Set the first time Redis connects and never cleared: `/ready` waits for it (see `readiness`).
    private let clusterJoined = Flag()
    /// Called when Redis is reachable again after an outage (not on the first connection).
    private let redisReconnected = Hook()
    /// JWT authentication and room permissions on the default namespace; nil when no key is configured.
    public let auth: AuthGateway?
    /// This node's Prometheus registry, served at `/metrics`.
    public let metrics: HeraldMetrics
    /// Live figures pushed to the `dashboard` room every second (see docs/dashboard.md).
    public let dashboard: Dashboard
    /// The demo pages, token endpoint and simulated backend; nil unless `configuration.demo` is set.
    public let demo: DemoSite?
    /// Presence per room and the users connected, cluster-wide with Redis (docs/presence.md).
    public let presence: PresenceTracker
    /// The server API's operations on every node (users, stats).
    public let operations: ClusterOperations
    /// Signed event batches to the backend; nil when no webhook URL is configured.
    public let webhooks: WebhookDispatcher?
    /// This node's name in the cluster's presence and stats.
    public let nodeID: String
    /// Set when shutdown begins, so `/ready` turns load balancers away before the drain starts.
    private let stopping = Flag()
    /// The listeners' TLS contexts, read from their files in `run()`; `reloadTLS()` reads them again.
    private let listenerTLS = Mutex<[ListenerTLS]>([])

    /// A flag shared with callbacks created before `self` exists.
    final class Flag: Sendable {
        private let value = Mutex(false)
        /// Sets the flag; returns whether it changed.
        func set(_ newValue: Bool) -> Bool { value.withLock { old in defer { old = newValue }; return old != newValue } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// An action set after the callbacks that call it were created.
    final class Hook: Sendable {
        private let action = Mutex<(@Sendable () -> Void)?>(nil)
        func set(_ newAction: @escaping @Sendable () -> Void) { action.withLock { $0 = newAction } }
        func callAsFunction() { action.withLock { $0 }?() }
    }

    public init(configuration: HeraldConfiguration = HeraldConfiguration(), logger: Logger = Logger(label: "herald")) {
        var configuration = configuration
        // The demo signs its own tokens, so authentication runs with its secret and its room rules.
        if let demo = configuration.demo { configuration.auth = demo.authConfiguration(from: configuration.auth) }
        self.configuration = configuration
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        let metrics = HeraldMetrics(redis: configuration.redis != nil, bootstrapMetricsSystem: configuration.dashboard.bootstrapMetricsSystem)
        self.metrics = metrics
        if let redis = configuration.redis {
            let clusterUp = self.clusterUp, clusterJoined = self.clusterJoined, reconnected = self.redisReconnected
            let redisGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            self.redisGroup = redisGroup
            let changed: @Sendable (Bool) -> Void = { up in
                let first = up && clusterJoined.set(true)
                if clusterUp.set(up) {
                    if up { logger.info("redis connected") } else { logger.warning("redis unreachable: serving this node's clients only until it is back") }
                    if up && !first { reconnected() }
                }
            }
            let bus = switch configuration.redisTopology {
            case .single: RedisClusterBus(configuration: redis, eventLoop: redisGroup.next(), logger: logger, onStateChange: changed)
            case .cluster(let seeds): RedisClusterBus(cluster: seeds, configuration: redis, eventLoop: redisGroup.next(), logger: logger, onStateChange: changed)
            case .sentinel(let sentinels, let masterName):
                RedisClusterBus(sentinels: sentinels, masterName: masterName, configuration: redis, eventLoop: redisGroup.next(),
                                logger: logger, onStateChange: changed)
            }
            self.cluster = bus
            self.io = SocketIOServer(
                configuration: configuration.socketIO, logger: logger,
                adapterFactory: ClusterAdapter.factory(bus: bus, log: bus, logger: logger), metrics: metrics.socketIOMetrics())
        } else {
            self.redisGroup = nil
            self.cluster = nil
            self.io = SocketIOServer(configuration: configuration.socketIO, logger: logger, metrics: metrics.socketIOMetrics())
        }
        auth = configuration.auth.isEnabled ? AuthGateway(configuration: configuration.auth, logger: logger) : nil
        auth?.install(on: io.sockets)
        let nodeID = EngineIOServer.makeSessionID()
        self.nodeID = nodeID
        let presenceStore: any PresenceStore = cluster.map {
            RedisPresenceStore(client: $0.client, node: nodeID, timeout: configuration.presence.nodeTimeout)
        } ?? InMemoryPresenceStore(eventLoop: group.next())
        presence = PresenceTracker(configuration: configuration.presence, store: presenceStore, permissions: configuration.auth.permissions,
                                   authenticated: auth != nil, logger: logger)
        presence.install(on: io.sockets)
        redisReconnected.set { [presence] in presence.storeReconnected() }
        webhooks = configuration.webhooks.isEnabled ? WebhookDispatcher(configuration: configuration.webhooks, node: nodeID, logger: logger) : nil
        if let webhooks {
            presence.setSink { webhooks.presenceChanged($0) }
            webhooks.install(on: io.sockets)
        }
        operations = ClusterOperations(io: io, auth: auth, presence: presence, node: nodeID, logger: logger)
        operations.install()
        (publisher, publishing) = Self.makePublishing(configuration.publishing, io: io, cluster: cluster, logger: logger)
        let clustered = cluster != nil, up = clusterUp, auth = auth, publishing = publishing, edge = io.engine.edgeStats,
            webhooks = webhooks
        dashboard = Dashboard(
            configuration: configuration.dashboard, io: io, clustered: clustered, metrics: metrics, logger: logger,
            redisState: { clustered ? (up.isSet ? "connected" : "unreachable") : "off" },
            gatewayStats: { metrics in
                if let auth { metrics.update(auth: auth.stats) }
                metrics.update(publishing: publishing.currentStats)
                metrics.update(edge: edge)
                if let webhooks { metrics.update(webhooks: webhooks.stats) }
            }, bus: cluster, users: { [presence] in presence.localUsers })
        chat = ChatService(configuration: configuration.chat, logger: logger)
        chat.install(on: io.sockets)
        if let auth {
            // Chat rooms obey the same rules as `subscribe`; the history API wants the same token as the socket.
            chat.setAuthorizer { room, data in
                guard case .object(let claims)? = data?["claims"] else { return false }
                return auth.allows(room, claims: ClaimSet(claims))
            }
            chat.setRequestClaims { request in
                guard let token = AuthGateway.token(auth: .null, headers: request.head.headers),
                      let claims = try? await auth.verify(token)
                else { return nil }
                return ["claims": .object(claims.object)]
            }
        }
        // A recovered socket gets nothing a new connection would not: its chat rooms within the chat cap and,
        // with auth, a valid token for the same user whose claims still grant every room.
        let maxChatRooms = configuration.chat.maxRooms
        io.sockets.gateRecovery { [auth] session, handshake in
            guard session.rooms.count(where: ChatService.isChatRoom) <= maxChatRooms else { return nil }
            guard let auth else { return session.data }
            return await auth.admitRecovery(session, handshake: handshake)
        }
        if let settings = configuration.demo {
            demo = DemoSite(configuration: settings, publisher: publisher, chat: chat, io: io, logger: logger)
        } else {
            demo = nil
        }
        let publicMetrics = !configuration.dashboard.metricsOnAPIListener(apiEnabled: configuration.publishing.apiPort != nil)
        // The public listener's routes beside Engine.IO; anything else is the engine's 404.
        var routes = HTTPRouteTable()
        routes.add(.GET, "/health") { [self] _ in .json(.ok, health.jsonString) }
        routes.add(.GET, "/ready") { [self] _ in
            let (ready, body) = readiness
            return .json(ready ? .ok : .serviceUnavailable, body.jsonString)
        }
        if publicMetrics { routes.add(.GET, "/metrics") { [metrics] _ in metrics.response() } }
        DemoSite.addRoutes(to: &routes, site: demo)
        chat.addHistoryRoute(to: &routes)
        io.engine.setRoutes { [routes] request in await routes.respond(to: request) }
    }

    /// `ok`, or `degraded` while Redis is unreachable (this node's clients are still served).
    public var health: JSONValue {
        var health: JSONObject = ["status": "ok", "sessions": .int(io.engine.sessionCount)]
        if cluster != nil {
            let up = clusterUp.isSet
            health["status"] = up ? "ok" : "degraded"
            health["redis"] = up ? "connected" : "unreachable"
            // On a Redis Cluster, which shards are reachable: what is degraded while a failover runs.
            if let shards = cluster?.shardStates {
                var states = JSONObject()
                for (shard, state) in shards.sorted(by: { $0.key < $1.key }) { states[shard] = .string(state) }
                health["redisShards"] = .object(states)
            }
        }
        return .object(health)
    }

    /// Ready once listening and, with Redis, once Redis has connected; not ready from shutdown on.
    /// A later Redis outage leaves the node ready (the body says `"redis":"unreachable"`): the outage is the
    /// same for every node, each still serves its own clients, and a readiness probe failing on all of them
    /// would take every node out of the load balancer at once. `/health` reports it as `degraded`.
    public var readiness: (ready: Bool, body: JSONValue) {
        let listening = boundAddress.current != nil && !stopping.isSet
        var body: JSONObject = ["listening": .bool(listening)]
        var ready = listening
        if cluster != nil {
            body["redis"] = clusterUp.isSet ? "connected" : "unreachable"
            ready = ready && clusterJoined.isSet
        }
        body["status"] = ready ? "ready" : "not ready"
        return (ready, .object(body))
    }

    /// The address the node listens on, once it does.
    public func listeningAddress() async throws -> SocketAddress {
        try await boundAddress.value()
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
                try await publishing.start(on: cluster)
            } catch {
                logger.error("publishing channels not subscribed", metadata: ["error": "\(error)"])
            }
        }
        let channel: any Channel
        let api: (any Channel)?
        do {
            // Unusable keys stop the start rather than refusing every client later.
            try await auth?.ready()
            // Before listening: a store that cannot open at all (bad SQLite path) stops the node here.
            try await chat.open()
            // Unusable certificate or key files stop the start too.
            var publicTLS: ListenerTLS?
            var apiTLS: ListenerTLS?
            if configuration.tls.isEnabled { publicTLS = try ListenerTLS(configuration.tls, name: "public") }
            if configuration.publishing.apiTLS.isEnabled, configuration.publishing.apiPort != nil {
                apiTLS = try ListenerTLS(configuration.publishing.apiTLS, name: "api")
            }
            let tlsListeners = [publicTLS, apiTLS].compactMap { $0 }
            listenerTLS.withLock { $0 = tlsListeners }
            // The API first: once listeningAddress() answers, apiListeningAddress is known too.
            api = try await bindPublishAPI(tls: apiTLS)
            var transport: (@Sendable (any Channel) throws -> Void)?
            if let publicTLS { transport = { channel in try publicTLS.addHandler(to: channel) } }
            do {
                channel = try await io.bind(host: configuration.host, port: configuration.port, group: group, transport: transport)
            } catch {
                try? await api?.close()
                throw error
            }
        } catch {
            boundAddress.fail(error)
            throw error
        }
        let address = channel.localAddress!
        boundAddress.set(address)
        logger.info("herald listening", metadata: [
            "address": "\(address)",
            "tls": "\(configuration.tls.isEnabled)",
            "path": "\(configuration.socketIO.engine.path)",
            "threads": "\(configuration.threads)",
        ])

        // The node's long-lived loops are child tasks of run(), nested by how long each must live on shutdown:
        // the dashboard and the demo stop first, presence beats through the drain, webhooks send until flushed.
        // Cancelling run() (the service group giving up) cancels them all.
        let (dashboard, presence, webhooks, demo, clustered) = (dashboard, presence, webhooks, demo, cluster != nil)
        await withDiscardingTaskGroup { sending in
            if let webhooks { sending.addTask { await webhooks.run() } }
            await withDiscardingTaskGroup { beating in
                if clustered { beating.addTask { await presence.run() } }
                await withDiscardingTaskGroup { ticking in
                    ticking.addTask { await dashboard.run() }
                    if let demo { ticking.addTask { await demo.run() } }
                    try? await gracefulShutdown()
                    _ = stopping.set(true)
                    ticking.cancelAll()
                }
                await drain()
                beating.cancelAll()
            }
            if clustered { await presence.leaveCluster() }
            if let webhooks { await webhooks.flushed(before: .now + configuration.drainTimeout) }
            sending.cancelAll()
        }
        try? await api?.close()
        try? await channel.close()
        await cluster?.close()
        await chat.close()
        try? await group.shutdownGracefully()
        try? await redisGroup?.shutdownGracefully()
        logger.info("herald stopped")
    }

    /// Reads every listener's certificate and key files again (`herald serve` does on SIGHUP): connections accepted
    /// from now on get the new certificate, open ones keep theirs. A listener whose files are unusable keeps its
    /// current certificate and the error is logged. Returns whether every listener took its new files.
    @discardableResult
    public func reloadTLS() -> Bool {
        var reloaded = true
        for tls in listenerTLS.withLock({ $0 }) {
            do {
                try tls.reload()
                logger.info("TLS certificate reloaded", metadata: ["listener": "\(tls.name)"])
            } catch {
                reloaded = false
                logger.error("TLS certificate not reloaded: the current one stays", metadata: [
                    "listener": "\(tls.name)", "error": "\(error)",
                ])
            }
        }
        return reloaded
    }

    /// Going away so that clients come back elsewhere: `/ready` already answers 503 (`stopping`); new connections
    /// are still taken during the pre-drain delay, then refused while the open ones are closed in paced batches
    /// (recoverable: sessions are saved for connection state recovery), then the last writes get `drainTimeout`.
    private func drain() async {
        logger.info("shutting down: /ready answers 503", metadata: [
            "preDrainDelay": "\(configuration.preDrainDelay)", "drainWindow": "\(configuration.drainWindow)",
            "sessions": "\(io.engine.sessionCount)",
        ])
        // A cancelled sleep (the service group giving up) goes straight on to the drain.
        try? await Task.sleep(for: configuration.preDrainDelay)
        io.engine.refuseNewSessions()
        logger.info("draining: refusing new connections, closing open ones", metadata: ["sessions": "\(io.engine.sessionCount)"])
        let started = ContinuousClock.now
        let deadline = started + configuration.drainWindow + configuration.drainTimeout
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [io, configuration] in await io.drain(over: configuration.drainWindow) }
            // Saving recovery sessions waits on Redis: bounded, so an unreachable Redis cannot hold the exit.
            group.addTask { try? await Task.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
        // Polling sessions closed by their client linger a moment before they leave the table.
        while io.engine.sessionCount > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        logger.info("drained", metadata: [
            "sessions": "\(io.engine.sessionCount)", "milliseconds": "\((ContinuousClock.now - started) / .milliseconds(1))",
        ])
    }
}
