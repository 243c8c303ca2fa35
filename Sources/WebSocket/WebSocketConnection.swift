import NIOCore
import NIOWebSocket

/// One server-side WebSocket connection: sits after NIO's `WebSocketFrameDecoder`, enforces
/// RFC 6455 (masking, fragmentation, control frames, UTF-8, close codes, size limits), answers
/// pings, runs the close handshake and writes frames it builds itself (unmasked).
///
/// Confined to its channel's event loop. The public methods may be called from other threads:
/// they hop to the loop first.
public final class WebSocketConnection: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    public typealias InboundIn = WebSocketFrame
    public typealias OutboundOut = ByteBuffer

    enum State: Equatable {
        /// Messages flow both ways.
        case open
        /// We sent Close and wait for the peer's Close (or the timeout).
        case closeSent
        /// Close handshake done or connection failed; TCP is being closed.
        case closing
        /// The channel is inactive.
        case closed
    }

    public let configuration: WebSocketConfiguration
    /// Strong; set to nil after `didCloseWith` to break the usual connection <-> delegate cycle.
    public var delegate: (any WebSocketConnectionDelegate)?

    private var context: ChannelHandlerContext?
    private var loop: (any EventLoop)?
    private(set) var state: State = .open
    private var flushScheduled = false
    private var closeTimer: Scheduled<Void>?
    private var receivedClose: (code: WebSocketCloseCode, reason: String)?
    // A fragmented message in progress: its opcode, bytes so far, UTF-8 state for text.
    private var fragmentOpcode: WebSocketOpcode?
    private var fragments: ByteBuffer?
    private var utf8 = WebSocketUTF8Validator()

    public init(configuration: WebSocketConfiguration) {
        self.configuration = configuration
    }

    /// The channel's event loop; valid once the handler is in a pipeline.
    public var eventLoop: any EventLoop {
        guard let loop else { preconditionFailure("WebSocketConnection is not in a pipeline yet") }
        return loop
    }

    public var channel: (any Channel)? { context?.channel }
    public var isWritable: Bool { context?.channel.isWritable ?? false }
    public var remoteAddress: SocketAddress? { context?.channel.remoteAddress }

    // MARK: Outbound API

    /// Frames and writes a message; one flush is scheduled per loop tick however many sends happen.
    public func send(_ message: WebSocketMessage) {
        if let loop, !loop.inEventLoop {
            loop.execute { self.send(message) }
            return
        }
        guard state == .open, let context else { return }
        let frame = WebSocketFrameBuilder.makeFrame(
            opcode: message.opcode, payload: message.payload, allocator: context.channel.allocator)
        context.write(wrapOutboundOut(frame), promise: nil)
        scheduleFlush()
    }

    /// Writes bytes that already are one or more complete frames (e.g. a shared broadcast frame). No flush.
    public func write(preframed: ByteBuffer) {
        if let loop, !loop.inEventLoop {
            loop.execute { self.write(preframed: preframed) }
            return
        }
        guard state == .open, let context else { return }
        context.write(wrapOutboundOut(preframed), promise: nil)
    }

    public func flush() {
        if let loop, !loop.inEventLoop {
            loop.execute { self.flush() }
            return
        }
        guard state != .closed, let context else { return }
        context.flush()
    }

    /// Starts the close handshake: sends Close, then waits `closeTimeout` for the peer's Close
    /// before dropping TCP. Idempotent; a no-op once closing has started.
    public func close(code: WebSocketCloseCode = .normalClosure, reason: String = "") {
        if let loop, !loop.inEventLoop {
            loop.execute { self.close(code: code, reason: reason) }
            return
        }
        guard state == .open, let context else { return }
        state = .closeSent
        let frame = WebSocketFrameBuilder.makeCloseFrame(code: code, reason: reason, allocator: context.channel.allocator)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        closeTimer = context.eventLoop.scheduleTask(in: TimeAmount(configuration.closeTimeout)) {
            self.closeTimer = nil
            self.context?.close(promise: nil)
        }
    }

    private func scheduleFlush() {
        guard !flushScheduled, let context else { return }
        flushScheduled = true
        context.eventLoop.execute {
            self.flushScheduled = false
            self.context?.flush()
        }
    }

    // MARK: Channel events

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loop = context.eventLoop
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        closeTimer = nil
        self.context = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        closeTimer = nil
        fragments = nil
        fragmentOpcode = nil
        if state != .closed {
            state = .closed
            let (code, reason) = receivedClose ?? (.abnormalClosure, "")
            delegate?.webSocket(self, didCloseWith: code, reason: reason)
            delegate = nil
        }
        context.fireChannelInactive()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.webSocket(self, writabilityChanged: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The decoder's limits map onto close codes; anything else is an I/O failure.
        switch error as? NIOWebSocketError {
        case .invalidFrameLength:
            fail(.messageTooBig)
        case .fragmentedControlFrame, .multiByteControlFrameLength:
            fail(.protocolError)
        case nil:
            state = state == .closed ? .closed : .closing
            context.close(promise: nil)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard state == .open || state == .closeSent else { return }   // after a Close: ignore
        guard !frame.rsv1, !frame.rsv2, !frame.rsv3 else { return fail(.protocolError) }   // no extensions negotiated
        guard let mask = frame.maskKey else { return fail(.protocolError) }   // clients must mask

        switch frame.opcode {
        case .text, .binary:
            guard fragmentOpcode == nil else { return fail(.protocolError) }
            guard state == .open else { return }
            guard frame.length <= configuration.maxMessageSize else { return fail(.messageTooBig) }
            let isText = frame.opcode == .text
            if frame.fin {
                let payload = WebSocketMasking.unmasked(frame.data, mask: mask, allocator: context.channel.allocator)
                if isText {
                    guard WebSocketUTF8Validator.isValid(payload) else { return fail(.invalidFramePayloadData) }
                    deliver(.text(payload))
                } else {
                    deliver(.binary(payload))
                }
            } else {
                fragmentOpcode = frame.opcode
                fragments = context.channel.allocator.buffer(capacity: frame.length)
                utf8.reset()
                appendFragment(frame.data, mask: mask, isText: isText)
            }

        case .continuation:
            guard let opcode = fragmentOpcode else { return fail(.protocolError) }
            guard state == .open else { return }
            guard frame.length <= configuration.maxMessageSize - (fragments?.readableBytes ?? 0) else {
                return fail(.messageTooBig)
            }
            let isText = opcode == .text
            guard appendFragment(frame.data, mask: mask, isText: isText) else { return }
            if frame.fin {
                if isText && !utf8.isComplete { return fail(.invalidFramePayloadData) }
                let payload = fragments ?? ByteBuffer()
                fragments = nil
                fragmentOpcode = nil
                deliver(isText ? .text(payload) : .binary(payload))
            }

        case .connectionClose:
            receiveClose(WebSocketMasking.unmasked(frame.data, mask: mask, allocator: context.channel.allocator))

        case .ping:
            guard state == .open else { return }
            var pong = context.channel.allocator.buffer(capacity: 2 + frame.length)
            let start = WebSocketFrameBuilder.reserveHeader(in: &pong)
            WebSocketMasking.appendUnmasked(frame.data, mask: mask, to: &pong)
            WebSocketFrameBuilder.finishFrame(in: &pong, opcode: .pong, payloadStart: start)
            context.write(wrapOutboundOut(pong), promise: nil)
            scheduleFlush()

        case .pong:
            break   // unsolicited pongs are allowed and ignored

        default:
            fail(.protocolError)   // reserved opcodes 3–7, B–F
        }
    }

    // MARK: Inbound helpers

    /// Appends an unmasked fragment; for text, validates just the new bytes (fail fast). Returns false if it failed the connection.
    @discardableResult
    private func appendFragment(_ data: ByteBuffer, mask: WebSocketMaskingKey, isText: Bool) -> Bool {
        let start = fragments!.writerIndex
        WebSocketMasking.appendUnmasked(data, mask: mask, to: &fragments!)
        if isText {
            let added = fragments!.writerIndex - start
            let invalid = fragments!.withUnsafeReadableBytes { bytes in
                utf8.feed(UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - added)...]))
            }
            if invalid != nil {
                fail(.invalidFramePayloadData)
                return false
            }
        }
        return true
    }

    private func deliver(_ message: WebSocketMessage) {
        delegate?.webSocket(self, didReceive: message)
    }

    private func receiveClose(_ payload: ByteBuffer) {
        var payload = payload
        var code: WebSocketCloseCode?
        var reason = ""
        switch payload.readableBytes {
        case 0:
            code = nil
        case 1:
            return fail(.protocolError)
        default:
            let parsed = WebSocketCloseCode(rawValue: payload.readInteger(as: UInt16.self)!)
            guard parsed.isValidOnWire else { return fail(.protocolError) }
            guard WebSocketUTF8Validator.isValid(payload) else { return fail(.invalidFramePayloadData) }
            code = parsed
            reason = payload.readString(length: payload.readableBytes) ?? ""
        }
        receivedClose = (code ?? .noStatusReceived, reason)
        fragments = nil
        fragmentOpcode = nil
        guard let context else { return }
        switch state {
        case .open:
            // Echo the peer's code, then close TCP once the Close is on the wire.
            state = .closing
            let reply = WebSocketFrameBuilder.makeCloseFrame(code: code, reason: "", allocator: context.channel.allocator)
            closeAfterWriting(reply)
        case .closeSent:
            state = .closing
            closeTimer?.cancel()
            closeTimer = nil
            context.close(promise: nil)
        case .closing, .closed:
            break
        }
    }

    /// Fails the connection: sends Close with `code` (unless we already sent one) and closes TCP.
    private func fail(_ code: WebSocketCloseCode) {
        guard let context else { return }
        let alreadySentClose = state == .closeSent
        guard state == .open || alreadySentClose else { return }
        state = .closing
        fragments = nil
        fragmentOpcode = nil
        closeTimer?.cancel()
        closeTimer = nil
        if alreadySentClose {
            context.close(promise: nil)
        } else {
            closeAfterWriting(WebSocketFrameBuilder.makeCloseFrame(code: code, reason: "", allocator: context.channel.allocator))
        }
    }

    private func closeAfterWriting(_ frame: ByteBuffer) {
        guard let context else { return }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(frame), promise: promise)
        promise.futureResult.whenComplete { _ in
            self.context?.close(promise: nil)
        }
    }
}
