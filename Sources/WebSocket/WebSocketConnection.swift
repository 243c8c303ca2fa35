import NIOCore
import NIOWebSocket

/// One server-side WebSocket connection: reads raw bytes after the HTTP upgrade, parses frames
/// itself (streaming, see `WebSocketFrameParser`), enforces RFC 6455 (masking, fragmentation,
/// control frames, UTF-8, close codes, size limits), answers pings, runs the close handshake
/// and writes frames it builds itself (unmasked).
///
/// Confined to its channel's event loop. The public methods may be called from other threads:
/// they hop to the loop first.
public final class WebSocketConnection: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    public typealias InboundIn = ByteBuffer
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
    private var parser = WebSocketFrameParser()
    /// Bytes of a header or control frame split across reads.
    private var cumulation: ByteBuffer?
    /// The frame whose payload is arriving.
    private var frame: (opcode: WebSocketOpcode, fin: Bool, mask: WebSocketMaskingKey, discard: Bool)?
    // The message in progress (possibly fragmented): its opcode, bytes so far, UTF-8 state for text.
    private var messageOpcode: WebSocketOpcode?
    private var message: ByteBuffer?
    private var utf8 = WebSocketUTF8Validator()
    private var allocator = ByteBufferAllocator()

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
        self.allocator = context.channel.allocator
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        closeTimer = nil
        self.context = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        closeTimer = nil
        message = nil
        messageOpcode = nil
        cumulation = nil
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
        // Protocol violations are handled in channelRead; anything arriving here is an I/O failure.
        if state != .closed { state = .closing }
        context.close(promise: nil)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard state == .open || state == .closeSent else { return }   // after a Close: ignore
        if var pending = cumulation {
            // Only a split header or control frame is ever left over, so this copy is small or rare.
            cumulation = nil
            pending.writeBuffer(&incoming)
            process(&pending)
        } else {
            process(&incoming)
        }
    }

    // MARK: Inbound

    private func process(_ buffer: inout ByteBuffer) {
        while state == .open || state == .closeSent, let event = parser.next(&buffer) {
            switch event {
            case .header(let header):
                receiveHeader(header)
            case .payload(let chunk, let maskOffset, let isLastChunk):
                receivePayload(chunk, maskOffset: maskOffset, isLastChunk: isLastChunk)
            }
        }
        if buffer.readableBytes > 0, state == .open || state == .closeSent {
            // At most a header or a control frame (< 140 bytes) is left: copy it rather than pin
            // the whole read buffer to an idle connection.
            var rest = allocator.buffer(capacity: buffer.readableBytes)
            rest.writeBuffer(&buffer)
            cumulation = rest
        }
    }

    /// Validates a frame by its header alone, before any of its payload is buffered.
    private func receiveHeader(_ header: WebSocketFrameHeader) {
        guard header.reservedBits == 0 else { return fail(.protocolError) }   // no extensions negotiated
        guard let mask = header.maskKey else { return fail(.protocolError) }   // clients must mask
        guard header.length <= UInt64(Int.max) else { return fail(.protocolError) }   // top bit must be 0
        let length = Int(header.length)
        if header.isControl {
            guard header.fin, length <= 125 else { return fail(.protocolError) }
        }
        guard length <= configuration.maxFrameSize else { return fail(.messageTooBig) }
        let opcode = WebSocketOpcode(encodedWebSocketOpcode: header.opcodeBits)!
        // After our Close, data frames are skipped unread; only control frames still matter.
        let discard = state == .closeSent && !header.isControl
        frame = (opcode, header.fin, mask, discard)
        if discard { return }

        switch opcode {
        case .text, .binary:
            guard messageOpcode == nil else { return fail(.protocolError) }
            guard length <= configuration.maxMessageSize else { return fail(.messageTooBig) }
            messageOpcode = opcode
            // Sized for the whole frame (one allocation, one copy), but a peer that merely
            // announces a big frame only gets 64 KiB until the bytes actually arrive.
            message = allocator.buffer(capacity: min(length, 1 << 16))
            utf8.reset()
        case .continuation:
            guard messageOpcode != nil else { return fail(.protocolError) }
            guard length <= configuration.maxMessageSize - (message?.readableBytes ?? 0) else {
                return fail(.messageTooBig)
            }
        case .connectionClose, .ping, .pong:
            break
        default:
            fail(.protocolError)   // reserved opcodes 3–7, B–F
        }
    }

    private func receivePayload(_ chunk: ByteBuffer, maskOffset: Int, isLastChunk: Bool) {
        guard let frame else { return }
        if frame.discard {
            if isLastChunk { self.frame = nil }
            return
        }
        switch frame.opcode {
        case .connectionClose:
            receiveClose(WebSocketMasking.unmasked(chunk, mask: frame.mask, allocator: allocator))
        case .ping:
            guard state == .open, let context else { return }
            var pong = allocator.buffer(capacity: 2 + chunk.readableBytes)
            let start = WebSocketFrameBuilder.reserveHeader(in: &pong)
            WebSocketMasking.appendUnmasked(chunk, mask: frame.mask, to: &pong)
            WebSocketFrameBuilder.finishFrame(in: &pong, opcode: .pong, payloadStart: start)
            context.write(wrapOutboundOut(pong), promise: nil)
            scheduleFlush()
        case .pong:
            break   // unsolicited pongs are allowed and ignored
        default:
            receiveData(chunk, mask: frame.mask, maskOffset: maskOffset, endsFrame: isLastChunk, fin: frame.fin)
        }
        if isLastChunk { self.frame = nil }
    }

    /// Appends a payload chunk of a text/binary/continuation frame; text is validated chunk by
    /// chunk so invalid UTF-8 fails the connection before the rest of the frame arrives.
    private func receiveData(_ chunk: ByteBuffer, mask: WebSocketMaskingKey, maskOffset: Int, endsFrame: Bool, fin: Bool) {
        guard let opcode = messageOpcode, message != nil else { return }
        let start = message!.writerIndex
        WebSocketMasking.appendUnmasked(chunk, mask: mask, maskOffset: maskOffset, to: &message!)
        let isText = opcode == .text
        if isText {
            let added = message!.writerIndex - start
            let invalid = message!.withUnsafeReadableBytes { bytes in
                utf8.feed(UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - added)...]))
            }
            if invalid != nil { return fail(.invalidFramePayloadData) }
        }
        guard endsFrame, fin else { return }
        if isText && !utf8.isComplete { return fail(.invalidFramePayloadData) }
        let payload = message!
        message = nil
        messageOpcode = nil
        guard state == .open else { return }   // close() was called while this message arrived
        delegate?.webSocket(self, didReceive: isText ? .text(payload) : .binary(payload))
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
        message = nil
        messageOpcode = nil
        cumulation = nil
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
        message = nil
        messageOpcode = nil
        cumulation = nil
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
