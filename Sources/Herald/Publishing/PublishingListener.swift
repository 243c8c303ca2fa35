import HeraldRedisAdapter
import Logging
import NIOCore
import Synchronization

/// Where publishing's messages come from: Redis pub/sub channels and patterns, each with one handler that gets
/// the channel a message came on. `RedisClusterBus` is one (its subscriber connection, kept across reconnects).
public protocol PublishingSource: Sendable {
    func subscribe(channel: String, namedHandler: @escaping @Sendable (String, ByteBuffer) -> Void) async throws
    func subscribe(pattern: String, handler: @escaping @Sendable (String, ByteBuffer) -> Void) async throws
}

extension RedisClusterBus: PublishingSource {}

/// The Redis side of publishing: the envelope channel and the bridges, delivered to this node's clients.
///
/// Every node subscribes and every node receives each message, so delivery is `.local`: each node
/// serves its own members, and nothing is fanned out twice.
public final class PublishingListener: Sendable {
    public let channel: String
    public let bridges: [BridgeDefinition]
    private let publisher: Publisher
    private let logger: Logger
    private let stats: Mutex<PublishingStats>

    public init(channel: String, bridges: [BridgeDefinition], publisher: Publisher, logger: Logger) {
        self.channel = channel
        self.bridges = bridges
        self.publisher = publisher
        self.logger = logger
        var stats = PublishingStats()
        stats.bridges = bridges.map { ($0.name, PublishingStats.Counters()) }
        self.stats = Mutex(stats)
    }

    public var currentStats: PublishingStats { stats.withLock { $0 } }

    /// What a message on one channel or pattern is for: the envelope, or bridge number `index`.
    enum Route: Sendable { case envelope, bridge(Int) }

    /// Subscribes to the envelope channel and every bridge's channel or pattern, each name once (a source keeps
    /// one handler per name): a message goes to every route on its name, in configuration order.
    public func start(on source: any PublishingSource) async throws {
        var channels: [(name: String, routes: [Route])] = [(channel, [.envelope])]
        var patterns: [(name: String, routes: [Route])] = []
        for (index, bridge) in bridges.enumerated() {
            switch bridge.source {
            case .channel(let name):
                if let at = channels.firstIndex(where: { $0.name == name }) { channels[at].routes.append(.bridge(index)) } else { channels.append((name, [.bridge(index)])) }
            case .pattern(let pattern):
                if let at = patterns.firstIndex(where: { $0.name == pattern }) { patterns[at].routes.append(.bridge(index)) } else { patterns.append((pattern, [.bridge(index)])) }
            }
        }
        for (name, routes) in channels {
            try await source.subscribe(channel: name) { [self] channel, payload in receive(payload, channel: channel, routes: routes) }
        }
        for (pattern, routes) in patterns {
            try await source.subscribe(pattern: pattern) { [self] channel, payload in receive(payload, channel: channel, routes: routes) }
        }
        logger.info("publishing: listening on Redis", metadata: [
            "channel": "\(channel)", "bridges": "\(bridges.map(\.name))",
        ])
    }

    private func receive(_ payload: ByteBuffer, channel: String, routes: [Route]) {
        for route in routes {
            switch route {
            case .envelope: receiveEnvelope(payload)
            case .bridge(let index): receive(payload, bridge: index, channel: channel)
            }
        }
    }

    /// One envelope message; a bad one is logged and counted, never thrown.
    public func receiveEnvelope(_ payload: ByteBuffer) {
        do {
            let request = try PublishRequest(json: payload)
            let outcome = publisher.publish(request, scope: .local)
            stats.withLock { stats in
                switch outcome {
                case .delivered: stats.envelope.delivered += 1
                case .duplicate: stats.envelope.duplicates += 1
                case .unknownNamespace: stats.envelope.bad += 1
                }
            }
            if outcome == .unknownNamespace {
                logger.warning("publishing: envelope for a namespace this server does not serve", metadata: [
                    "channel": "\(channel)", "namespace": "\(request.namespace)",
                ])
            }
        } catch {
            stats.withLock { $0.envelope.bad += 1 }
            logger.warning("publishing: bad message on the envelope channel", metadata: [
                "channel": "\(channel)", "error": "\(error)", "payload": "\(Self.excerpt(payload))",
            ])
        }
    }

    /// One message for bridge number `index`.
    public func receive(_ payload: ByteBuffer, bridge index: Int, channel: String) {
        let bridge = bridges[index]
        do {
            let request = try bridge.request(for: payload)
            let outcome = publisher.publish(request, scope: .local)
            stats.withLock { stats in
                switch outcome {
                case .delivered: stats.bridges[index].counters.delivered += 1
                case .duplicate: stats.bridges[index].counters.duplicates += 1
                case .unknownNamespace: stats.bridges[index].counters.bad += 1
                }
            }
            if outcome == .unknownNamespace {
                logger.warning("publishing: bridge for a namespace this server does not serve", metadata: [
                    "bridge": "\(bridge.name)", "namespace": "\(request.namespace)",
                ])
            }
        } catch {
            stats.withLock { $0.bridges[index].counters.bad += 1 }
            logger.warning("publishing: bad message on a bridged channel", metadata: [
                "bridge": "\(bridge.name)", "channel": "\(channel)", "error": "\(error)", "payload": "\(Self.excerpt(payload))",
            ])
        }
    }

    /// Enough of a bad payload to recognize it, not enough to flood the log.
    static func excerpt(_ payload: ByteBuffer) -> String {
        let limit = 200
        let text = String(decoding: payload.readableBytesView.prefix(limit), as: UTF8.self)
        return payload.readableBytes > limit ? text + "…" : text
    }
}
