import NIOCore
import HeraldWebSocket

/// One lean bench connection: a single handler does the upgrade, Engine.IO open, Socket.IO CONNECT, answers
/// pings, and counts what arrives, all on its event loop. Per-connection state is a few words.
final class BenchClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State: UInt8 { case connecting, upgrading, opening, joining, joined, closed }

    private unowned let loop: BenchLoop
    private let connectPacket: StaticString
    private var state = State.connecting
    /// Index of the server (cluster node) this client is connected to.
    let server: UInt16
    private var startedMicros: UInt64
    private var closing = false
    /// Bytes of a frame (or HTTP head) that straddle two reads; nil almost always.
    private var pending: ByteBuffer?
    private var context: ChannelHandlerContext?
    private var needsFlush = false
    /// broadcast: how many arrived this phase, and the sum of their ids (catches a loss masked by a duplicate).
    var received: UInt32 = 0
    var idSum: UInt64 = 0

    var isJoined: Bool { state == .joined }

    /// `member` joins the bench server's fanout room through the CONNECT auth payload (no extra round trip).
    init(loop: BenchLoop, member: Bool, server: UInt16 = 0, startedMicros: UInt64) {
        self.loop = loop
        self.server = server
        self.connectPacket = member ? "40{\"room\":\"fanout\"}" : "40"
        self.startedMicros = startedMicros
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        state = .upgrading
        context.writeAndFlush(wrapOutboundOut(loop.run.upgradeRequests[Int(server)]), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = BenchWire.joining(&pending, unwrapInboundIn(data))
        if state == .upgrading {
            guard let end = BenchWire.endOfHead(buffer) else { return hold(buffer) }
            guard BenchWire.isSwitchingProtocols(buffer) else {
                let status = buffer.getString(at: buffer.readerIndex + 9, length: 3) ?? "?"
                return fail("upgrade refused: \(status)", context: context)
            }
            buffer.moveReaderIndex(to: end)
            state = .opening
        }
        while state != .closed, let frame = BenchWire.readFrame(&buffer) {
            guard frame.valid else { return fail("masked or fragmented server frame", context: context) }
            handleFrame(opcode: frame.opcode, payload: frame.payload, context: context)
        }
        if buffer.readableBytes > 0 { hold(buffer) }
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    /// Copies the remainder so a tiny tail does not pin a whole receive buffer.
    private func hold(_ buffer: ByteBuffer) {
        var copy = ByteBuffer()
        copy.reserveCapacity(buffer.readableBytes)
        var rest = buffer
        copy.writeBuffer(&rest)
        pending = copy
    }

    private func handleFrame(opcode: UInt8, payload: ByteBuffer, context: ChannelHandlerContext) {
        switch opcode {
        case 0x1:
            handleText(payload, context: context)
        case 0x8:
            context.close(promise: nil)   // the server's close: counted as dropped once inactive
        case 0x9:
            payload.withUnsafeReadableBytes { write(opcode: 0xA, $0) }
        default:
            break
        }
    }

    private func handleText(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        guard let type = payload.getInteger(at: payload.readerIndex, as: UInt8.self) else { return }
        switch type {
        case UInt8(ascii: "2"):                                  // Engine.IO ping
            write("3")
        case UInt8(ascii: "0"):                                  // Engine.IO open
            state = .joining
            write(connectPacket)
        case UInt8(ascii: "1"):
            context.close(promise: nil)
        case UInt8(ascii: "4"):
            let kind = payload.getInteger(at: payload.readerIndex + 1, as: UInt8.self)
            if kind == UInt8(ascii: "2") {
                handleEvent(payload)
            } else if kind == UInt8(ascii: "3") {
                handleAck(payload)
            } else if kind == UInt8(ascii: "0"), state == .joining {
                state = .joined
                loop.handshakeMicros.append(UInt32(clamping: nowMicros() &- startedMicros))
                loop.run.connected.add(1, ordering: .relaxed)
            } else if kind == UInt8(ascii: "4") {
                fail("connect error", context: context)
            }
        default:
            break
        }
    }

    private func handleEvent(_ payload: ByteBuffer) {
        let now = nowMicros()
        loop.deliveries += 1
        loop.lastDeliveryMicros = now
        if BenchWire.hasPrefix(payload, "42[\"broadcast\",") {
            let id = BenchWire.integer(after: "\"id\":", in: payload) ?? 0
            received &+= 1
            idSum &+= id
            if Int(server) < loop.nodeDeliveries.count { loop.nodeDeliveries[Int(server)] += 1 }
            let index = Int(clamping: id)
            let slot = loop.broadcastStride == .max ? index : Int(server) * loop.broadcastStride + index
            if index < loop.broadcastStride, slot < loop.broadcastLastMicros.count,
               let sent = BenchWire.integer(after: "\"t\":", in: payload) {
                loop.broadcastLastMicros[slot] = max(loop.broadcastLastMicros[slot], UInt32(clamping: now &- sent))
            }
        } else if BenchWire.hasPrefix(payload, "42[\"tick\",") {
            guard let seq = BenchWire.integer(after: "\"seq\":", in: payload).map(Int.init),
                  let sent = BenchWire.integer(after: "\"t\":", in: payload),
                  seq < loop.fanoutCount.count
            else { return }
            received &+= 1
            loop.fanoutCount[seq] &+= 1
            loop.fanoutLastMicros[seq] = max(loop.fanoutLastMicros[seq], UInt32(clamping: now &- sent))
        }
    }

    /// The server's acknowledgement of our broadcast echoes its payload, send stamp included.
    private func handleAck(_ payload: ByteBuffer) {
        guard let sent = BenchWire.integer(after: "\"t\":", in: payload) else { return }
        loop.rttMicros.append(UInt32(clamping: nowMicros() &- sent))
        loop.broadcastDriver?.acknowledgedOne()
    }

    // MARK: Sending (on the loop)

    /// `42<ackId>["broadcast",{"id":…,"t":…,"p":"xxx…"}]`; the ack id is the broadcast id (unique per phase).
    func sendBroadcast(id: Int, tail: String) {
        var text = "42\(id)[\"broadcast\",{\"id\":\(id),\"t\":\(nowMicros())"
        text += tail
        sendNow(text)
    }

    /// `42["fanout",{"seq":…,"t":…}]` for the bench server to emit to the room; flushed by the caller's batch.
    func sendFanout(seq: Int) {
        var text = "42[\"fanout\",{\"seq\":\(seq),\"t\":\(nowMicros())}]"
        text.withUTF8 { write(opcode: 0x1, UnsafeRawBufferPointer($0)) }
    }

    func flush() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    private func sendNow(_ text: String) {
        var text = text
        text.withUTF8 { write(opcode: 0x1, UnsafeRawBufferPointer($0)) }
        flush()
    }

    private func write(_ text: StaticString) {
        text.withUTF8Buffer { write(opcode: 0x1, UnsafeRawBufferPointer($0)) }
    }

    /// Writes without flushing: a read that produces several replies flushes them in one syscall.
    private func write(opcode: UInt8, _ payload: UnsafeRawBufferPointer) {
        guard state != .closed, let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: payload.count + 14)
        // The key comes from the loop's cheap generator: unpredictability buys nothing on loopback.
        WebSocketFrameBuilder.writeMaskedFrame(
            opcode: opcode, payload: payload, maskKey: UInt32(truncatingIfNeeded: loop.nextRandom()), into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
        needsFlush = true
    }

    /// Drops the TCP connection (no close handshake: the server treats it as a transport close, which is cheap).
    func close() {
        closing = true
        context?.close(promise: nil)
    }

    private func fail(_ reason: String, context: ChannelHandlerContext) {
        if state == .joined {
            loop.run.dropped.add(1, ordering: .relaxed)
        } else if state != .closed {
            loop.run.fail(reason)
        }
        state = .closed
        closing = true
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .joined where !closing:
            loop.run.dropped.add(1, ordering: .relaxed)
        case .upgrading, .opening, .joining:
            if !closing { loop.run.fail("closed before joining") }
        default:
            break
        }
        state = .closed
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("\(error)", context: context)
    }
}
