import Logging
import NIOCore
import Synchronization

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

    /// Subscribes to the envelope channel and every bridge's channel or pattern.
    public func start(on subscriber: any PublishSubscriber) async throws {
        try await subscriber.subscribe(channel, pattern: false) { [self] _, payload in receiveEnvelope(payload) }
        for (index, bridge) in bridges.enumerated() {
            switch bridge.source {
            case .channel(let name):
                try await subscriber.subscribe(name, pattern: false) { [self] channel, payload in receive(payload, bridge: index, channel: channel) }
            case .pattern(let pattern):
                try await subscriber.subscribe(pattern, pattern: true) { [self] channel, payload in receive(payload, bridge: index, channel: channel) }
            }
        }
        logger.info("publishing: listening on Redis", metadata: [
            "channel": "\(channel)", "bridges": "\(bridges.map(\.name))",
        ])
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
