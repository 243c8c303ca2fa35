import NIOCore

/// A command on its way to the channel handler, with the promise its reply completes.
struct RedisRequest: Sendable {
    var command: RedisCommand
    var promise: EventLoopPromise<RESPValue>?
    /// For (un)subscribe commands: the confirmation kind (`"subscribe"`...) and how many to expect.
    var confirmationKind: String? = nil
    var expectedReplies: Int = 1
}

/// Matches replies to pipelined commands in FIFO order, coalesces flushes, enforces the command
/// timeout, and in subscriber mode routes pub/sub messages to a closure on the event loop.
///
/// Flushing: writes are never flushed one by one. The first write in a loop tick schedules one
/// flush at the end of the tasks already queued, so a burst of concurrent sends leaves in one
/// `writev` (the dominant cost on loopback, see ARCHITECTURE.md).
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    typealias MessageHandler = @Sendable (_ channel: String, _ pattern: String?, _ payload: ByteBuffer) -> Void
    /// The `pattern` with which a server-initiated `sunsubscribe` reaches the message handler (a NUL-led name
    /// no `psubscribe` of this client uses), so it needs no second callback through the reconnector.
    static let serverUnsubscribed = "\u{0}sunsubscribe"

    private struct Pending {
        var promise: EventLoopPromise<RESPValue>?
        var confirmationKind: String?
        var remaining: Int
        var deadline: NIODeadline
    }

    private var pending = CircularBuffer<Pending>(initialCapacity: 64)
    private let commandTimeout: TimeAmount
    private let onMessage: MessageHandler?
    private var flushScheduled = false
    private var timeoutTask: Scheduled<Void>?
    private var closed = false

    /// `onMessage` non-nil puts the handler in subscriber mode: only then are arrays starting
    /// with "message"/"pmessage"/"smessage" taken as pub/sub traffic rather than replies.
    init(commandTimeout: TimeAmount, onMessage: MessageHandler? = nil) {
        self.commandTimeout = commandTimeout
        self.onMessage = onMessage
    }

    var pendingCount: Int { pending.count }

    // MARK: outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard !closed else {
            request.promise?.fail(RedisError.connectionClosed)
            promise?.fail(RedisError.connectionClosed)
            return
        }
        let deadline = context.eventLoop.now + commandTimeout  // the loop's clock, so tests can drive it
        pending.append(Pending(
            promise: request.promise,
            confirmationKind: request.confirmationKind,
            remaining: request.expectedReplies,
            deadline: deadline
        ))
        if timeoutTask == nil { armTimer(context: context, deadline: deadline) }
        context.write(wrapOutboundOut(request.command.bytes), promise: promise)
        if !flushScheduled {
            flushScheduled = true
            context.eventLoop.assumeIsolated().execute {
                self.flushScheduled = false
                if !self.closed { context.flush() }
            }
        }
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        if onMessage != nil, handlePubSub(context: context, value) { return }
        guard var head = pending.first else {
            // A reply nobody asked for: the stream is out of sync, nothing later can be trusted.
            context.close(promise: nil)
            return
        }
        if case .error(let message) = value {
            pending.removeFirst()
            afterPop(context: context)
            head.promise?.fail(RedisServerError(message: message))
            return
        }
        head.remaining -= 1
        if head.remaining > 0 {
            pending[pending.startIndex] = head
            return
        }
        pending.removeFirst()
        afterPop(context: context)
        head.promise?.succeed(value)
    }

    /// True when `value` was pub/sub traffic (a message, or a (un)subscribe confirmation).
    private func handlePubSub(context: ChannelHandlerContext, _ value: RESPValue) -> Bool {
        guard let frame = value.elements, frame.count >= 3, case .bulkString(let kind?) = frame[0] else {
            return false
        }
        let kindBytes = kind.readableBytesView
        if frame.count == 3, kindBytes.elementsEqual("message".utf8) || kindBytes.elementsEqual("smessage".utf8) {
            if case .bulkString(let channel?) = frame[1], case .bulkString(let payload?) = frame[2] {
                onMessage?(String(buffer: channel), nil, payload)
            }
            return true
        }
        if frame.count == 4, kindBytes.elementsEqual("pmessage".utf8) {
            if case .bulkString(let pattern?) = frame[1], case .bulkString(let channel?) = frame[2],
               case .bulkString(let payload?) = frame[3] {
                onMessage?(String(buffer: channel), String(buffer: pattern), payload)
            }
            return true
        }
        let kindString = String(buffer: kind)
        switch kindString {
        case "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe":
            guard var head = pending.first, head.confirmationKind == kindString else {
                // Server-initiated: a cluster node dropped a sharded subscription (its slot moved, or the node
                // became a replica). The subscriber is told, so the channel can move to the slot's new owner.
                if kindString == "sunsubscribe", case .bulkString(let channel?) = frame[1] {
                    onMessage?(String(buffer: channel), Self.serverUnsubscribed, ByteBuffer())
                }
                return true
            }
            head.remaining -= 1
            if head.remaining > 0 {
                pending[pending.startIndex] = head
            } else {
                pending.removeFirst()
                afterPop(context: context)
                head.promise?.succeed(value)
            }
            return true
        default:
            return false
        }
    }

    // MARK: timeout

    /// One timer for the oldest command only: a timer per command would cost more than the
    /// PUBLISH itself at pipelined rates.
    private func armTimer(context: ChannelHandlerContext, deadline: NIODeadline) {
        timeoutTask = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        timeoutTask = nil
        guard let head = pending.first else { return }
        if head.deadline <= context.eventLoop.now {
            // Replies still owed can't be matched once we give up on one: drop the connection.
            failAll(RedisError.commandTimeout)
            context.close(promise: nil)
        } else {
            armTimer(context: context, deadline: head.deadline)
        }
    }

    private func afterPop(context: ChannelHandlerContext) {
        if pending.isEmpty {
            timeoutTask?.cancel()
            timeoutTask = nil
        }
    }

    // MARK: teardown

    private func failAll(_ error: Error) {
        timeoutTask?.cancel()
        timeoutTask = nil
        let failed = pending
        pending.removeAll()
        for entry in failed { entry.promise?.fail(error) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        failAll(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Decoding errors and socket errors alike leave the stream unusable.
        failAll(error)
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closed = true
        failAll(RedisError.connectionClosed)
    }
}
