import NIOCore
import NIOHTTP1

/// Limits an HTTP listener puts on each connection, in size and in time. Shared by the public (Engine.IO)
/// listener and the private publish API listener.
public struct HTTPConnectionLimits: Sendable, Hashable {
    /// Time a request head (request line and headers) has to arrive completely, counted from the connection's
    /// accept, or from the first byte of a later request on a keep-alive connection. A connection that sends
    /// nothing in that time is closed; one that sent part of a head gets 408 and is closed. Default 10 s
    /// (Node's `headersTimeout` and nginx's `client_header_timeout` are 60 s; a browser sends its head at once).
    public var requestHeadTimeout: Duration
    /// Time an idle keep-alive connection (no request in progress) stays open. Default 65 s: longer than the idle
    /// timeout of the proxies in front (nginx's upstream `keepalive_timeout` and AWS load balancers: 60 s), so the
    /// proxy, never the node, closes an idle upstream connection (Node's 5 s default makes proxies reuse connections
    /// the node is closing: spurious 502s), and shorter than nginx's client `keepalive_timeout` (75 s).
    public var keepAliveTimeout: Duration
    /// Largest request head in bytes (request line and headers, each header field too); a larger one is answered
    /// 431 and the connection closed. Default 16 KiB, Node's `maxHeaderSize` (nginx: 8 KiB per line, 32 KiB in all).
    public var maxRequestHeadSize: Int
    /// Response bytes a connection may have waiting to be sent when another response is written; over it the
    /// connection is closed (a client that sends requests and never reads the answers). Default 4 MiB, like
    /// `EngineIOConfiguration.maxBufferedBytes`.
    public var maxUnsentResponseBytes: Int

    public init(requestHeadTimeout: Duration = .seconds(10), keepAliveTimeout: Duration = .seconds(65),
                maxRequestHeadSize: Int = 16 * 1024, maxUnsentResponseBytes: Int = 4 << 20) {
        self.requestHeadTimeout = requestHeadTimeout
        self.keepAliveTimeout = keepAliveTimeout
        self.maxRequestHeadSize = maxRequestHeadSize
        self.maxUnsentResponseBytes = maxUnsentResponseBytes
    }

    /// The HTTP decoder's limits for these settings.
    var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        let size = max(1, maxRequestHeadSize)
        limits.maxHeaderFieldSize = size
        limits.maxHeaderListSize = size
        return limits
    }

    /// The HTTP server handlers (response encoder, request decoder with these limits, pipelining, error answers)
    /// to add after a `HTTPConnectionGuard`.
    public func makeHTTPServerHandlers() -> (encoder: HTTPResponseEncoder, others: [any RemovableChannelHandler & ChannelHandler]) {
        let encoder = HTTPResponseEncoder()
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: decoderLimits))
        return (encoder, [decoder, HTTPServerPipelineHandler(), HTTPRequestErrorHandler()])
    }
}

/// The first handler of every HTTP connection of a listener: closes a connection whose request head does not
/// arrive in time or that stays idle between requests too long, closes one whose client sends requests but does
/// not read the answers (unsent responses over `maxUnsentResponseBytes`), and answers a refused connection with
/// 503. Reads are never withheld: a held poll's connection must keep reading (a read withheld on a writability
/// flag made python-socketio's polling sessions hang now and then). The HTTP handlers tell it where each request is
/// (`requestHeadReceived`, `responseCompleted`); after a websocket upgrade it leaves the pipeline
/// (`connectionUpgraded`): the Engine.IO heartbeat then governs the connection, and frames pay nothing for it.
///
/// One timer per connection, on its loop's `LoopTimers` (see `HTTPConnectionTimers`), armed only between requests:
/// none while a request is being answered (a held poll) and none after an upgrade.
///
/// Confined to its channel's event loop.
public final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler, LoopTimerTarget {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    enum Phase: Equatable {
        /// Waiting for a request head; `started` once its first byte came.
        case awaitingHead(started: Bool)
        /// At least one request is being answered.
        case inRequest
        /// Keep-alive: the last response went out, no request started since.
        case idle
        /// Refused: the first bytes get `refusal`, then the connection closes.
        case refusing
        /// Upgraded to a websocket, or closed: nothing more to do.
        case done
    }

    private let limits: HTTPConnectionLimits
    private let stats: EngineIOEdgeStats?
    private let refusal: ByteBuffer?
    private(set) var phase: Phase
    private var inFlight = 0
    private let timersByLoop: HTTPConnectionTimers
    private var timers: LoopTimers?
    package var loopTimer = LoopTimer()
    private var context: ChannelHandlerContext?

    /// - Parameters:
    ///   - timers: the listener's timers, shared by all its connections.
    ///   - refusal: when set, the connection is refused: its first bytes are answered with these (a complete HTTP
    ///     response) and it is closed.
    public init(limits: HTTPConnectionLimits, timers: HTTPConnectionTimers, stats: EngineIOEdgeStats? = nil, refusal: ByteBuffer? = nil) {
        self.limits = limits
        self.timersByLoop = timers
        self.stats = stats
        self.refusal = refusal
        self.phase = refusal == nil ? .awaitingHead(started: false) : .refusing
    }

    // MARK: Told by the HTTP handlers

    /// A request head was decoded: no head timer until its response is out.
    public func requestHeadReceived() {
        inFlight += 1
        if phase != .done && phase != .refusing {
            phase = .inRequest
            cancelTimer()
        }
    }

    /// A response was handed to the channel; with nothing else in progress the idle timer starts. Without
    /// keep-alive the connection closes once the response is written, and the timer ends it if the client never
    /// reads it.
    public func responseCompleted() {
        inFlight = max(0, inFlight - 1)
        if let context, let unsent = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes),
           unsent > limits.maxUnsentResponseBytes {
            phase = .done
            cancelTimer()
            context.close(promise: nil)
            return
        }
        guard phase == .inRequest, inFlight == 0 else { return }
        phase = .idle
        arm(limits.keepAliveTimeout)
    }

    /// The connection became a websocket: the guard leaves the pipeline.
    public func connectionUpgraded() {
        phase = .done
        cancelTimer()
        guard let context else { return }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    // MARK: Channel events

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        timers = timersByLoop.byLoop.timers(for: context.eventLoop)
        if context.channel.isActive { channelBecameActive(context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        self.context = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        channelBecameActive(context)
        context.fireChannelActive()
    }

    private func channelBecameActive(_ context: ChannelHandlerContext) {
        guard !loopTimer.isArmed, case .awaitingHead(started: false) = phase else {
            if phase == .refusing, !loopTimer.isArmed { arm(limits.requestHeadTimeout) }
            return
        }
        arm(limits.requestHeadTimeout)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .awaitingHead(started: false):
            phase = .awaitingHead(started: true)
        case .idle:
            phase = .awaitingHead(started: true)
            arm(limits.requestHeadTimeout)
        case .refusing:
            phase = .done
            cancelTimer()
            if let refusal { context.writeAndFlush(wrapOutboundOut(refusal), promise: nil) }
            context.close(promise: nil)
            return
        case .awaitingHead(started: true), .inRequest, .done:
            break
        }
        context.fireChannelRead(data)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        phase = .done
        cancelTimer()
        context.fireChannelInactive()
    }

    // MARK: Timer

    private func arm(_ delay: Duration) {
        guard context != nil, let timers else { return }
        timers.arm(self, after: TimeAmount(delay))
    }

    private func cancelTimer() {
        timers?.cancel(self)
    }

    /// Called by the loop's timers when the armed deadline passes.
    package func loopTimerFired() {
        guard let context else { return }
        switch phase {
        case .awaitingHead(started: false), .refusing:
            stats?.requestHeadTimedOut()
            phase = .done
            context.close(promise: nil)
        case .awaitingHead(started: true):
            stats?.requestHeadTimedOut()
            phase = .done
            var response = context.channel.allocator.buffer(capacity: 80)
            response.writeStaticString("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(response), promise: nil)
            context.close(promise: nil)
        case .idle:
            stats?.keepAliveTimedOut()
            phase = .done
            context.close(promise: nil)
        case .inRequest, .done:
            break
        }
    }

    /// A complete `503 Service Unavailable` with `Retry-After` and a JSON body, for a refused connection or handshake.
    public static func serviceUnavailable(
        retryAfter seconds: Int, reason: EngineIORefusalReason = .busy, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> ByteBuffer {
        let body = HTTPResponse.refusalBody(retryAfter: seconds, reason: reason)
        var buffer = allocator.buffer(capacity: 160 + body.utf8.count)
        buffer.writeString("HTTP/1.1 503 Service Unavailable\r\nRetry-After: \(seconds)\r\nContent-Type: application/json\r\n")
        buffer.writeString("Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        return buffer
    }
}

/// The request head and keep-alive timers of a listener's connections: one `LoopTimers` per event loop. A listener
/// makes one and gives it to each connection's `HTTPConnectionGuard`.
///
/// Lock-protected (each loop's timers are confined to their loop).
public final class HTTPConnectionTimers: Sendable {
    package let byLoop = LoopTimersByLoop()

    public init() {}

    /// Timer entries queued on all loops, stale ones included (see `LoopTimers`).
    public func entryCount() async -> Int {
        await byLoop.entryCount()
    }
}

/// Answers a request the HTTP decoder refused: 431 for a head over the size limit, 400 for anything else, each
/// with `Connection: close` (the decoder then closes the connection). Replaces NIO's
/// `HTTPServerProtocolErrorHandler`, which answers 400 to everything.
///
/// Confined to its channel's event loop.
public final class HTTPRequestErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    private var responseInProgress = false

    public init() {}

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError, !responseInProgress {
            let tooLarge = error == .headerOverflow
            let response: HTTPResponse = tooLarge
                ? .json(.requestHeaderFieldsTooLarge, #"{"error":"request header fields too large"}"#)
                : .json(.badRequest, #"{"error":"bad request"}"#)
            var head = HTTPResponseHead(version: .http1_1, status: response.status, headers: response.headers)
            head.headers.add(name: "Connection", value: "close")
            head.headers.add(name: "Content-Length", value: String(response.body.readableBytes))
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            responseInProgress = false
        }
        context.fireErrorCaught(error)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: responseInProgress = true
        case .end: responseInProgress = false
        default: break
        }
        context.write(data, promise: promise)
    }
}

extension HTTPResponse {
    /// The JSON body of a 503 refusal.
    static func refusalBody(retryAfter seconds: Int, reason: EngineIORefusalReason) -> String {
        #"{"error":"\#(reason.rawValue)","retryAfter":\#(seconds)}"#
    }

    /// 503 with `Retry-After` and a JSON body: the server refuses a new session for now.
    public static func serviceUnavailable(retryAfter seconds: Int, reason: EngineIORefusalReason = .busy) -> HTTPResponse {
        var response = HTTPResponse.json(.serviceUnavailable, refusalBody(retryAfter: seconds, reason: reason))
        response.headers.add(name: "Retry-After", value: String(seconds))
        return response
    }
}
