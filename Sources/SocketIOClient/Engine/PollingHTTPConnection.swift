import NIOCore
import NIOHTTP1
import NIOPosix

/// A keep-alive HTTP/1.1 connection that carries one request at a time. The polling transport holds two
/// of them, one for the long-poll GET and one for POSTs, because HTTP/1.1 cannot interleave the two on
/// one connection without pipelining (which Engine.IO servers need not support).
final class PollingHTTPConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    struct Response {
        var status: Int
        var body: ByteBuffer
    }

    private let host: String
    private let port: Int
    private let loop: any EventLoop
    /// Adds the TLS client handler for `https://`; nil for plain HTTP.
    private let transport: (@Sendable (any Channel) throws -> Void)?
    private var channel: (any Channel)?
    private var pending: EventLoopPromise<Response>?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    init(host: String, port: Int, transport: (@Sendable (any Channel) throws -> Void)?, loop: any EventLoop) {
        self.host = host
        self.port = port
        self.transport = transport
        self.loop = loop
    }

    /// Sends a request, connecting first when there is no live connection (the server may have closed an idle one).
    func request(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: ByteBuffer?) -> EventLoopFuture<Response> {
        loop.preconditionInEventLoop()
        precondition(pending == nil, "one request at a time")
        let promise = loop.makePromise(of: Response.self)
        pending = promise
        connectedChannel().whenComplete { result in
            switch result {
            case .failure(let error):
                self.failPending(error)
            case .success(let channel):
                var headers = headers
                headers.replaceOrAdd(name: "Host", value: "\(self.host):\(self.port)")
                headers.replaceOrAdd(name: "Content-Length", value: String(body?.readableBytes ?? 0))
                if body != nil { headers.replaceOrAdd(name: "Content-Type", value: "text/plain;charset=UTF-8") }
                let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }
        }
        return promise.futureResult
    }

    func close() {
        loop.preconditionInEventLoop()
        channel?.close(promise: nil)
        channel = nil
        failPending(ChannelError.ioOnClosedChannel)
    }

    private func connectedChannel() -> EventLoopFuture<any Channel> {
        if let channel, channel.isActive { return loop.makeSucceededFuture(channel) }
        return ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.transport?(channel)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(self)
                }
            }
            .connect(host: host, port: port)
            .map { channel in
                self.channel = channel
                return channel
            }
    }

    private func failPending(_ error: any Error) {
        guard let promise = pending else { return }
        pending = nil
        head = nil
        promise.fail(error)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var part):
            body.writeBuffer(&part)
        case .end:
            guard let head, let promise = pending else { return }
            pending = nil
            self.head = nil
            if !head.isKeepAlive {
                context.close(promise: nil)
                if channel === context.channel { channel = nil }
            }
            promise.succeed(Response(status: Int(head.status.code), body: body))
            body = ByteBuffer()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // An old connection closing must not fail a request already under way on its successor.
        if channel === context.channel {
            channel = nil
            failPending(ChannelError.eof)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failPending(error)
        context.close(promise: nil)
    }
}
