import Logging
import NIOCore
import Synchronization

/// Redis Cluster: commands routed by their key's slot to the slot's primary (one pipelined `RedisClient` per
/// primary), `MOVED`/`ASK` followed, and sharded pub/sub (`SSUBSCRIBE`) with one `RedisSubscriber` per primary.
///
/// The slot map comes from `CLUSTER SLOTS`, asked of the known primaries, then the seeds. It is asked again
/// every `refreshInterval`, every 250 ms while anything is degraded (a shard's connection down, slots
/// unowned), and at once after a `MOVED`, a lost connection or a server-side `sunsubscribe`. When a slot's
/// owner changes (failover, resharding), its sharded channels are subscribed on the new owner and dropped from
/// the old one, so subscriptions come back by themselves.
///
/// Concurrency: lock-protected (`state`); connections are the per-endpoint clients' and subscribers' own.
public final class RedisClusterClient: RedisCommandSending, Sendable {
    public typealias MessageHandler = @Sendable (_ channel: String, _ payload: ByteBuffer) -> Void

    public let eventLoop: EventLoop
    let seeds: [RedisEndpoint]
    let configuration: RedisConfiguration
    let logger: Logger
    /// Time between slot map refreshes while all is well. Default 5 s.
    let refreshInterval: Duration
    private let handler: MessageHandler
    private let onHealthChange: @Sendable (Bool) -> Void
    private let state = Mutex(State())
    private let refreshing = Mutex(false)

    struct State {
        var map = RedisSlotMap()
        var clients: [RedisEndpoint: RedisClient] = [:]
        var subscribers: [RedisEndpoint: RedisSubscriber] = [:]
        /// Plain (cluster-wide) pub/sub, on any primary; the index rotates the candidates after a failed attempt.
        var plain: RedisSubscriber?
        var nextPlain = 0
        var connectionStates: [String: RedisConnectionState] = [:]
        /// Sharded channels subscribed, with the endpoint they are on (nil: to be placed at the next refresh).
        var channels: [String: RedisEndpoint?] = [:]
        var healthy = false
        var closed = false
        var loop: Task<Void, Never>?
        var lastRefreshRequest = ContinuousClock.now - .seconds(1)
    }

    /// `handler` gets sharded messages on the subscribers' event loop; `onHealthChange` says whether every
    /// slot has a primary whose connections are up.
    public init(seeds: [RedisEndpoint], configuration: RedisConfiguration, eventLoop: EventLoop,
                logger: Logger = Logger(label: "redis.cluster"), refreshInterval: Duration = .seconds(5),
                onHealthChange: @escaping @Sendable (Bool) -> Void = { _ in }, handler: @escaping MessageHandler) {
        self.seeds = seeds
        var base = configuration
        base.database = 0  // a cluster has database 0 only
        self.configuration = base
        self.eventLoop = eventLoop
        self.logger = logger
        self.refreshInterval = refreshInterval
        self.onHealthChange = onHealthChange
        self.handler = handler
    }

    /// Reads the slot map and connects to every primary; throws when no seed answers or a primary cannot be
    /// reached (the client keeps refreshing and reconnecting in the background until `close()`).
    public func connect() async throws {
        guard try await refresh() else { throw RedisError.notConnected }
        let clients = state.withLock { Array($0.clients.values) }
        for client in clients { try await client.connect() }
        state.withLock { state in
            guard state.loop == nil, !state.closed else { return }
            state.loop = Task { [weak self] in await self?.refreshLoop() }
        }
    }

    public func close() async {
        let (clients, subscribers, loop) = state.withLock { state in
            state.closed = true
            defer { state.clients = [:]; state.subscribers = [:]; state.plain = nil; state.loop = nil }
            return (Array(state.clients.values), Array(state.subscribers.values) + [state.plain].compactMap { $0 }, state.loop)
        }
        loop?.cancel()
        for subscriber in subscribers { await subscriber.close() }
        for client in clients { await client.close() }
    }

    /// Each primary's connection states (`host:port` → command and subscriber state), for health reports.
    public var shardStates: [String: String] {
        state.withLock { state in
            var shards: [String: String] = [:]
            for primary in state.map.primaries {
                let command = state.connectionStates["c" + primary.description]
                let subscriber = state.connectionStates["s" + primary.description]
                let up = command == .connected && (subscriber == nil || subscriber == .connected)
                shards[primary.description] = up ? "connected" : "unreachable"
            }
            return shards
        }
    }

    public var isHealthy: Bool { state.withLock { $0.healthy } }

    // MARK: commands

    public func sendFuture(_ command: RedisCommand) -> EventLoopFuture<RESPValue> {
        send(command, redirects: 0, asking: nil)
    }

    public func sendBatchFuture(_ commands: [RedisCommand]) -> EventLoopFuture<[RESPValue]> {
        // Each command goes to its own slot's primary; commands on one slot keep their order (one connection).
        RedisConnection.collect(commands.map { sendFuture($0) }, on: eventLoop)
    }

    /// At most this many redirects per command, so two nodes that disagree cannot bounce it forever.
    static let maxRedirects = 3

    private func send(_ command: RedisCommand, redirects: Int, asking: RedisEndpoint?) -> EventLoopFuture<RESPValue> {
        let target: RedisEndpoint?
        if let asking {
            target = asking
        } else {
            target = state.withLock { state in command.key.flatMap { state.map.primary(for: $0) } ?? state.map.primaries.first }
        }
        guard let target, let client = client(for: target) else { return eventLoop.makeFailedFuture(RedisError.notConnected) }
        let reply: EventLoopFuture<RESPValue>
        if asking != nil {
            reply = client.sendBatchFuture([RedisCommand("ASKING"), command]).flatMapThrowing { replies in
                if case .error(let message) = replies[1] { throw RedisServerError(message: message) }
                return replies[1]
            }
        } else {
            reply = client.sendFuture(command)
        }
        return reply.flatMapError { error in
            if let error = error as? RedisServerError, redirects < Self.maxRedirects,
               let redirect = RedisRedirect(error.message, sender: target) {
                if redirect.kind == .moved {
                    self.state.withLock { $0.map.assign(slot: redirect.slot, to: redirect.endpoint) }
                    self.refreshSoon()
                    return self.send(command, redirects: redirects + 1, asking: nil)
                }
                return self.send(command, redirects: redirects + 1, asking: redirect.endpoint)
            }
            if error is RedisError { self.refreshSoon() }
            return self.eventLoop.makeFailedFuture(error)
        }
    }

    private func endpointConfiguration(_ endpoint: RedisEndpoint) -> RedisConfiguration {
        var configuration = self.configuration
        configuration.host = endpoint.host
        configuration.port = endpoint.port
        return configuration
    }

    /// The endpoint's command client, made (and connecting) on first use.
    private func client(for endpoint: RedisEndpoint) -> RedisClient? {
        let (client, isNew) = state.withLock { state -> (RedisClient?, Bool) in
            guard !state.closed else { return (nil, false) }
            if let client = state.clients[endpoint] { return (client, false) }
            let key = "c" + endpoint.description
            let client = RedisClient(configuration: endpointConfiguration(endpoint), eventLoop: eventLoop, logger: logger) { [weak self] connection in
                self?.connectionChanged(key, connection)
            }
            state.clients[endpoint] = client
            state.connectionStates[key] = .connecting
            return (client, true)
        }
        if isNew, let client { client.reconnector.start().whenFailure { _ in } }
        return client
    }

    // MARK: plain pub/sub

    /// A subscriber for plain `SUBSCRIBE`/`PSUBSCRIBE` (a cluster copies every `PUBLISH` to all its nodes, so
    /// any node will do). It connects to a primary of the slot map (else a seed), the next one after a failed
    /// attempt, and moves when its node leaves the map (dead, failed over, or without slots), resubscribing
    /// there by itself. Closed with this client or by its own `close()`.
    public func plainSubscriber(onStateChange: @escaping @Sendable (RedisConnectionState) -> Void,
                                handler: @escaping RedisSubscriber.MessageHandler) -> RedisSubscriber {
        let target = RedisReconnector.Target(resolve: { [weak self] eventLoop in
            guard let self else { return eventLoop.makeFailedFuture(RedisError.clientClosed) }
            let endpoint = state.withLock { state -> RedisEndpoint? in
                var candidates = state.map.primaries
                for seed in seeds where !candidates.contains(seed) { candidates.append(seed) }
                guard !candidates.isEmpty else { return nil }
                defer { state.nextPlain = (state.nextPlain + 1) % candidates.count }
                return candidates[state.nextPlain % candidates.count]
            }
            guard let endpoint else { return eventLoop.makeFailedFuture(RedisError.notConnected) }
            return eventLoop.makeSucceededFuture(endpoint)
        }, requirePrimary: false, monitor: nil)
        let subscriber = RedisSubscriber(configuration: configuration, eventLoop: eventLoop, logger: logger,
                                         onStateChange: onStateChange, target: target, handler: handler)
        state.withLock { $0.plain = subscriber }
        return subscriber
    }

    // MARK: sharded pub/sub

    /// `SSUBSCRIBE`s each channel on its slot's primary. Returns once confirmed, or at once for a shard that is
    /// down (it subscribes when the shard is back, or on the primary that replaces it).
    public func ssubscribe(_ channels: [String]) async throws {
        try await place(channels, retryOnMoved: true)
    }

    public func sunsubscribe(_ channels: [String]) async throws {
        let groups = state.withLock { state -> [RedisEndpoint: [String]] in
            var groups: [RedisEndpoint: [String]] = [:]
            for channel in channels {
                guard let placed = state.channels.removeValue(forKey: channel) else { continue }
                if let endpoint = placed { groups[endpoint, default: []].append(channel) }
            }
            return groups
        }
        for (endpoint, names) in groups {
            guard let subscriber = state.withLock({ $0.subscribers[endpoint] }) else { continue }
            try await subscriber.sunsubscribe(names)
        }
    }

    private func place(_ channels: [String], retryOnMoved: Bool) async throws {
        let groups = state.withLock { state -> [RedisEndpoint: [String]] in
            var groups: [RedisEndpoint: [String]] = [:]
            for channel in channels {
                let owner = state.map.primary(for: channel)
                state.channels[channel] = owner
                if let owner { groups[owner, default: []].append(channel) }
            }
            return groups
        }
        for (endpoint, names) in groups {
            guard let subscriber = subscriber(for: endpoint) else { return }
            do {
                try await subscriber.ssubscribe(names)
            } catch let error as RedisServerError where error.code == "MOVED" && retryOnMoved {
                // The map was stale: read it again and place these channels by it.
                state.withLock { state in for name in names { state.channels[name] = .some(nil) } }
                _ = try? await refresh()
                try await place(names, retryOnMoved: false)
            }
        }
    }

    private func subscriber(for endpoint: RedisEndpoint) -> RedisSubscriber? {
        let (subscriber, isNew) = state.withLock { state -> (RedisSubscriber?, Bool) in
            guard !state.closed else { return (nil, false) }
            if let subscriber = state.subscribers[endpoint] { return (subscriber, false) }
            let key = "s" + endpoint.description
            let handler = self.handler
            let subscriber = RedisSubscriber(
                configuration: endpointConfiguration(endpoint), eventLoop: eventLoop, logger: logger,
                onStateChange: { [weak self] connection in self?.connectionChanged(key, connection) },
                onShardUnsubscribed: { [weak self] channel in self?.serverUnsubscribed(channel, from: endpoint) }
            ) { channel, _, payload in handler(channel, payload) }
            state.subscribers[endpoint] = subscriber
            state.connectionStates[key] = .connecting
            return (subscriber, true)
        }
        if isNew, let subscriber { Task { try? await subscriber.connect() } }
        return subscriber
    }

    /// The server dropped the channel (its slot moved): place it again once the map is read anew.
    private func serverUnsubscribed(_ channel: String, from endpoint: RedisEndpoint) {
        let known = state.withLock { state -> Bool in
            guard case .some(endpoint?) = state.channels[channel] else { return false }
            state.channels[channel] = .some(nil)
            return true
        }
        if known {
            logger.info("Redis Cluster moved a sharded channel", metadata: ["from": "\(endpoint)"])
            refreshSoon()
        }
    }

    // MARK: topology

    private func connectionChanged(_ key: String, _ connection: RedisConnectionState) {
        state.withLock { $0.connectionStates[key] = connection }
        if connection != .connected { refreshSoon() }
        updateHealth()
    }

    private func updateHealth() {
        let changed = state.withLock { state -> Bool? in
            let healthy = state.map.isComplete && state.map.primaries.allSatisfy { primary in
                state.connectionStates["c" + primary.description] == .connected
                    && [nil, .connected].contains(state.connectionStates["s" + primary.description])
            } && !state.channels.values.contains(where: { $0 == nil })
            guard healthy != state.healthy else { return nil }
            state.healthy = healthy
            return healthy
        }
        if let changed { onHealthChange(changed) }
    }

    private func refreshLoop() async {
        while !Task.isCancelled {
            let pause: Duration = isHealthy ? refreshInterval : .milliseconds(250)
            try? await Task.sleep(for: pause)
            if Task.isCancelled { return }
            _ = try? await refresh()
        }
    }

    /// A refresh now unless one ran in the last 100 ms (a shard down fails every command sent to it).
    private func refreshSoon() {
        let now = ContinuousClock.now
        let due = state.withLock { state -> Bool in
            guard !state.closed, now - state.lastRefreshRequest >= .milliseconds(100) else { return false }
            state.lastRefreshRequest = now
            return true
        }
        if due { Task { _ = try? await self.refresh() } }
    }

    /// Reads `CLUSTER SLOTS` from the first node that answers and applies it; false when none answered.
    /// One refresh at a time: a request during one is dropped (that one reads the newest map anyway).
    @discardableResult
    func refresh() async throws -> Bool {
        guard refreshing.withLock({ busy in defer { busy = true }; return !busy }) else { return false }
        defer { refreshing.withLock { $0 = false } }
        let known = state.withLock { $0.map.primaries }
        var candidates = known
        for seed in seeds where !candidates.contains(seed) { candidates.append(seed) }
        for endpoint in candidates {
            guard !state.withLock({ $0.closed }) else { return false }
            var configuration = endpointConfiguration(endpoint)
            configuration.connectTimeout = min(configuration.connectTimeout, .seconds(1))
            configuration.commandTimeout = min(configuration.commandTimeout, .seconds(2))
            guard let connection = try? await RedisConnection.connect(configuration: configuration, eventLoop: eventLoop, logger: logger) else { continue }
            let reply = try? await connection.send("CLUSTER", "SLOTS")
            try? await connection.close()
            guard let reply, let map = RedisSlotMap(clusterSlots: reply, sender: endpoint), !map.primaries.isEmpty else { continue }
            await apply(map)
            return true
        }
        updateHealth()
        return false
    }

    /// Installs `map`: connects new primaries, moves every sharded channel whose slot changed owner (or that
    /// waits to be placed), and closes the connections of nodes that are no longer primaries.
    private func apply(_ map: RedisSlotMap) async {
        let (moves, obsolete, plain) = state.withLock { state -> ([(String, RedisEndpoint?, RedisEndpoint)], [(RedisClient?, RedisSubscriber?)], RedisSubscriber?) in
            if state.map != map {
                logger.info("Redis Cluster slot map", metadata: ["primaries": "\(map.primaries.map(\.description))"])
            }
            state.map = map
            var moves: [(String, RedisEndpoint?, RedisEndpoint)] = []
            for (channel, placed) in state.channels {
                guard let owner = map.primary(for: channel), owner != placed else { continue }
                moves.append((channel, placed, owner))
                state.channels[channel] = owner
            }
            var obsolete: [(RedisClient?, RedisSubscriber?)] = []
            let endpoints = Set(state.clients.keys).union(state.subscribers.keys)
            for endpoint in endpoints where !map.primaries.contains(endpoint) {
                obsolete.append((state.clients.removeValue(forKey: endpoint), state.subscribers.removeValue(forKey: endpoint)))
                state.connectionStates["c" + endpoint.description] = nil
                state.connectionStates["s" + endpoint.description] = nil
            }
            return (moves, obsolete, state.plain)
        }
        let primaries = Set(map.primaries)
        plain?.reconnector.reconnect(unless: { primaries.contains($0) })
        for primary in map.primaries { _ = client(for: primary) }
        var additions: [RedisEndpoint: [String]] = [:]
        var removals: [RedisEndpoint: [String]] = [:]
        for (channel, old, new) in moves {
            additions[new, default: []].append(channel)
            if let old { removals[old, default: []].append(channel) }
        }
        if !moves.isEmpty { logger.info("Redis Cluster sharded channels moved", metadata: ["count": "\(moves.count)"]) }
        for (endpoint, channels) in removals {
            if let subscriber = state.withLock({ $0.subscribers[endpoint] }) { try? await subscriber.sunsubscribe(channels) }
        }
        for (client, subscriber) in obsolete {
            await subscriber?.close()
            await client?.close()
        }
        for (endpoint, channels) in additions {
            try? await subscriber(for: endpoint)?.ssubscribe(channels)
        }
        updateHealth()
    }
}
