import NIOCore
import NIOPosix
import Synchronization
import HeraldWebSocket

/// Counts shared by every reconnect client; touched once per connection attempt, never per event.
final class ReconnectCounters: Sendable {
    let connected = Atomic<Int>(0)
    /// Joined clients that lost their connection, and joins after such a loss.
    let disconnects = Atomic<Int>(0)
    let reconnects = Atomic<Int>(0)
    let recovered = Atomic<Int>(0)
    let failedAttempts = Atomic<Int>(0)
    let refused503 = Atomic<Int>(0)
    let refused1013 = Atomic<Int>(0)
    /// Socket.IO DISCONNECT from the server: by the official client's rules ("io server disconnect") it stays away.
    let serverDisconnects = Atomic<Int>(0)
    let errors = BenchRun(upgradeRequests: [])
}

/// What one event loop's reconnect clients record. Confined to `eventLoop`; read with `submit` at the end.
final class ReconnectLoop: @unchecked Sendable {
    let eventLoop: any EventLoop
    let counters: ReconnectCounters
    let settings: ReconnectSettings
    var clients: [ReconnectClient] = []
    /// Handshakes (TCP connect → Socket.IO CONNECT reply) of reconnections, per node, in µs.
    var reconnectHandshakes: [[UInt32]]
    private var random: UInt64

    init(eventLoop: any EventLoop, counters: ReconnectCounters, settings: ReconnectSettings, seed: UInt64) {
        self.eventLoop = eventLoop
        self.counters = counters
        self.settings = settings
        reconnectHandshakes = Array(repeating: [], count: settings.nodes.count)
        random = seed | 1
    }

    /// Uniform in [0, 1): the backoff's `Math.random()`.
    func nextUnit() -> Double {
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return Double(random >> 11) / Double(1 << 53)
    }
}

/// Everything a reconnect client needs that is the same for all of them.
struct ReconnectSettings: Sendable {
    enum Pick: String, Sendable { case next, random, same }

    let nodes: [SocketAddress]
    let upgradeRequests: [ByteBuffer]
    /// The CONNECT auth object's members other than pid/offset, e.g. `"token":"…"` (no braces).
    let authMembers: String
    let recovery: Bool
    let pick: Pick
    /// The official client's defaults here: 1 s, 5 s, 0.5.
    let initialDelayMs: Double
    let maxDelayMs: Double
    let randomization: Double
    /// An attempt that has not joined after this is abandoned and counts as failed.
    let attemptTimeout: TimeAmount
}

/// One Socket.IO client that comes back like socket.io-client: on a lost transport it waits the backoff
/// (backo2: `min(initial · 2^attempts, max)` moved by ±`randomization`, reset once connected) and tries again,
/// sending its pid and last offset when recovery is on. Confined to its loop (hence `@unchecked Sendable`).
final class ReconnectClient: @unchecked Sendable {
    enum State { case idle, connecting, joined, waiting, gaveUp, stopped }

    unowned let loop: ReconnectLoop
    private(set) var state = State.idle
    private(set) var node: Int
    private var attempts = 0
    private var attemptStarted: UInt64 = 0
    private var hasJoined = false
    private var pid: String?
    private var offset: String?
    private var channel: (any Channel)?
    /// The current attempt's handler: calls from an older attempt's connection are ignored.
    private var handler: ReconnectHandler?
    private var attemptTimer: Scheduled<Void>?
    /// Event numbers seen (bit per number) and repeats.
    private(set) var seen: [UInt64] = []
    private(set) var duplicates = 0

    init(loop: ReconnectLoop, node: Int) {
        self.loop = loop
        self.node = node
    }

    func start() { attempt() }

    func stop() {
        state = .stopped
        attemptTimer?.cancel()
        channel?.close(promise: nil)
    }

    /// Distinct events in `1...last` received.
    func received(upTo last: Int) -> Int {
        var count = 0
        for number in 1...max(last, 1) where number <= last && isSeen(number) { count += 1 }
        return count
    }

    /// The first `limit` numbers in `1...last` not received.
    func missing(upTo last: Int, limit: Int) -> [Int] {
        var numbers: [Int] = []
        var number = 1
        while number <= last && numbers.count < limit {
            if !isSeen(number) { numbers.append(number) }
            number += 1
        }
        return numbers
    }

    private func isSeen(_ number: Int) -> Bool {
        let word = number >> 6
        return word < seen.count && seen[word] & (1 << UInt64(number & 63)) != 0
    }

    // MARK: Attempts

    private func attempt() {
        guard state != .stopped, state != .gaveUp else { return }
        state = .connecting
        attemptStarted = nowMicros()
        let settings = loop.settings
        let handler = ReconnectHandler(client: self, request: settings.upgradeRequests[node])
        self.handler = handler
        let address = settings.nodes[node]
        attemptTimer = loop.eventLoop.scheduleTask(in: settings.attemptTimeout) { [self] in
            guard state == .connecting else { return }
            failed("attempt timed out")
        }
        ClientBootstrap(group: loop.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .connect(to: address)
            .hop(to: loop.eventLoop)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    if state == .connecting { self.channel = channel } else { channel.close(promise: nil) }
                case .failure(let error):
                    if state == .connecting { failed("connect: \(error)") }
                }
            }
    }

    /// A failed attempt: counted, then the backoff.
    func failed(_ reason: String, refusal: Int? = nil) {
        guard state == .connecting else { return }
        attemptTimer?.cancel()
        switch refusal {
        case 503: loop.counters.refused503.add(1, ordering: .relaxed)
        case 1013: loop.counters.refused1013.add(1, ordering: .relaxed)
        default:
            loop.counters.failedAttempts.add(1, ordering: .relaxed)
            loop.counters.errors.fail(reason)
        }
        handler = nil
        channel?.close(promise: nil)
        channel = nil
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        guard state != .stopped, state != .gaveUp else { return }
        state = .waiting
        let settings = loop.settings
        var delay = settings.initialDelayMs * Double(1 << min(attempts, 20))
        attempts += 1
        if settings.randomization > 0 {
            let rand = loop.nextUnit()
            let deviation = (rand * settings.randomization * delay).rounded(.down)
            delay = Int(rand * 10) & 1 == 0 ? delay - deviation : delay + deviation
        }
        delay = min(delay, settings.maxDelayMs)
        switch settings.pick {
        case .same: break
        case .next: node = (node + 1) % settings.nodes.count
        case .random: node = Int(loop.nextUnit() * Double(settings.nodes.count)) % settings.nodes.count
        }
        loop.eventLoop.scheduleTask(in: .milliseconds(Int64(delay))) { [self] in attempt() }
    }

    // MARK: From the connection

    var connectPacket: String {
        var auth = loop.settings.authMembers
        if loop.settings.recovery, let pid {
            if !auth.isEmpty { auth += "," }
            auth += "\"pid\":\"\(pid)\"" + (offset.map { ",\"offset\":\"\($0)\"" } ?? "")
        }
        return "40{\(auth)}"
    }

    func isCurrent(_ handler: ReconnectHandler) -> Bool { self.handler === handler }

    func joined(reply: String) {
        guard state == .connecting else { return }
        attemptTimer?.cancel()
        state = .joined
        let newPID = Self.string(after: "\"pid\":\"", in: reply)
        let counters = loop.counters
        counters.connected.add(1, ordering: .relaxed)
        if hasJoined {
            counters.reconnects.add(1, ordering: .relaxed)
            loop.reconnectHandshakes[node].append(UInt32(clamping: nowMicros() &- attemptStarted))
            if let pid, newPID == pid { counters.recovered.add(1, ordering: .relaxed) }
        }
        hasJoined = true
        attempts = 0
        pid = newPID
    }

    func event(number: Int, offset: String?) {
        if let offset { self.offset = offset }
        guard number > 0, number < 1 << 24 else { return }
        let word = number >> 6
        if word >= seen.count { seen.append(contentsOf: repeatElement(0, count: word - seen.count + 1)) }
        let bit: UInt64 = 1 << UInt64(number & 63)
        if seen[word] & bit != 0 { duplicates += 1 } else { seen[word] |= bit }
    }

    /// The server's Socket.IO DISCONNECT: the official client does not come back from it.
    func serverDisconnected() {
        guard state == .joined else { return }
        loop.counters.connected.subtract(1, ordering: .relaxed)
        loop.counters.serverDisconnects.add(1, ordering: .relaxed)
        state = .gaveUp
        handler = nil
        channel?.close(promise: nil)
    }

    /// The transport closed (close packet, close frame, TCP): a joined client reconnects, an attempt failed.
    func closed(reason: String, refusal: Int? = nil) {
        channel = nil
        switch state {
        case .joined:
            handler = nil
            loop.counters.connected.subtract(1, ordering: .relaxed)
            loop.counters.disconnects.add(1, ordering: .relaxed)
            scheduleReconnect()
        case .connecting:
            failed(reason, refusal: refusal)
        default:
            break
        }
    }

    static func string(after key: String, in text: String) -> String? {
        guard let start = text.range(of: key) else { return nil }
        let rest = text[start.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
}

/// One connection attempt's pipeline: the upgrade, Engine.IO open, CONNECT, pings, events. Confined to its loop.
final class ReconnectHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let client: ReconnectClient
    private let request: ByteBuffer
    private var upgraded = false
    private var pending: ByteBuffer?
    private var refusal: Int?
    private var reason = "closed before joining"
    private var mask: UInt32 = 0x9E37_79B9

    init(client: ReconnectClient, request: ByteBuffer) {
        self.client = client
        self.request = request
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = BenchWire.joining(&pending, unwrapInboundIn(data))
        if !upgraded {
            guard let end = BenchWire.endOfHead(buffer) else { return pending = buffer }
            guard BenchWire.isSwitchingProtocols(buffer) else {
                let status = Int(buffer.getString(at: buffer.readerIndex + 9, length: 3) ?? "") ?? 0
                refusal = status == 503 ? 503 : nil
                reason = "upgrade answered \(status)"
                return context.close(promise: nil)
            }
            buffer.moveReaderIndex(forwardBy: end)
            upgraded = true
        }
        var flush = false
        while let frame = BenchWire.readFrame(&buffer) {
            switch frame.opcode {
            case 0x1:
                let text = frame.payload.getString(at: frame.payload.readerIndex, length: frame.payload.readableBytes) ?? ""
                flush = handle(text, context: context) || flush
            case 0x8:
                let code = frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt16.self)
                if code == 1013 { refusal = 1013 }
                reason = "websocket closed \(code.map(String.init) ?? "-")"
                context.close(promise: nil)
                return
            case 0x9:
                frame.payload.withUnsafeReadableBytes { write(opcode: 0xA, $0, context: context) }
                flush = true
            default:
                break
            }
        }
        if buffer.readableBytes > 0 { pending = ByteBuffer(buffer: buffer) }
        if flush { context.flush() }
    }

    /// Returns whether something was written.
    private func handle(_ text: String, context: ChannelHandlerContext) -> Bool {
        if text.hasPrefix("42") {
            let number = BenchWire.integer(after: "\"n\":", in: ByteBuffer(string: text)).map { Int(clamping: $0) } ?? 0
            // With recovery, the offset is the event's last argument: `…,"OFFSET"]`.
            var offset: String?
            if text.hasSuffix("\"]"), let quote = text.dropLast(2).lastIndex(of: "\"") {
                offset = String(text[text.index(after: quote)..<text.index(text.endIndex, offsetBy: -2)])
            }
            if client.isCurrent(self) { client.event(number: number, offset: offset) }
            return false
        }
        switch text.first {
        case "2": send("3", context: context); return true
        case "0": send(client.connectPacket, context: context); return true
        case "1": reason = "engine close packet"; context.close(promise: nil)
        case "4":
            guard client.isCurrent(self) else { context.close(promise: nil); return false }
            if text.hasPrefix("40") { client.joined(reply: text) }
            else if text.hasPrefix("41") { client.serverDisconnected() }
            else if text.hasPrefix("44") { reason = "connect error \(text.prefix(80))"; context.close(promise: nil) }
        default: break
        }
        return false
    }

    private func send(_ text: String, context: ChannelHandlerContext) {
        var text = text
        text.withUTF8 { write(opcode: 0x1, UnsafeRawBufferPointer($0), context: context) }
    }

    private func write(opcode: UInt8, _ payload: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: payload.count + 14)
        mask = mask &* 1_664_525 &+ 1_013_904_223
        WebSocketFrameBuilder.writeMaskedFrame(opcode: opcode, payload: payload, maskKey: mask, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if client.isCurrent(self) { client.closed(reason: reason, refusal: refusal) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        reason = "\(error)"
        context.close(promise: nil)
    }
}
