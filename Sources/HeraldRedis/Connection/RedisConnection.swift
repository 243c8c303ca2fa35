import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// One Redis connection on one NIO channel, without reconnect (see `RedisClient` for that).
/// Commands are pipelined: any number may be in flight, replies are matched in order.
public final class RedisConnection: RedisCommandSending, Sendable {
    public let channel: Channel
    public var eventLoop: EventLoop { channel.eventLoop }
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }
    public var isActive: Bool { channel.isActive }

    init(channel: Channel) {
        self.channel = channel
    }

    /// Connects, then sends `AUTH` and `SELECT` as the configuration asks.
    public static func connect(
        configuration: RedisConfiguration,
        eventLoop: EventLoop,
        logger: Logger = Logger(label: "redis")
    ) async throws -> RedisConnection {
        try await make(configuration: configuration, eventLoop: eventLoop, logger: logger, selectDatabase: true).get()
    }

    static func make(
        configuration: RedisConfiguration,
        eventLoop: EventLoop,
        logger: Logger,
        selectDatabase: Bool,
        onMessage: RedisChannelHandler.MessageHandler? = nil
    ) -> EventLoopFuture<RedisConnection> {
        let limits = configuration.decoderLimits
        let timeout = TimeAmount(configuration.commandTimeout)
        let tls: (context: NIOSSLContext, serverName: String?)?
        do {
            tls = try configuration.tls.map { try ($0.makeContext(), $0.verifiedName(host: configuration.host)) }
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandlers(
                            NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverName),
                            TLSHandshakeWaiter(promise: channel.eventLoop.makePromise())
                        )
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder(limits: limits)))
                    try channel.pipeline.syncOperations.addHandler(
                        RedisChannelHandler(commandTimeout: timeout, onMessage: onMessage)
                    )
                }
            }
        return bootstrap.connect(host: configuration.host, port: configuration.port).flatMap { channel in
            // With TLS, the connection counts only once the handshake verified the server.
            TLSHandshakeWaiter.wait(on: channel)
        }.flatMap { channel in
            let connection = RedisConnection(channel: channel)
            var handshake: [RedisCommand] = []
            if let password = configuration.password {
                if let username = configuration.username {
                    handshake.append(RedisCommand("AUTH", username, password))
                } else {
                    handshake.append(RedisCommand("AUTH", password))
                }
            }
            if selectDatabase && configuration.database != 0 {
                handshake.append(RedisCommand("SELECT", String(configuration.database)))
            }
            guard !handshake.isEmpty else { return channel.eventLoop.makeSucceededFuture(connection) }
            let replies = handshake.map { connection.sendFuture($0) }
            return EventLoopFuture.andAllSucceed(replies, on: channel.eventLoop)
                .map { connection }
                .flatMapError { error in
                    logger.warning("Redis handshake failed", metadata: ["error": "\(error)"])
                    return channel.close().flatMapThrowing { throw error }
                }
        }
    }

    public func sendFuture(_ command: RedisCommand) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        write(RedisRequest(command: command, promise: promise))
        return promise.futureResult
    }

    /// A write to a closed channel never reaches the handler (it is gone from the pipeline),
    /// so the reply promise is failed here instead of hanging.
    func write(_ request: RedisRequest) {
        if channel.eventLoop.inEventLoop {
            writeOnLoop(request)
        } else {
            channel.eventLoop.execute { self.writeOnLoop(request) }
        }
    }

    func writeOnLoop(_ request: RedisRequest) {
        if channel.isActive {
            channel.write(request, promise: nil)
        } else {
            request.promise?.fail(RedisError.connectionClosed)
        }
    }

    public func sendBatchFuture(_ commands: [RedisCommand]) -> EventLoopFuture<[RESPValue]> {
        let promises = commands.map { _ in channel.eventLoop.makePromise(of: RESPValue.self) }
        // One hop for the whole batch, so it is written (and flushed) in one go.
        eventLoop.execute {
            for (command, promise) in zip(commands, promises) {
                self.writeOnLoop(RedisRequest(command: command, promise: promise))
            }
        }
        return Self.collect(promises.map(\.futureResult), on: channel.eventLoop)
    }

    /// Server error replies become `.error` values in a batch, so one bad command does not hide the rest.
    static func collect(_ futures: [EventLoopFuture<RESPValue>], on eventLoop: EventLoop) -> EventLoopFuture<[RESPValue]> {
        EventLoopFuture.whenAllComplete(futures, on: eventLoop).flatMapThrowing { results in
            try results.map { result in
                switch result {
                case .success(let value): return value
                case .failure(let error as RedisServerError): return .error(error.message)
                case .failure(let error): throw error
                }
            }
        }
    }

    /// Subscribe-family command expecting one confirmation per channel.
    func sendSubscription(_ kind: String, channels: [String]) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        let request = RedisRequest(
            command: RedisCommand(kind.uppercased(), arguments: channels),
            promise: promise,
            confirmationKind: kind,
            expectedReplies: channels.count
        )
        write(request)
        return promise.futureResult
    }

    public func close() async throws {
        do {
            try await channel.close()
        } catch NIOSSLError.uncleanShutdown {
            // Redis closes the socket without answering the TLS close_notify: the connection is closed all the same.
        }
    }
}

/// Completes when the TLS handshake did (or fails with its error), then leaves the pipeline.
final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<Void>

    init(promise: EventLoopPromise<Void>) { self.promise = promise }

    /// The channel once its handshake completed; at once without TLS.
    static func wait(on channel: Channel) -> EventLoopFuture<Channel> {
        guard let waiter = try? channel.pipeline.syncOperations.handler(type: TLSHandshakeWaiter.self) else {
            return channel.eventLoop.makeSucceededFuture(channel)
        }
        return waiter.promise.futureResult.map { channel }.flatMapError { error in
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            promise.succeed()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    /// Removed after the handshake or with a channel that never became active; a settled promise ignores this.
    func handlerRemoved(context: ChannelHandlerContext) {
        promise.fail(RedisError.connectionClosed)
    }
}

extension RedisTLSConfiguration {
    /// A client context verifying the server against `caFile` (or the system roots), presenting the client
    /// certificate when one is configured.
    public func makeContext() throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.trustRoots = .file(caFile) }
        switch (certificateFile, keyFile) {
        case (let certificateFile?, let keyFile?):
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
            // Read as PEM whatever the file is called (NIOSSL's `.file` takes a `.key` file for DER).
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
        case (nil, nil):
            break
        default:
            throw RedisConfigurationError.tlsIncomplete
        }
        return try NIOSSLContext(configuration: tls)
    }

    /// The name checked against the certificate and sent as SNI: `serverName`, else the host unless it is an
    /// IP address (SNI carries no addresses; NIOSSL then checks the peer's address against the certificate).
    public func verifiedName(host: String) -> String? {
        if let serverName { return serverName }
        return (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
