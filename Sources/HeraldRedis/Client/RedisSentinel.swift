import Logging
import NIOCore

/// Finds a Sentinel-watched primary: asks each sentinel in turn `SENTINEL GET-MASTER-ADDR-BY-NAME` and takes
/// the first valid answer. A `RedisClient` or `RedisSubscriber` given one asks before every (re)connect, and
/// while it is connected the sentinels' `+switch-master` events (through `monitor`, one subscription for all
/// the clients sharing this value) move it to a new primary at once, even when the old one stays up and keeps
/// answering as a primary for a while (`SENTINEL FAILOVER`). Immutable, so `Sendable` as it is.
public struct RedisSentinel: Sendable {
    public let sentinels: [RedisEndpoint]
    public let masterName: String
    /// TLS and timeouts for talking to the sentinels; no `AUTH` (sentinels keep their own password, if any).
    let configuration: RedisConfiguration
    let logger: Logger
    let monitor: RedisSentinelMonitor

    public init(sentinels: [RedisEndpoint], masterName: String, configuration: RedisConfiguration,
                logger: Logger = Logger(label: "redis.sentinel")) {
        self.sentinels = sentinels
        self.masterName = masterName
        var configuration = configuration
        configuration.username = nil
        configuration.password = nil
        configuration.database = 0
        configuration.connectTimeout = min(configuration.connectTimeout, .seconds(1))
        configuration.commandTimeout = min(configuration.commandTimeout, .seconds(2))
        self.configuration = configuration
        self.logger = logger
        self.monitor = RedisSentinelMonitor(sentinels: sentinels, masterName: masterName, configuration: configuration, logger: logger)
    }

    /// The primary, asked before each connect; only a server answering `ROLE` master is kept.
    var target: RedisReconnector.Target {
        RedisReconnector.Target(resolve: { eventLoop in self.primary(on: eventLoop) }, requirePrimary: true, monitor: monitor)
    }

    /// The primary's address, from the first sentinel that knows it.
    public func primary(on eventLoop: EventLoop) -> EventLoopFuture<RedisEndpoint> {
        Self.ask(sentinels[...], masterName: masterName, configuration: configuration, logger: logger, on: eventLoop)
    }

    static func ask(_ remaining: ArraySlice<RedisEndpoint>, masterName: String, configuration: RedisConfiguration, logger: Logger,
                    on eventLoop: EventLoop) -> EventLoopFuture<RedisEndpoint> {
        guard let sentinel = remaining.first else { return eventLoop.makeFailedFuture(RedisError.notConnected) }
        var target = configuration
        target.host = sentinel.host
        target.port = sentinel.port
        return RedisConnection.make(configuration: target, eventLoop: eventLoop, logger: logger, selectDatabase: false)
            .flatMap { connection in
                connection.sendFuture(RedisCommand("SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName))
                    .always { _ in connection.channel.close(promise: nil) }
            }
            .flatMapThrowing { reply in
                guard let endpoint = Self.endpoint(reply) else { throw RedisError.unexpectedReply(reply) }
                return endpoint
            }
            .flatMapError { error in
                logger.debug("sentinel did not name the primary", metadata: ["sentinel": "\(sentinel)", "error": "\(error)"])
                return ask(remaining.dropFirst(), masterName: masterName, configuration: configuration, logger: logger, on: eventLoop)
            }
    }

    /// `[host, port]` with a host of at most 255 bytes and a port within 1...65535; nil for anything else.
    static func endpoint(_ reply: RESPValue) -> RedisEndpoint? {
        guard let fields = reply.elements, fields.count == 2, let host = fields[0].string, let port = fields[1].string else { return nil }
        return endpoint(host: Substring(host), port: Substring(port))
    }

    static func endpoint(host: Substring, port portText: Substring) -> RedisEndpoint? {
        guard !host.isEmpty, host.utf8.count <= 255, portText.utf8.count <= 5, let port = Int(portText), (1...65535).contains(port)
        else { return nil }
        return RedisEndpoint(host: String(host), port: port)
    }
}
