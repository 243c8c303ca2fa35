import Logging
import NIOCore

/// Keeps one connection up: reconnects with exponential backoff + jitter after a loss, runs a
/// preparation step (the subscriber's resubscribe) on each new connection, and reports state.
/// All state lives on `eventLoop`; the connection's channel is on the same loop, so a command
/// costs one hop at most.
final class RedisReconnector: Sendable {
    /// Runs on the loop for each new connection before it counts as connected.
    typealias Prepare = @Sendable (RedisConnection) -> EventLoopFuture<Void>
    /// Where to connect, asked before each attempt (Sentinel); nil connects to the configuration's host.
    typealias Resolve = @Sendable (EventLoop) -> EventLoopFuture<RedisEndpoint>

    /// A resolved target: where to ask, whether the server must say `ROLE` master, and the monitor that tells
    /// of a new primary between reconnects.
    struct Target: Sendable {
        let resolve: Resolve
        let requirePrimary: Bool
        let monitor: RedisSentinelMonitor?
    }

    let eventLoop: EventLoop
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let selectDatabase: Bool
    private let onStateChange: @Sendable (RedisConnectionState) -> Void
    private let onMessage: RedisChannelHandler.MessageHandler?
    private let prepare: Prepare?
    private let target: Target?
    private let box: NIOLoopBoundBox<State>

    private struct State {
        var connection: RedisConnection?
        var status: RedisConnectionState = .connecting
        var attempt = 0
        var started = false
        var closed = false
        var retry: Scheduled<Void>?
        var firstConnect: [EventLoopPromise<Void>] = []
        /// With a target: where the connection (or the attempt under way) goes, and the primary most recently
        /// named (by the resolve or the monitor); a connection elsewhere is dropped.
        var endpoint: RedisEndpoint?
        var primary: RedisEndpoint?
    }

    init(
        configuration: RedisConfiguration,
        eventLoop: EventLoop,
        logger: Logger,
        selectDatabase: Bool,
        onStateChange: @escaping @Sendable (RedisConnectionState) -> Void,
        onMessage: RedisChannelHandler.MessageHandler? = nil,
        prepare: Prepare? = nil,
        target: Target? = nil
    ) {
        self.target = target
        self.onMessage = onMessage
        self.prepare = prepare
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
        self.selectDatabase = selectDatabase
        self.onStateChange = onStateChange
        self.box = .makeBoxSendingValue(State(), eventLoop: eventLoop)
    }

    /// Loop-only: the live connection, if any.
    var connection: RedisConnection? { box.value.connection }

    var status: EventLoopFuture<RedisConnectionState> {
        eventLoop.submit { self.box.value.status }
    }

    /// Starts connecting (once); the future completes with the first attempt's outcome.
    /// After a failed first attempt it keeps retrying in the background, like after a loss.
    func start() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            if self.box.value.closed { return self.eventLoop.makeFailedFuture(RedisError.clientClosed) }
            if self.box.value.connection != nil { return self.eventLoop.makeSucceededVoidFuture() }
            let promise = self.eventLoop.makePromise(of: Void.self)
            self.box.value.firstConnect.append(promise)
            if !self.box.value.started {
                self.box.value.started = true
                self.target?.monitor?.add(self)
                self.attemptConnect()
            }
            return promise.futureResult
        }
    }

    func close() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            guard !self.box.value.closed else { return self.eventLoop.makeSucceededVoidFuture() }
            self.box.value.closed = true
            self.box.value.retry?.cancel()
            self.box.value.retry = nil
            self.settleFirstConnect(.failure(RedisError.clientClosed))
            self.setStatus(.closed)
            let unwatched = self.target?.monitor?.remove(self) ?? self.eventLoop.makeSucceededVoidFuture()
            guard let connection = self.box.value.connection else { return unwatched }
            self.box.value.connection = nil
            return connection.channel.close().recover { _ in }.and(unwatched).map { _ in }
        }
    }

    /// The sentinels named `endpoint` as the primary (a failover, possibly with the old primary still up and
    /// still answering `ROLE` master): a connection elsewhere is closed and the reconnect asks again.
    func primaryNamed(_ endpoint: RedisEndpoint) {
        eventLoop.execute {
            self.box.value.primary = endpoint
            self.reconnectOnLoop(unless: { $0 == endpoint })
        }
    }

    /// Closes the connection when its server is not one `wanted` accepts (it left the topology); the reconnect
    /// resolves the target anew.
    func reconnect(unless wanted: @escaping @Sendable (RedisEndpoint) -> Bool) {
        eventLoop.execute { self.reconnectOnLoop(unless: wanted) }
    }

    private func reconnectOnLoop(unless wanted: (RedisEndpoint) -> Bool) {
        guard let connection = box.value.connection, let current = box.value.endpoint, !wanted(current) else { return }
        logger.info("Redis server left the topology; reconnecting elsewhere", metadata: ["from": "\(current)"])
        connection.channel.close(promise: nil)
    }

    private func attemptConnect() {
        let made: EventLoopFuture<RedisConnection>
        if let target {
            // Sentinel: connect where the sentinels say the primary is, and only if it says it is one (a
            // sentinel may not have seen a failover yet).
            let (configuration, eventLoop, logger, selectDatabase, onMessage) = (configuration, eventLoop, logger, selectDatabase, onMessage)
            let box = self.box
            made = target.resolve(eventLoop).flatMap { endpoint in
                box.value.endpoint = endpoint
                if target.requirePrimary { box.value.primary = endpoint }
                var server = configuration
                server.host = endpoint.host
                server.port = endpoint.port
                return RedisConnection.make(configuration: server, eventLoop: eventLoop, logger: logger,
                                            selectDatabase: selectDatabase, onMessage: onMessage)
            }.flatMap { connection in
                guard target.requirePrimary else { return eventLoop.makeSucceededFuture(connection) }
                return connection.sendFuture(RedisCommand("ROLE")).flatMapThrowing { reply -> RedisConnection in
                    // A primary named while this attempt was under way wins over the one it asked for.
                    guard reply.elements?.first?.string == "master", box.value.endpoint == box.value.primary else {
                        throw RedisError.unexpectedReply(reply)
                    }
                    return connection
                }.flatMapError { error in
                    connection.channel.close(promise: nil)
                    return eventLoop.makeFailedFuture(error)
                }
            }
        } else {
            made = RedisConnection.make(
                configuration: configuration,
                eventLoop: eventLoop,
                logger: logger,
                selectDatabase: selectDatabase,
                onMessage: onMessage
            )
        }
        made.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                self.connected(connection)
            case .failure(let error):
                self.logger.debug("Redis connect failed", metadata: ["error": "\(error)"])
                self.settleFirstConnect(.failure(error))
                self.scheduleRetry()
            }
        }
    }

    private func connected(_ connection: RedisConnection) {
        if box.value.closed {
            connection.channel.close(promise: nil)
            return
        }
        // Published before `prepare` so that subscriptions made while it runs go to this connection.
        box.value.connection = connection
        connection.closeFuture.assumeIsolated().whenComplete { _ in self.lost(connection) }
        let prepared = prepare?(connection) ?? eventLoop.makeSucceededVoidFuture()
        prepared.assumeIsolated().whenComplete { result in
            guard self.box.value.connection === connection else { return }
            switch result {
            case .success:
                if self.box.value.attempt > 0 {
                    self.logger.info("Redis reconnected", metadata: ["attempts": "\(self.box.value.attempt)"])
                }
                self.box.value.attempt = 0
                self.setStatus(.connected)
                self.settleFirstConnect(.success(()))
            case .failure(let error):
                self.logger.warning("Redis connection setup failed", metadata: ["error": "\(error)"])
                self.settleFirstConnect(.failure(error))
                connection.channel.close(promise: nil)  // `lost` schedules the retry
            }
        }
    }

    private func lost(_ connection: RedisConnection) {
        guard box.value.connection === connection else { return }
        box.value.connection = nil
        guard !box.value.closed else { return }
        logger.warning("Redis connection lost; reconnecting")
        scheduleRetry()
    }

    private func scheduleRetry() {
        guard !box.value.closed else { return }
        box.value.attempt += 1
        let attempt = box.value.attempt
        setStatus(.reconnecting(attempt: attempt))
        let delay = RedisBackoff(configuration: configuration).delay(attempt: attempt, random: Double.random(in: 0...1))
        box.value.retry = eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) {
            self.box.value.retry = nil
            self.attemptConnect()
        }
    }

    private func settleFirstConnect(_ result: Result<Void, Error>) {
        let waiting = box.value.firstConnect
        box.value.firstConnect = []
        for promise in waiting { promise.completeWith(result) }
    }

    private func setStatus(_ status: RedisConnectionState) {
        guard box.value.status != status else { return }
        box.value.status = status
        onStateChange(status)
    }
}
