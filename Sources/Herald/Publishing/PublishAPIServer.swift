import EngineIO
import NIOCore
import NIOHTTP1
import NIOPosix

/// The publish API's own listener: plain HTTP/1.1, no Engine.IO, kept apart from public traffic.
public enum PublishAPIServer {
    public static func bind(api: PublishAPI, host: String, port: Int, maxBodySize: Int, group: any EventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(PublishAPIHandler(api: api, maxBodySize: maxBodySize))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

/// Collects one request at a time (NIO's pipeline handler holds pipelined ones back) and answers it.
final class PublishAPIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let api: PublishAPI
    private let maxBodySize: Int
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var bodyTooLarge = false

    init(api: PublishAPI, maxBodySize: Int) {
        self.api = api
        self.maxBodySize = maxBodySize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
            // Refuse by the declared length up front, so nothing of a huge body is kept.
            bodyTooLarge = head.headers.first(name: "content-length").flatMap(Int.init).map { $0 > maxBodySize } ?? false
        case .body(var chunk):
            guard !bodyTooLarge else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > maxBodySize {
                bodyTooLarge = true
                body = nil
            } else if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let request = HTTPRequestContext(head: head, body: body, bodyTooLarge: bodyTooLarge, remoteAddress: context.channel.remoteAddress)
            body = nil
            // The answer waits for the cluster to take the event; NIO's pipeline handler holds later requests back.
            let api = self.api
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            Task {
                let response = await api.respond(to: request)
                eventLoop.execute { bound.value.handler.write(response, for: head, context: bound.value.context) }
            }
        }
    }

    private func write(_ response: HTTPResponse, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        var head = HTTPResponseHead(version: request.version, status: response.status, headers: response.headers)
        head.headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        let keepAlive = request.isKeepAlive
        if !keepAlive { head.headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if response.body.readableBytes > 0, request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
