import NIOCore
import NIOHTTP1
// NIOPosix reaches this target through NIOHTTP1's (historical) dependency on `NIO`; Package.swift
// should name it explicitly for this file (see docs/websocket.md).
import NIOPosix

/// Convenience for standalone use (the echo example): bind an HTTP server that upgrades every GET with the right headers, answers other requests with 426 (or 404 for non-GET), and calls onConnection.
public enum WebSocketServer {
    public static func bind(
        host: String,
        port: Int,
        configuration: WebSocketConfiguration,
        group: any EventLoopGroup,
        onConnection: @escaping @Sendable (WebSocketConnection, HTTPRequestHead) -> Void
    ) -> EventLoopFuture<any Channel> {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // No TCP_NODELAY option here: NIO sets it on the listening socket and accepted sockets inherit it (and
            // `.socketOption(.tcp_nodelay)` is SOL_SOCKET's option 1, SO_DEBUG: a syscall per connection for nothing).
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try configure(channel: channel, configuration: configuration, onConnection: onConnection)
                }
            }
            .bind(host: host, port: port)
    }

    /// Sets up the HTTP pipeline with the WebSocket upgrader and the 426/404 fallback.
    static func configure(
        channel: any Channel,
        configuration: WebSocketConfiguration,
        onConnection: @escaping @Sendable (WebSocketConnection, HTTPRequestHead) -> Void
    ) throws {
        let upgrader = WebSocketServerUpgrade.makeUpgrader(
            configuration: configuration,
            shouldUpgrade: { channel, head in
                channel.eventLoop.makeSucceededFuture(head.method == .GET ? HTTPHeaders() : nil)
            },
            upgraded: onConnection
        )
        let fallback = HTTPFallbackHandler()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                // The fallback is an HTTP handler too: drop it once the connection speaks WebSocket.
                context.pipeline.syncOperations.removeHandler(fallback, promise: nil)
            })
        )
        try channel.pipeline.syncOperations.addHandler(fallback)
    }
}

/// Answers requests that were not upgraded: 426 for GET (the client should use WebSocket), 404 otherwise.
final class HTTPFallbackHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let status: HTTPResponseStatus = head.method == .GET ? .upgradeRequired : .notFound
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: "0")
        headers.add(name: "Connection", value: "close")
        if status == .upgradeRequired {
            headers.add(name: "Upgrade", value: "websocket")
            headers.add(name: "Sec-WebSocket-Version", value: "13")
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
