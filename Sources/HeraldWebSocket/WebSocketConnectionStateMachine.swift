import NIOCore
import NIOWebSocket

/// The protocol logic of one server connection as a value type: bytes and lifecycle events in,
/// actions out. `WebSocketConnection` only translates between the channel and this machine.
/// `package` for the fuzz target (Fuzz/HeraldFuzz), which drives it with hostile bytes.
package struct WebSocketConnectionStateMachine {
    package enum State: Equatable {
        /// Messages flow both ways.
        case open
        /// We sent Close and wait for the peer's Close (or the timeout).
        case closeSent
        /// Close handshake done or connection failed; TCP is being closed.
        case closing
        /// The channel is inactive.
        case closed
    }

    package enum ReadAction: Equatable {
        /// A complete, validated message for the delegate.
        case deliver(WebSocketMessage)
        /// Write this frame (a Pong) and flush soon.
        case write(ByteBuffer)
        /// Write this Close frame, then close TCP once it is written.
        case writeAndClose(ByteBuffer)
        /// Close TCP now (the peer answered our Close, or failed after it).
        case closeTCP
    }

    package private(set) var state = State.open
    let configuration: WebSocketConfiguration
    var allocator = ByteBufferAllocator()

    private var parser = WebSocketFrameParser()
    /// The frame whose payload is arriving.
    private var frame: (opcode: WebSocketOpcode, fin: Bool, mask: WebSocketMaskingKey, discard: Bool)?
    // The message in progress (possibly fragmented): its opcode, bytes so far, UTF-8 state for text.
    private var messageOpcode: WebSocketOpcode?
    private var message: ByteBuffer?
    private var utf8 = WebSocketUTF8Validator()
    private var receivedClose: (code: WebSocketCloseCode, reason: String)?

    package init(configuration: WebSocketConfiguration) {
        self.configuration = configuration
    }

    /// Whether data frames may still be sent.
    var canSend: Bool { state == .open }
    /// Whether inbound bytes still matter (before any Close was received or the connection failed).
    var isReading: Bool { state == .open || state == .closeSent }

    // MARK: Events

    /// Bytes arrived: parses until an action results (call again for more) or more bytes are needed.
    package mutating func bytesReceived(_ buffer: inout ByteBuffer) -> ReadAction? {
        while isReading, let event = parser.next(&buffer) {
            let action: ReadAction?
            switch event {
            case .header(let header):
                action = headerReceived(header)
            case .payload(let chunk, let maskOffset, let isLastChunk):
                action = payloadReceived(chunk, maskOffset: maskOffset, isLastChunk: isLastChunk)
            }
            if let action { return action }
        }
        return nil
    }

    /// The application asked to close: returns the Close frame to send (then start the timer),
    /// or nil when closing has already started.
    package mutating func closeRequested(code: WebSocketCloseCode, reason: String) -> ByteBuffer? {
        guard state == .open else { return nil }
        state = .closeSent
        return WebSocketFrameBuilder.makeCloseFrame(code: code, reason: reason, allocator: allocator)
    }

    /// The peer did not answer our Close in time: true means close TCP.
    mutating func closeTimerFired() -> Bool {
        guard state == .closeSent else { return false }
        state = .closing
        return true
    }

    /// An I/O error: the connection is going away.
    mutating func errorCaught() {
        if state != .closed { state = .closing }
        resetMessage()
    }

    /// The channel is gone: returns what to report to the delegate, exactly once.
    package mutating func channelClosed() -> (code: WebSocketCloseCode, reason: String)? {
        resetMessage()
        guard state != .closed else { return nil }
        state = .closed
        return receivedClose ?? (.abnormalClosure, "")
    }

    // MARK: Frames

    /// Validates a frame by its header alone, before any of its payload is buffered.
    private mutating func headerReceived(_ header: WebSocketFrameHeader) -> ReadAction? {
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
        if discard { return nil }

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
            return fail(.protocolError)   // reserved opcodes 3–7, B–F
        }
        return nil
    }

    private mutating func payloadReceived(_ chunk: ByteBuffer, maskOffset: Int, isLastChunk: Bool) -> ReadAction? {
        guard let frame else { return nil }
        if isLastChunk { self.frame = nil }
        if frame.discard { return nil }
        switch frame.opcode {
        case .connectionClose:
            return closeReceived(WebSocketMasking.unmasked(chunk, mask: frame.mask, allocator: allocator))
        case .ping:
            guard state == .open else { return nil }
            var pong = allocator.buffer(capacity: WebSocketFrameBuilder.maxServerHeaderSize + chunk.readableBytes)
            let start = WebSocketFrameBuilder.reserveHeader(in: &pong)
            WebSocketMasking.appendUnmasked(chunk, mask: frame.mask, to: &pong)
            WebSocketFrameBuilder.finishFrame(in: &pong, opcode: .pong, payloadStart: start)
            return .write(pong)
        case .pong:
            return nil   // unsolicited pongs are allowed and ignored
        default:
            return dataReceived(chunk, mask: frame.mask, maskOffset: maskOffset, endsFrame: isLastChunk, fin: frame.fin)
        }
    }

    /// Appends a payload chunk of a text/binary/continuation frame; text is validated chunk by
    /// chunk so invalid UTF-8 fails the connection before the rest of the frame arrives.
    private mutating func dataReceived(
        _ chunk: ByteBuffer, mask: WebSocketMaskingKey, maskOffset: Int, endsFrame: Bool, fin: Bool
    ) -> ReadAction? {
        guard let opcode = messageOpcode, message != nil else { return nil }
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
        guard endsFrame, fin else { return nil }
        if isText && !utf8.isComplete { return fail(.invalidFramePayloadData) }
        let payload = message!
        resetMessage()
        guard state == .open else { return nil }   // close() was called while this message arrived
        return .deliver(isText ? .text(payload) : .binary(payload))
    }

    private mutating func closeReceived(_ payload: ByteBuffer) -> ReadAction? {
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
        resetMessage()
        switch state {
        case .open:
            // Echo the peer's code (empty if it sent none), then close TCP once it is written.
            state = .closing
            return .writeAndClose(WebSocketFrameBuilder.makeCloseFrame(code: code, reason: "", allocator: allocator))
        case .closeSent:
            state = .closing
            return .closeTCP
        case .closing, .closed:
            return nil
        }
    }

    /// Fails the connection: a Close with `code` (unless we already sent one), then TCP close.
    private mutating func fail(_ code: WebSocketCloseCode) -> ReadAction? {
        let alreadySentClose = state == .closeSent
        guard state == .open || alreadySentClose else { return nil }
        state = .closing
        resetMessage()
        if alreadySentClose { return .closeTCP }
        return .writeAndClose(WebSocketFrameBuilder.makeCloseFrame(code: code, reason: "", allocator: allocator))
    }

    private mutating func resetMessage() {
        frame = nil
        message = nil
        messageOpcode = nil
    }
}
