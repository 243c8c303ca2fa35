import NIOCore
import NIOWebSocket

/// One server-side WebSocket connection: reads raw bytes after the HTTP upgrade and writes
/// frames it builds itself (unmasked). The protocol rules (framing, fragmentation, UTF-8, close
/// codes, limits, close handshake) live in `WebSocketConnectionStateMachine`; this handler
/// feeds it bytes and events and carries out its actions.
///
/// Backpressure: while the channel is not writable, the connection issues no reads, so a peer that sends (pings,
/// say) without reading what the server writes (pongs) makes it queue at most one read's worth more; reading
/// resumes when the channel is writable again.
///
/// Confined to its channel's event loop. The public methods may be called from other threads:
/// they hop to the loop first.
public final class WebSocketConnection: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Strong; set to nil after `didCloseWith` to break the usual connection <-> delegate cycle.
    public var delegate: (any WebSocketConnectionDelegate)?

    private var machine: WebSocketConnectionStateMachine
    private var context: ChannelHandlerContext?
    private var loop: (any EventLoop)?
    private var flushScheduled = false
    private var closeTimer: Scheduled<Void>?
    /// Bytes of a header or control frame split across reads.
    private var cumulation: ByteBuffer?
    /// A read was asked for while the channel was not writable; issued when it is writable again.
    private var readPending = false

    public init(configuration: WebSocketConfiguration) {
        self.machine = WebSocketConnectionStateMachine(configuration: configuration)
    }

    public var configuration: WebSocketConfiguration { machine.configuration }

    /// The channel's event loop; valid once the handler is in a pipeline.
    public var eventLoop: any EventLoop {
        guard let loop else { preconditionFailure("WebSocketConnection is not in a pipeline yet") }
        return loop
    }

    public var channel: (any Channel)? { context?.channel }
    public var isWritable: Bool { context?.channel.isWritable ?? false }
    public var remoteAddress: SocketAddress? { context?.channel.remoteAddress }

    var state: WebSocketConnectionStateMachine.State { machine.state }

    // MARK: Outbound API

    /// Frames and writes a message; one flush is scheduled per loop tick however many sends happen.
    /// Dropped once closing has started.
    public func send(_ message: WebSocketMessage) {
        if let loop, !loop.inEventLoop {
            loop.execute { self.send(message) }
            return
        }
        guard machine.canSend, let context else { return }
        let frame = WebSocketFrameBuilder.makeFrame(
            opcode: message.opcode, payload: message.payload, allocator: context.channel.allocator)
        context.write(wrapOutboundOut(frame), promise: nil)
        scheduleFlush()
    }

    /// Writes bytes that already are one or more complete frames (e.g. a shared broadcast frame).
    /// No flush: call `flush()` or `scheduleFlush()`. Dropped once closing has started.
    public func write(preframed: ByteBuffer) {
        if let loop, !loop.inEventLoop {
            loop.execute { self.write(preframed: preframed) }
            return
        }
        guard machine.canSend, let context else { return }
        context.write(wrapOutboundOut(preframed), promise: nil)
    }

    /// `write(preframed:)` for a caller known to be on the connection's event loop: no check, no hop (the
    /// broadcast path calls it once per recipient).
    public func writeOnEventLoop(preframed: ByteBuffer) {
        guard machine.canSend, let context else { return }
        context.write(wrapOutboundOut(preframed), promise: nil)
    }

    /// `flush()` for a caller known to be on the connection's event loop.
    public func flushOnEventLoop() {
        guard machine.state != .closed, let context else { return }
        context.flush()
    }

    /// Flushes now.
    public func flush() {
        if let loop, !loop.inEventLoop {
            loop.execute { self.flush() }
            return
        }
        guard machine.state != .closed, let context else { return }
        context.flush()
    }

    /// Flushes at the end of this loop tick; repeated calls in one tick cost one flush.
    public func scheduleFlush() {
        if let loop, !loop.inEventLoop {
            loop.execute { self.scheduleFlush() }
            return
        }
        guard !flushScheduled, let context else { return }
        flushScheduled = true
        context.eventLoop.execute {
            self.flushScheduled = false
            self.context?.flush()
        }
    }

    /// Starts the close handshake: sends Close, then waits `closeTimeout` for the peer's Close
    /// before dropping TCP. Idempotent; a no-op once closing has started.
    public func close(code: WebSocketCloseCode = .normalClosure, reason: String = "") {
        if let loop, !loop.inEventLoop {
            loop.execute { self.close(code: code, reason: reason) }
            return
        }
        guard let context, let frame = machine.closeRequested(code: code, reason: reason) else { return }
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        startCloseTimer(context: context)
    }

    /// Closes TCP after `closeTimeout` unless the close handshake finished first: a peer that never answers our
    /// Close, or never reads the Close we echo, does not keep the connection.
    private func startCloseTimer(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        closeTimer = context.eventLoop.scheduleTask(in: TimeAmount(configuration.closeTimeout)) {
            self.closeTimer = nil
            // `.closing`: our last Close is still not written.
            if self.machine.closeTimerFired() || self.machine.state == .closing { self.context?.close(promise: nil) }
        }
    }

    // MARK: Channel events

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loop = context.eventLoop
        machine.allocator = context.channel.allocator
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        cancelCloseTimer()
        self.context = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard machine.isReading else { return }   // after a Close or a failure: ignore
        if var pending = cumulation {
            // Only a split header or control frame is ever left over, so this copy is small or rare.
            cumulation = nil
            pending.writeBuffer(&incoming)
            process(&pending, context: context)
        } else {
            process(&incoming, context: context)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        cancelCloseTimer()
        cumulation = nil
        if let (code, reason) = machine.channelClosed() {
            delegate?.webSocket(self, didCloseWith: code, reason: reason)
            delegate = nil
        }
        context.fireChannelInactive()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        if writable && readPending {
            readPending = false
            context.read()
        }
        delegate?.webSocket(self, writabilityChanged: writable)
        context.fireChannelWritabilityChanged()
    }

    public func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Protocol violations never get here (the machine handles them); this is an I/O failure.
        machine.errorCaught()
        cumulation = nil
        context.close(promise: nil)
    }

    // MARK: Actions

    private func process(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        while let action = machine.bytesReceived(&buffer) {
            switch action {
            case .deliver(let message):
                delegate?.webSocket(self, didReceive: message)
            case .write(let frame):
                context.write(wrapOutboundOut(frame), promise: nil)
                scheduleFlush()
            case .writeAndClose(let frame):
                let promise = context.eventLoop.makePromise(of: Void.self)
                context.writeAndFlush(wrapOutboundOut(frame), promise: promise)
                promise.futureResult.whenComplete { _ in self.context?.close(promise: nil) }
                startCloseTimer(context: context)
            case .closeTCP:
                cancelCloseTimer()
                context.close(promise: nil)
            }
        }
        if buffer.readableBytes > 0, machine.isReading {
            // At most a header or a control frame (< 140 bytes) is left: copy it rather than pin
            // the whole read buffer to an idle connection.
            var rest = context.channel.allocator.buffer(capacity: buffer.readableBytes)
            rest.writeBuffer(&buffer)
            cumulation = rest
        }
    }

    private func cancelCloseTimer() {
        closeTimer?.cancel()
        closeTimer = nil
    }
}
