import Logging
import NIOCore

/// Finds a Sentinel-watched primary: asks each sentinel in turn `SENTINEL GET-MASTER-ADDR-BY-NAME` and takes
/// the first valid answer. A `RedisClient` or `RedisSubscriber` given one asks before every (re)connect, so
/// after a failover (Sentinel closes the clients of the demoted and the promoted node) it reaches the new
/// primary by itself. Immutable, so `Sendable` as it is.
public struct RedisSentinel: Sendable {
    public let sentinels: [RedisEndpoint]
    public let masterName: String
    /// TLS and timeouts for talking to the sentinels; no `AUTH` (sentinels keep their own password, if any).
    let configuration: RedisConfiguration
    let logger: Logger

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
    }

    var resolver: RedisReconnector.Resolve {
        { eventLoop in self.primary(on: eventLoop) }
    }

    /// The primary's address, from the first sentinel that knows it.
    public func primary(on eventLoop: EventLoop) -> EventLoopFuture<RedisEndpoint> {
        ask(sentinels[...], on: eventLoop)
    }

    private func ask(_ remaining: ArraySlice<RedisEndpoint>, on eventLoop: EventLoop) -> EventLoopFuture<RedisEndpoint> {
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
                return ask(remaining.dropFirst(), on: eventLoop)
            }
    }

    /// `[host, port]` with a host of at most 255 bytes and a port within 1...65535; nil for anything else.
    static func endpoint(_ reply: RESPValue) -> RedisEndpoint? {
        guard let fields = reply.elements, fields.count == 2, let host = fields[0].string, !host.isEmpty, host.utf8.count <= 255,
              let portText = fields[1].string, portText.utf8.count <= 5, let port = Int(portText), (1...65535).contains(port)
        else { return nil }
        return RedisEndpoint(host: host, port: port)
    }
}
