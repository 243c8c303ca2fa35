import EngineIO
import NIOCore
import NIOHTTP1
import NIOPosix

/// The publish API's own listener: HTTP/1.1 (over TLS with `tls`), no Engine.IO, kept apart from public traffic. Its
/// connections have the same head size and time limits and keep-alive timeout as the public listener (`limits`);
/// the head timeout counts from the accept, so it bounds a TLS handshake too.
public enum PublishAPIServer {
    public static func bind(api: PublishAPI, host: String, port: Int, maxBodySize: Int,
                            limits: HTTPConnectionLimits = HTTPConnectionLimits(), tls: ListenerTLS? = nil,
                            group: any EventLoopGroup) async throws -> any Channel {
        let timers = HTTPConnectionTimers()
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connectionGuard = HTTPConnectionGuard(limits: limits, timers: timers)
                    let (encoder, others) = limits.makeHTTPServerHandlers()
                    let pipeline = channel.pipeline.syncOperations
                    try tls?.addHandler(to: channel)
                    try pipeline.addHandlers(connectionGuard, encoder)
                    try pipeline.addHandlers(others)
                    try pipeline.addHandler(PublishAPIHandler(api: api, maxBodySize: maxBodySize, connectionGuard: connectionGuard))
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
    private let connectionGuard: HTTPConnectionGuard
    private var head: HTTPRequestHead?
    private var collector = HTTPBodyCollector()

    init(api: PublishAPI, maxBodySize: Int, connectionGuard: HTTPConnectionGuard) {
        self.api = api
        self.maxBodySize = maxBodySize
        self.connectionGuard = connectionGuard
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            connectionGuard.requestHeadReceived()
            collector.begin(head, limit: maxBodySize)
        case .body(let chunk):
            collector.append(chunk)
        case .end:
            guard let head else { return }
            self.head = nil
            let (body, tooLarge) = collector.take()
            let request = HTTPRequestContext(head: head, body: body, bodyTooLarge: tooLarge, remoteAddress: context.channel.remoteAddress)
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
        connectionGuard.responseCompleted()
        HTTPResponseWriter.write(response, method: request.method, version: request.version, keepAlive: request.isKeepAlive,
                                 context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
