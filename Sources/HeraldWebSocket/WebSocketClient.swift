import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// Why a client upgrade did not complete.
public struct WebSocketClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status the server answered instead of 101 (nil when the connection failed before a response).
    public var status: Int?
    public var message: String

    public init(status: Int?, message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { status.map { "websocket upgrade refused (\($0)): \(message)" } ?? message }
}

/// Client side of RFC 6455: opens a TCP connection, upgrades it with NIO's client upgrader and hands back
/// a `WebSocketClientConnection`. NIO's frame decoder/encoder do the framing; the connection adds what a
/// client must do on top (mask every frame, reassemble fragments, validate UTF-8, answer pings, close handshake).
public enum WebSocketClient {
    /// `onMessage`/`onClose` are installed before the 101 is processed, so no message can arrive unobserved.
    /// They are called on the channel's event loop. `transport`, when given, adds the handlers that go in front of
    /// HTTP (a TLS client handler for `wss://`).
    public static func connect(
        host: String,
        port: Int,
        uri: String,
        headers: HTTPHeaders = HTTPHeaders(),
        configuration: WebSocketConfiguration = WebSocketConfiguration(),
        transport: (@Sendable (any Channel) throws -> Void)? = nil,
        eventLoop: any EventLoop,
        onMessage: @escaping @Sendable (WebSocketMessage) -> Void,
        onClose: @escaping @Sendable (WebSocketCloseCode, String) -> Void
    ) -> EventLoopFuture<WebSocketClientConnection> {
        let upgraded = eventLoop.makePromise(of: WebSocketClientConnection.self)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try transport?(channel)
                    let refusal = UpgradeRefusalHandler(promise: upgraded)
                    let upgrader = NIOWebSocketClientUpgrader(
                        maxFrameSize: min(max(configuration.maxFrameSize, 0), Int(UInt32.max)),
                        automaticErrorHandling: false,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                let connection = WebSocketClientConnection(
                                    configuration: configuration, onMessage: onMessage, onClose: onClose)
                                // NIO's completion handler has already removed the refusal handler (HTTP parts only) by now.
                                try channel.pipeline.syncOperations.addHandler(connection)
                                upgraded.succeed(connection)
                            }
                        })
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        // The server's first frames may share a read with the 101: hand them to the frame decoder.
                        leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.syncOperations.removeHandler(refusal, promise: nil)
                        }))
                    try channel.pipeline.syncOperations.addHandler(refusal)
                }
            }
        bootstrap.connect(host: host, port: port).whenComplete { result in
            switch result {
            case .failure(let error):
                upgraded.fail(error)
            case .success(let channel):
                var requestHeaders = headers
                if !requestHeaders.contains(name: "Host") { requestHeaders.add(name: "Host", value: "\(host):\(port)") }
                requestHeaders.add(name: "Content-Length", value: "0")
                let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: requestHeaders)
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                // Whatever ends the channel before the upgrade fails the attempt (a no-op once it succeeded).
                channel.closeFuture.whenComplete { _ in
                    upgraded.fail(WebSocketClientError(status: nil, message: "connection closed during upgrade"))
                }
            }
        }
        return upgraded.futureResult
    }
}

/// Sees the HTTP response only when the server did not switch protocols, and fails the upgrade with its status.
private final class UpgradeRefusalHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let promise: EventLoopPromise<WebSocketClientConnection>

    init(promise: EventLoopPromise<WebSocketClientConnection>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            promise.fail(WebSocketClientError(status: Int(head.status.code), message: head.status.reasonPhrase))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

/// One client-side WebSocket connection. Confined to its event loop; public methods hop there.
public final class WebSocketClientConnection: ChannelInboundHandler, @unchecked Sendable {
    public typealias InboundIn = WebSocketFrame
    public typealias OutboundOut = WebSocketFrame

    public let configuration: WebSocketConfiguration
    private let onMessage: @Sendable (WebSocketMessage) -> Void
    private let onClose: @Sendable (WebSocketCloseCode, String) -> Void
    private var context: ChannelHandlerContext?
    private var loop: (any EventLoop)?
    private var fragments: (opcode: WebSocketOpcode, data: ByteBuffer)?
    private var utf8 = WebSocketUTF8Validator()
    private var closeSent = false
    private var receivedClose: (WebSocketCloseCode, String)?
    private var reported = false

    init(
        configuration: WebSocketConfiguration,
        onMessage: @escaping @Sendable (WebSocketMessage) -> Void,
        onClose: @escaping @Sendable (WebSocketCloseCode, String) -> Void
    ) {
        self.configuration = configuration
        self.onMessage = onMessage
        self.onClose = onClose
    }

    public var eventLoop: any EventLoop { loop! }

    /// Sends a message in one masked frame; dropped once closing has started.
    public func send(_ message: WebSocketMessage) {
        guard let loop else { return }
        guard loop.inEventLoop else { return loop.execute { self.send(message) } }
        guard !closeSent, let context else { return }
        context.writeAndFlush(wrapOutboundOut(Self.maskedFrame(opcode: message.opcode, data: message.payload)), promise: nil)
    }

    /// Starts the close handshake; TCP is dropped when the peer answers or after `closeTimeout`.
    public func close(code: WebSocketCloseCode = .normalClosure) {
        guard let loop else { return }
        guard loop.inEventLoop else { return loop.execute { self.close(code: code) } }
        guard !closeSent, let context else { return }
        closeSent = true
        var payload = context.channel.allocator.buffer(capacity: 2)
        payload.writeInteger(code.rawValue)
        context.writeAndFlush(wrapOutboundOut(Self.maskedFrame(opcode: .connectionClose, data: payload)), promise: nil)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: TimeAmount(configuration.closeTimeout)) { channel.close(promise: nil) }
    }

    /// Client frames must carry a fresh random mask (RFC 6455 5.3); NIO's encoder applies it.
    private static func maskedFrame(opcode: WebSocketOpcode, data: ByteBuffer) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loop = context.eventLoop
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard receivedClose == nil else { return }
        if frame.maskKey != nil { return fail(.protocolError, context: context) }   // servers must not mask
        let payload = frame.unmaskedData
        switch frame.opcode {
        case .ping:
            guard !closeSent else { return }
            context.writeAndFlush(wrapOutboundOut(Self.maskedFrame(opcode: .pong, data: payload)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            var body = payload
            let code = body.readInteger(as: UInt16.self).map(WebSocketCloseCode.init(rawValue:)) ?? .noStatusReceived
            receivedClose = (code, body.readString(length: body.readableBytes) ?? "")
            if closeSent {
                context.close(promise: nil)
            } else {
                closeSent = true
                var echo = context.channel.allocator.buffer(capacity: 2)
                if code != .noStatusReceived { echo.writeInteger(code.rawValue) }
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(Self.maskedFrame(opcode: .connectionClose, data: echo)))
                    .whenComplete { _ in channel.close(promise: nil) }
            }
        case .text, .binary:
            guard fragments == nil else { return fail(.protocolError, context: context) }
            utf8.reset()
            appendData(payload, opcode: frame.opcode, fin: frame.fin, context: context)
        case .continuation:
            guard let opcode = fragments?.opcode else { return fail(.protocolError, context: context) }
            appendData(payload, opcode: opcode, fin: frame.fin, context: context)
        default:
            fail(.protocolError, context: context)
        }
    }

    private func appendData(_ chunk: ByteBuffer, opcode: WebSocketOpcode, fin: Bool, context: ChannelHandlerContext) {
        if opcode == .text, utf8.feed(chunk) != nil { return fail(.invalidFramePayloadData, context: context) }
        var data: ByteBuffer
        if var existing = fragments?.data {
            var chunk = chunk
            existing.writeBuffer(&chunk)
            data = existing
        } else {
            data = chunk
        }
        guard data.readableBytes <= configuration.maxMessageSize else { return fail(.messageTooBig, context: context) }
        guard fin else {
            fragments = (opcode, data)
            return
        }
        fragments = nil
        if opcode == .text {
            guard utf8.isComplete else { return fail(.invalidFramePayloadData, context: context) }
            onMessage(.text(data))
        } else {
            onMessage(.binary(data))
        }
    }

    private func fail(_ code: WebSocketCloseCode, context: ChannelHandlerContext) {
        fragments = nil
        if !closeSent {
            closeSent = true
            var payload = context.channel.allocator.buffer(capacity: 2)
            payload.writeInteger(code.rawValue)
            context.writeAndFlush(wrapOutboundOut(Self.maskedFrame(opcode: .connectionClose, data: payload)), promise: nil)
        }
        context.close(promise: nil)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIO's decoder reports malformed or oversized frames here.
        fail(error as? NIOWebSocketError == .invalidFrameLength ? .messageTooBig : .protocolError, context: context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if !reported {
            reported = true
            let (code, reason) = receivedClose ?? (.abnormalClosure, "")
            onClose(code, reason)
        }
        context.fireChannelInactive()
    }
}
