import Logging
import NIOCore
import Synchronization

/// Tells the clients and subscribers sharing a `RedisSentinel` when the sentinels name a new primary: one
/// subscription to `+switch-master` on one sentinel (the next one after a loss), started with the first client
/// and closed with the last. After each (re)connect to a sentinel, and after a `READONLY` reply (a command sent
/// to a demoted primary), the primary is asked for once more, since an event may have passed unheard.
///
/// Concurrency: lock-protected (`state`); the subscriber keeps its own state on its loop.
final class RedisSentinelMonitor: Sendable {
    static let channel = "+switch-master"
    /// Longest `+switch-master` payload read (a name and two addresses; hosts are at most 255 bytes).
    static let maxEventBytes = 1024

    let sentinels: [RedisEndpoint]
    let masterName: String
    let configuration: RedisConfiguration
    let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var watchers: [ObjectIdentifier: Watcher] = [:]
        var subscriber: RedisSubscriber?
        var nextSentinel = 0
        var asking = false
    }

    private struct Watcher {
        weak var reconnector: RedisReconnector?
    }

    init(sentinels: [RedisEndpoint], masterName: String, configuration: RedisConfiguration, logger: Logger) {
        self.sentinels = sentinels
        self.masterName = masterName
        self.configuration = configuration
        self.logger = logger
    }

    /// Watches for `reconnector`; the first one starts the subscription (on its loop).
    func add(_ reconnector: RedisReconnector) {
        let started = state.withLock { state -> RedisSubscriber? in
            state.watchers[ObjectIdentifier(reconnector)] = Watcher(reconnector: reconnector)
            guard state.subscriber == nil, !sentinels.isEmpty else { return nil }
            state.subscriber = makeSubscriber(on: reconnector.eventLoop)
            return state.subscriber
        }
        guard let started else { return }
        Task {
            // Recorded while disconnected, then sent by the connect's resubscribe.
            try? await started.subscribe(Self.channel)
            try? await started.connect()
        }
    }

    /// Stops watching for `reconnector`; the last one closes the subscription.
    func remove(_ reconnector: RedisReconnector) -> EventLoopFuture<Void> {
        let stopped = state.withLock { state -> RedisSubscriber? in
            state.watchers[ObjectIdentifier(reconnector)] = nil
            guard state.watchers.isEmpty else { return nil }
            defer { state.subscriber = nil }
            return state.subscriber
        }
        guard let stopped else { return reconnector.eventLoop.makeSucceededVoidFuture() }
        return stopped.reconnector.close().hop(to: reconnector.eventLoop)
    }

    /// Asks the sentinels for the primary and tells every watcher (one question at a time).
    func askAgain(on eventLoop: EventLoop) {
        guard state.withLock({ state in defer { state.asking = true }; return !state.asking }) else { return }
        RedisSentinel.ask(sentinels[...], masterName: masterName, configuration: configuration, logger: logger, on: eventLoop)
            .whenComplete { result in
                self.state.withLock { $0.asking = false }
                if case .success(let primary) = result { self.announce(primary) }
            }
    }

    private func announce(_ primary: RedisEndpoint) {
        let watchers = state.withLock { $0.watchers.values.compactMap(\.reconnector) }
        for watcher in watchers { watcher.primaryNamed(primary) }
    }

    private func makeSubscriber(on eventLoop: EventLoop) -> RedisSubscriber {
        let target = RedisReconnector.Target(resolve: { [weak self] eventLoop in
            guard let self else { return eventLoop.makeFailedFuture(RedisError.clientClosed) }
            let index = state.withLock { state in
                defer { state.nextSentinel = (state.nextSentinel + 1) % sentinels.count }
                return state.nextSentinel
            }
            return eventLoop.makeSucceededFuture(sentinels[index])
        }, requirePrimary: false, monitor: nil)
        let masterName = self.masterName
        return RedisSubscriber(
            configuration: configuration, eventLoop: eventLoop, logger: logger,
            onStateChange: { [weak self] state in
                if state == .connected { self?.askAgain(on: eventLoop) }
            },
            target: target
        ) { [weak self] channel, _, payload in
            guard channel == Self.channel, let primary = Self.switched(payload, masterName: masterName) else { return }
            self?.logger.info("Sentinel switched the primary", metadata: ["master": "\(masterName)", "to": "\(primary)"])
            self?.announce(primary)
        }
    }

    /// The new primary in a `+switch-master` event (`name old-host old-port new-host new-port`) for `masterName`;
    /// nil for another master or anything malformed.
    static func switched(_ payload: ByteBuffer, masterName: String) -> RedisEndpoint? {
        guard payload.readableBytes <= maxEventBytes else { return nil }
        let fields = String(buffer: payload).split(separator: " ", maxSplits: 5)
        guard fields.count == 5, fields[0] == masterName else { return nil }
        return RedisSentinel.endpoint(host: fields[3], port: fields[4])
    }
}
