import NIOCore
import NIOHTTP1

/// Answers one HTTP request from any event loop. A Sendable value: `respond` hops once to the connection's loop
/// (not at all when already there), where the write happens.
struct HTTPResponder: Sendable {
    let context: NIOLoopBound<ChannelHandlerContext>
    let handler: NIOLoopBound<HTTPServerHandler>
    let keepAlive: Bool
    let version: HTTPVersion
    let extraHeaders: HTTPHeaders
    /// Identifies the request, so a late "connection closed" for an older poll is not mistaken for a newer one.
    let id: UInt64

    func respond(_ response: HTTPResponse) {
        let eventLoop = context.eventLoop
        if eventLoop.inEventLoop {
            write(response)
        } else {
            eventLoop.execute { self.write(response) }
        }
    }

    private func write(_ response: HTTPResponse) {
        let context = self.context.value
        let handler = self.handler.value
        guard handler.finish(requestID: id) else { return }
        var head = HTTPResponseHead(version: version, status: response.status, headers: response.headers)
        head.headers.add(contentsOf: extraHeaders)
        head.headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        if !keepAlive { head.headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        if response.body.readableBytes > 0 {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(response.body))), promise: nil)
        }
        handler.connectionGuard?.responseCompleted()
        if keepAlive {
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        } else {
            let bound = self.context
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
        }
    }

    /// A held poll must end its session if the client goes away first.
    func watchForPrematureClose(session: EngineIOSession) {
        let handler = self.handler
        let id = self.id
        let eventLoop = context.eventLoop
        if eventLoop.inEventLoop {
            handler.value.watch(session: session, requestID: id, responder: self)
        } else {
            eventLoop.execute { handler.value.watch(session: session, requestID: id, responder: self) }
        }
    }
}

/// Collects each HTTP request and hands it to the Engine.IO server or to the application's routes.
///
/// Confined to its channel's event loop.
final class HTTPServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: EngineIOServer
    /// Told where each request is, for the connection's timeouts.
    let connectionGuard: HTTPConnectionGuard?
    private var head: HTTPRequestHead?
    private var collector = HTTPBodyCollector()
    private var requestID: UInt64 = 0
    private var inFlight: UInt64?
    private var watched: (session: EngineIOSession, responder: HTTPResponder)?

    static let name = "engine.io.http"
    let makeUpgradeHandler: () -> HTTPServerUpgradeHandler

    init(server: EngineIOServer, connectionGuard: HTTPConnectionGuard?, makeUpgradeHandler: @escaping () -> HTTPServerUpgradeHandler) {
        self.server = server
        self.connectionGuard = connectionGuard
        self.makeUpgradeHandler = makeUpgradeHandler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            connectionGuard?.requestHeadReceived()
            collector.begin(head, limit: server.isEngineRequest(head.uri) ? server.configuration.maxPayload : server.configuration.maxHTTPBodySize)
        case .body(let chunk):
            collector.append(chunk)
        case .end:
            guard let head else { return }
            self.head = nil
            // The previous upgrade handler removed itself when this request turned out not to upgrade.
            try? context.pipeline.syncOperations.addHandler(makeUpgradeHandler(), position: .before(self))
            requestID &+= 1
            inFlight = requestID
            let responder = HTTPResponder(
                context: NIOLoopBound(context, eventLoop: context.eventLoop),
                handler: NIOLoopBound(self, eventLoop: context.eventLoop),
                keepAlive: head.isKeepAlive,
                version: head.version,
                extraHeaders: server.corsHeaders(for: head),
                id: requestID
            )
            let (body, tooLarge) = collector.take()
            let request = HTTPRequestContext(head: head, body: body, bodyTooLarge: tooLarge, remoteAddress: context.channel.remoteAddress)
            server.handle(request, responder: responder)
        }
    }

    /// Marks the request answered; false if it already was (or the connection is gone).
    func finish(requestID: UInt64) -> Bool {
        guard inFlight == requestID else { return false }
        inFlight = nil
        if watched?.responder.id == requestID { watched = nil }
        return true
    }

    func watch(session: EngineIOSession, requestID: UInt64, responder: HTTPResponder) {
        guard inFlight == requestID else { return }
        watched = (session, responder)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inFlight = nil
        if let (session, responder) = watched {
            watched = nil
            session.eventLoop.execute { session.pollClosedPrematurely(responder) }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        server.logger.debug("HTTP connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// The request id identifies a held poll (see `EngineIOSessionStateMachine.pollClosedPrematurely`).
extension HTTPResponder: Identifiable {}
