import Logging
import NIOCore

/// A connection in subscribe mode that reconnects and resubscribes by itself.
///
/// Messages go to `handler` on the connection's event loop, in arrival order, with no `Task`
/// per message. Subscriptions are **reference-counted** per kind and name: subscribing twice
/// to a channel needs two unsubscribes before Redis is told `UNSUBSCRIBE`, so independent
/// users (a room in the adapter, a bridge) can share one subscriber safely.
///
/// `subscribe` returns once Redis confirmed. While disconnected it records the subscription
/// and returns at once: the automatic resubscribe after reconnect applies it, and
/// `onStateChange` reports `.connected` only after every recorded subscription is confirmed.
/// It throws only for an error reply (e.g. an ACL `NOPERM`), after which nothing is recorded.
public final class RedisSubscriber: Sendable {
    /// `(channel, pattern?, payload)`; `pattern` is set for `psubscribe` matches.
    public typealias MessageHandler = @Sendable (_ channel: String, _ pattern: String?, _ payload: ByteBuffer) -> Void

    public let configuration: RedisConfiguration
    public var eventLoop: EventLoop { reconnector.eventLoop }
    let reconnector: RedisReconnector
    private let subscriptions: NIOLoopBoundBox<Subscriptions>

    /// Plain, pattern and sharded subscriptions, each with its confirmation verb.
    enum Kind: Int, CaseIterable, Sendable {
        case channel, pattern, shard
        var subscribeVerb: String { ["subscribe", "psubscribe", "ssubscribe"][rawValue] }
        var unsubscribeVerb: String { ["unsubscribe", "punsubscribe", "sunsubscribe"][rawValue] }
    }

    struct Subscriptions {
        var counts: [[String: Int]] = Array(repeating: [:], count: Kind.allCases.count)
        /// Subscribe commands sent and not yet confirmed, so a second subscriber to the same name waits too.
        var inFlight: [[String: EventLoopFuture<Void>]] = Array(repeating: [:], count: Kind.allCases.count)
    }

    /// Nothing happens until `connect()`. `handler` and `onStateChange` run on `eventLoop`.
    /// `onShardUnsubscribed` hears of a sharded channel the server dropped by itself (a Redis Cluster slot
    /// moved); the subscription is forgotten first, so a reconnect does not send it back to the wrong node.
    public convenience init(
        configuration: RedisConfiguration,
        eventLoop: EventLoop,
        logger: Logger = Logger(label: "redis.subscriber"),
        onStateChange: @escaping @Sendable (RedisConnectionState) -> Void = { _ in },
        onShardUnsubscribed: (@Sendable (String) -> Void)? = nil,
        sentinel: RedisSentinel? = nil,
        handler: @escaping MessageHandler
    ) {
        self.init(configuration: configuration, eventLoop: eventLoop, logger: logger, onStateChange: onStateChange,
                  onShardUnsubscribed: onShardUnsubscribed, target: sentinel?.target, handler: handler)
    }

    init(
        configuration: RedisConfiguration,
        eventLoop: EventLoop,
        logger: Logger,
        onStateChange: @escaping @Sendable (RedisConnectionState) -> Void,
        onShardUnsubscribed: (@Sendable (String) -> Void)? = nil,
        target: RedisReconnector.Target?,
        handler: @escaping MessageHandler
    ) {
        let subscriptions = NIOLoopBoundBox.makeBoxSendingValue(Subscriptions(), eventLoop: eventLoop)
        self.configuration = configuration
        self.subscriptions = subscriptions
        self.reconnector = RedisReconnector(
            configuration: configuration,
            eventLoop: eventLoop,
            logger: logger,
            selectDatabase: false,  // pub/sub is not scoped to a database
            onStateChange: onStateChange,
            onMessage: { channel, pattern, payload in
                guard pattern == RedisChannelHandler.serverUnsubscribed else { return handler(channel, pattern, payload) }
                subscriptions.value.counts[Kind.shard.rawValue][channel] = nil
                onShardUnsubscribed?(channel)
            },
            prepare: { connection in Self.resubscribe(subscriptions.value, on: connection) },
            target: target
        )
    }

    /// Waits for the first connection. If it fails this throws, and the subscriber keeps
    /// retrying in the background until `close()`.
    public func connect() async throws {
        try await reconnector.start().get()
    }

    public var state: RedisConnectionState {
        get async throws { try await reconnector.status.get() }
    }

    public func subscribe(_ channels: String...) async throws { try await change(.channel, channels, subscribe: true) }
    public func subscribe(_ channels: [String]) async throws { try await change(.channel, channels, subscribe: true) }
    public func unsubscribe(_ channels: String...) async throws { try await change(.channel, channels, subscribe: false) }
    public func unsubscribe(_ channels: [String]) async throws { try await change(.channel, channels, subscribe: false) }
    public func psubscribe(_ patterns: String...) async throws { try await change(.pattern, patterns, subscribe: true) }
    public func punsubscribe(_ patterns: String...) async throws { try await change(.pattern, patterns, subscribe: false) }
    /// Sharded pub/sub (Redis 7+).
    public func ssubscribe(_ channels: String...) async throws { try await change(.shard, channels, subscribe: true) }
    public func sunsubscribe(_ channels: String...) async throws { try await change(.shard, channels, subscribe: false) }
    public func ssubscribe(_ channels: [String]) async throws { try await change(.shard, channels, subscribe: true) }
    public func sunsubscribe(_ channels: [String]) async throws { try await change(.shard, channels, subscribe: false) }

    /// Stops reconnecting and closes the connection.
    public func close() async {
        try? await reconnector.close().get()
    }

    private func change(_ kind: Kind, _ names: [String], subscribe: Bool) async throws {
        let reconnector = self.reconnector
        let subscriptions = self.subscriptions
        try await eventLoop.flatSubmit {
            subscribe
                ? Self.subscribe(kind, names, subscriptions, reconnector.connection, reconnector.eventLoop)
                : Self.unsubscribe(kind, names, subscriptions, reconnector.connection, reconnector.eventLoop)
        }.get()
    }

    private static func subscribe(
        _ kind: Kind, _ names: [String], _ box: NIOLoopBoundBox<Subscriptions>,
        _ connection: RedisConnection?, _ eventLoop: EventLoop
    ) -> EventLoopFuture<Void> {
        var fresh: [String] = []
        var waits: [EventLoopFuture<Void>] = []
        for name in names {
            let count = box.value.counts[kind.rawValue][name, default: 0]
            box.value.counts[kind.rawValue][name] = count + 1
            if count == 0 && !fresh.contains(name) {
                fresh.append(name)
            } else if let inFlight = box.value.inFlight[kind.rawValue][name] {
                waits.append(inFlight)
            }
        }
        let toSend = fresh
        if let connection, !toSend.isEmpty {
            let sent = send(kind.subscribeVerb, kind, toSend, on: connection)
                .flatMapError { error -> EventLoopFuture<Void> in
                    // Lost or timed out: the recorded subscription is applied by the resubscribe.
                    if error is RedisError { return eventLoop.makeSucceededVoidFuture() }
                    // Refused by the server: forget it again.
                    for name in toSend { decrement(kind, name, box) }
                    return eventLoop.makeFailedFuture(error)
                }
            for name in toSend { box.value.inFlight[kind.rawValue][name] = sent }
            sent.assumeIsolated().whenComplete { _ in
                for name in toSend where box.value.inFlight[kind.rawValue][name] === sent {
                    box.value.inFlight[kind.rawValue][name] = nil
                }
            }
            waits.append(sent)
        }
        return EventLoopFuture.andAllSucceed(waits, on: eventLoop)
    }

    private static func unsubscribe(
        _ kind: Kind, _ names: [String], _ box: NIOLoopBoundBox<Subscriptions>,
        _ connection: RedisConnection?, _ eventLoop: EventLoop
    ) -> EventLoopFuture<Void> {
        var gone: [String] = []
        for name in names where decrement(kind, name, box) { gone.append(name) }
        guard let connection, !gone.isEmpty else { return eventLoop.makeSucceededVoidFuture() }
        // A lost connection has unsubscribed everything anyway; the resubscribe won't include these.
        return send(kind.unsubscribeVerb, kind, gone, on: connection)
            .flatMapError { error in
                error is RedisError ? eventLoop.makeSucceededVoidFuture() : eventLoop.makeFailedFuture(error)
            }
    }

    /// True when the count reached zero (the name is no longer subscribed).
    @discardableResult
    private static func decrement(_ kind: Kind, _ name: String, _ box: NIOLoopBoundBox<Subscriptions>) -> Bool {
        guard let count = box.value.counts[kind.rawValue][name] else { return false }
        if count > 1 {
            box.value.counts[kind.rawValue][name] = count - 1
            return false
        }
        box.value.counts[kind.rawValue][name] = nil
        return true
    }

    /// Sharded commands go one channel each: in a cluster, one command's channels must share a slot.
    private static func send(_ verb: String, _ kind: Kind, _ names: [String], on connection: RedisConnection) -> EventLoopFuture<Void> {
        let groups = kind == .shard ? names.map { [$0] } : [names]
        let sent = groups.map { connection.sendSubscription(verb, channels: $0) }
        return EventLoopFuture.andAllSucceed(sent, on: connection.eventLoop)
    }

    private static func resubscribe(_ subscriptions: Subscriptions, on connection: RedisConnection) -> EventLoopFuture<Void> {
        var sent: [EventLoopFuture<Void>] = []
        for kind in Kind.allCases {
            let names = Array(subscriptions.counts[kind.rawValue].keys)
            if !names.isEmpty { sent.append(send(kind.subscribeVerb, kind, names, on: connection)) }
        }
        return EventLoopFuture.andAllSucceed(sent, on: connection.eventLoop)
    }
}
