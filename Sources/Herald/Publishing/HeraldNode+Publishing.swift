import EngineIO
import Logging
import HeraldRedisAdapter
import NIOCore
import SocketIO
import SocketIOProtocol

extension HeraldNode {
    static func makePublishing(_ configuration: PublishingConfiguration, io: SocketIOServer, cluster: RedisClusterBus?,
                               logger: Logger) -> (Publisher, PublishingListener) {
        let memory = InMemoryIdempotencyStore(window: configuration.idempotencyWindow, capacity: configuration.idempotencyCapacity)
        let store: any IdempotencyStore = cluster.map { RedisIdempotencyStore(local: memory, client: $0.client) } ?? memory
        let publisher = Publisher(io: io, idempotency: store)
        let listener = PublishingListener(
            channel: configuration.channel, bridges: configuration.bridges, publisher: publisher, logger: logger)
        return (publisher, listener)
    }

    /// Where the publish API listens, once it does; nil when it is off.
    public var apiListeningAddress: SocketAddress? { apiAddress.withLock { $0 } }

    /// Binds the publish API when a port is configured (over TLS with `tls`).
    func bindPublishAPI(tls: ListenerTLS?) async throws -> (any Channel)? {
        let settings = configuration.publishing
        guard let port = settings.apiPort else { return nil }
        guard let key = settings.apiKey, !key.isEmpty else {
            throw HeraldConfiguration.SettingError(description: "the publish API needs an API key")
        }
        var serveMetrics: (@Sendable () -> HTTPResponse)?
        if configuration.dashboard.metricsOnAPIListener(apiEnabled: true) {
            serveMetrics = { [metrics] in metrics.response() }
        }
        let api = PublishAPI(apiKey: key, publisher: publisher, health: { [io] in
            ["status": "ok", "sessions": .int(io.engine.sessionCount)]
        }, metrics: serveMetrics, server: ServerAPI(
            operations: operations, presence: presence, maxRoomNameBytes: configuration.socketIO.maxRoomNameBytes,
            maxRoomsPerRequest: configuration.auth.limits.maxRooms), maxBatchMessages: settings.maxBatchMessages)
        let channel = try await PublishAPIServer.bind(
            api: api, host: settings.apiHost, port: port, maxBodySize: settings.maxBodySize,
            limits: configuration.socketIO.engine.connectionLimits, tls: tls, group: group)
        apiAddress.withLock { $0 = channel.localAddress }
        logger.info("publish API listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        return channel
    }
}
