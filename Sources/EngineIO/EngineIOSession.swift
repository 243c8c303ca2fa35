import EngineIOProtocol
import Logging
import NIOCore
import NIOHTTP1
import HeraldWebSocket

/// A message from the client: the payload of a `4` packet, or a binary message.
public enum EngineIOMessage: Sendable, Hashable {
    case text(ByteBuffer)
    case binary(ByteBuffer)
}

/// Receives a session's messages and its close; every call happens on the session's event loop.
public protocol EngineIOSessionDelegate: AnyObject {
    func session(_ session: EngineIOSession, didReceive message: EngineIOMessage)
    func session(_ session: EngineIOSession, didCloseWith reason: EngineIOCloseReason)
}

/// What the session knows about the request that opened it.
public struct EngineIORequestInfo: Sendable {
    /// The request's headers, rebuilt when asked for from one packed string (see `init`).
    public var headers: HTTPHeaders {
        get { headersOverride ?? Self.unpack(packedHeaders) }
        set { headersOverride = newValue }
    }
    public var uri: String
    /// The URI's query parameters, parsed from `uri` when asked for: a session keeps no dictionary for them.
    public var query: [String: String] {
        get { queryOverride ?? HTTPQuery.parse(uri) }
        set { queryOverride = newValue }
    }
    public var remoteAddress: SocketAddress?
    /// Transport of the opening request.
    public var transport: EngineIOTransportKind
    private var packedHeaders: String
    private var headersOverride: HTTPHeaders?
    private var queryOverride: [String: String]?

    /// Keeps the headers as one string (`name:value\n` each): a session holds its request for its whole life,
    /// and NIO's parsed form is an array with room for 16 headers (544 bytes) plus a string object per long name
    /// or value, several hundred bytes per connection for data read once, if at all, at the Socket.IO handshake.
    init(headers: HTTPHeaders, uri: String, remoteAddress: SocketAddress?, transport: EngineIOTransportKind) {
        self.uri = uri
        self.remoteAddress = remoteAddress
        self.transport = transport
        if let packed = Self.pack(headers) {
            self.packedHeaders = packed
        } else {
            self.packedHeaders = ""
            self.headersOverride = HTTPHeaders(headers.map { ($0.name, $0.value) })
        }
    }

    /// nil when a name holds `:` or `\n`, or a value holds `\n` (a parsed request has neither).
    static func pack(_ headers: HTTPHeaders) -> String? {
        var count = 0
        for (name, value) in headers {
            if name.utf8.contains(where: { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "\n") }) { return nil }
            if value.utf8.contains(UInt8(ascii: "\n")) { return nil }
            count += name.utf8.count + value.utf8.count + 2
        }
        var packed = ""
        packed.reserveCapacity(count)
        for (name, value) in headers {
            packed += name
            packed += ":"
            packed += value
            packed += "\n"
        }
        return packed
    }

    static func unpack(_ packed: String) -> HTTPHeaders {
        var pairs: [(String, String)] = []
        for line in packed.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            pairs.append((String(Substring(line[..<colon])), String(Substring(line[line.index(after: colon)...]))))
        }
        return HTTPHeaders(pairs)
    }
}

/// One Engine.IO session. Confined to `eventLoop`: call its methods there (`eventLoop.execute` from elsewhere).
public final class EngineIOSession: @unchecked Sendable, LoopTimerTarget {
    public let id: String
    public let eventLoop: any EventLoop
    public let request: EngineIORequestInfo
    public var delegate: (any EngineIOSessionDelegate)?

    let server: EngineIOServer
    private var machine: EngineIOSessionStateMachine
    private var websocket: WebSocketConnection?
    private var probe: WebSocketConnection?
    private var pendingPoll: HTTPResponder?
    private var queue: [Outbound] = []
    private var queuedBytes = 0
    /// The heartbeat's entry on the loop's `heartbeatTimers`.
    package var loopTimer = LoopTimer()
    private let heartbeatTimers: LoopTimers
    private var upgradeTimer: Scheduled<Void>?
    private var lingerTimer: Scheduled<Void>?
    private var flushScheduled = false
    /// Bytes written to the websocket since it stopped being writable: the slow-consumer measure.
    private var unwritableBytes = 0
    /// The websocket's writability as last reported by its loop (it may be another loop after an upgrade).
    private var websocketWritable = true
    /// Whether `websocket` lives on this session's loop (always, unless it upgraded a polling session from
    /// another loop): then writes skip the connection's thread check.
    private var websocketOnSessionLoop = false

    enum Outbound {
        case packet(EngineIOPacket)
        case prepared(EngineIOPreparedMessage)
    }

    init(id: String, eventLoop: any EventLoop, request: EngineIORequestInfo, server: EngineIOServer, websocket: WebSocketConnection?) {
        self.id = id
        self.eventLoop = eventLoop
        self.request = request
        self.server = server
        self.websocket = websocket
        self.machine = EngineIOSessionStateMachine(transport: websocket == nil ? .polling : .websocket)
        self.heartbeatTimers = server.heartbeatTimers.timers(for: eventLoop)
        if let websocket { self.websocketOnSessionLoop = Self.sameLoop(websocket, eventLoop) }
    }

    /// Loops first: `channel` may be read only on the connection's own loop (an upgrade's websocket often lands
    /// on another loop than its polling session's).
    private static func sameLoop(_ connection: WebSocketConnection, _ eventLoop: any EventLoop) -> Bool {
        guard (connection.eventLoop as AnyObject) === (eventLoop as AnyObject) else { return false }
        return connection.channel != nil
    }

    public var transport: EngineIOTransportKind { machine.transport == .polling ? .polling : .websocket }
    public var isClosed: Bool { machine.closed }
    /// False while a websocket client is not reading fast enough; volatile messages are dropped then.
    public var isWritable: Bool {
        websocket != nil ? websocketWritable : queuedBytes < server.configuration.maxBufferedBytes / 2
    }

    /// Bytes waiting to go to the client: the websocket channel's unsent bytes (frames, pongs included), or the
    /// polling queue. Call on the session's loop (it reads the websocket's channel, which lives there).
    public var outboundBufferedBytes: Int {
        if let channel = websocket?.channel {
            return (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        }
        return queuedBytes
    }

    // MARK: Sending

    /// Queues or writes a message and schedules one flush for this loop tick.
    public func send(_ message: EngineIOPreparedMessage, volatile: Bool = false) {
        write(message, volatile: volatile)
        scheduleFlush()
    }

    /// Writes without flushing; the caller flushes (a broadcast writes to every member, then flushes each once).
    public func write(_ message: EngineIOPreparedMessage, volatile: Bool = false) {
        // Once per recipient of every broadcast: checked in debug builds only.
        eventLoop.assertInEventLoop()
        guard !machine.closed else { return }
        if volatile && !isWritable {
            server.dropStats.volatileDropped()
            return
        }
        if machine.transport == .websocket, let websocket {
            writeToWebSocket(websocket, message)
        } else {
            enqueue(.prepared(message), size: message.wireSize)
        }
    }

    public func send(text: String) { send(EngineIOPreparedMessage(text: text)) }

    /// Sends one message: text as a `4` packet, binary as a binary message.
    public func send(_ message: EngineIOMessage) {
        switch message {
        case .text(let text):
            send(EngineIOPreparedMessage(capacity: text.readableBytes) { buffer in
                var text = text
                buffer.writeBuffer(&text)
                return []
            })
        case .binary(let data):
            send(packet: .binary(data))
        }
    }

    public func flush() {
        guard !machine.closed else { return }
        if machine.transport == .websocket, let websocket {
            if websocketOnSessionLoop { websocket.flushOnEventLoop() } else { websocket.flush() }
        } else if let poll = pendingPoll, !queue.isEmpty {
            pendingPoll = nil
            respondToPoll(poll)
        }
    }

    /// For a caller that writes to many sessions in one loop tick and flushes them itself at the end of the tick
    /// (a broadcast): true when this session has no flush pending yet, and it is now the caller's to flush with
    /// `flushClaimed()`; false when a flush is already pending this tick (which will carry the caller's writes too).
    public func claimFlush() -> Bool {
        guard !flushScheduled else { return false }
        flushScheduled = true
        return true
    }

    /// Flushes a session whose flush `claimFlush()` handed to the caller.
    public func flushClaimed() {
        flushScheduled = false
        flush()
    }

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute {
            self.flushScheduled = false
            self.flush()
        }
    }

    /// Counts bytes written while the websocket is not writable against `maxBufferedBytes`; false when over the
    /// bound (the session is then closed).
    private func admitUnwritable(_ bytes: Int) -> Bool {
        guard !websocketWritable else { return true }
        unwritableBytes &+= bytes
        guard unwritableBytes > server.configuration.maxBufferedBytes else { return true }
        server.logger.info("closing slow client", metadata: ["sid": "\(id)", "buffered": "\(unwritableBytes)"])
        server.dropStats.slowClientClosed()
        close(reason: .transportError)
        return false
    }

    private func writeToWebSocket(_ websocket: WebSocketConnection, _ message: EngineIOPreparedMessage) {
        guard admitUnwritable(message.wireSize) else { return }
        // The connection hops by itself when it lives on another loop; on the hot path it does not, and no closure is allocated.
        if websocketOnSessionLoop && websocket === self.websocket {
            websocket.writeOnEventLoop(preframed: message.frame)
            for frame in message.attachmentFrames { websocket.writeOnEventLoop(preframed: frame) }
        } else {
            websocket.write(preframed: message.frame)
            for frame in message.attachmentFrames { websocket.write(preframed: frame) }
        }
    }

    /// Sends a single packet (for example a lone binary message), flushed within this loop tick.
    public func send(packet: EngineIOPacket) {
        eventLoop.preconditionInEventLoop()
        sendPacket(packet)
    }

    private func sendPacket(_ packet: EngineIOPacket) {
        guard !machine.closed else { return }
        if machine.transport == .websocket, let websocket {
            sendPacket(packet, over: websocket)
        } else {
            var size = 2
            if case .binary(let data) = packet { size += data.readableBytes * 4 / 3 }
            enqueue(.packet(packet), size: size)
            scheduleFlush()
        }
    }

    private func sendPacket(_ packet: EngineIOPacket, over websocket: WebSocketConnection) {
        let message: WebSocketMessage
        if case .binary(let data) = packet {
            message = .binary(data)
        } else {
            var buffer = ByteBuffer()
            packet.encode(into: &buffer)
            message = .text(buffer)
        }
        // Pings, noops and single packets count too (a probe's are not: it is not `websocket` yet).
        if websocket === self.websocket, !admitUnwritable(message.payload.readableBytes &+ 10) { return }
        websocket.send(message)
    }

    private func enqueue(_ item: Outbound, size: Int) {
        queue.append(item)
        queuedBytes += size
        if queuedBytes > server.configuration.maxBufferedBytes {
            server.logger.info("closing slow polling client", metadata: ["sid": "\(id)", "buffered": "\(queuedBytes)"])
            server.dropStats.slowClientClosed()
            close(reason: .transportError)
        }
    }

    // MARK: Heartbeat

    func start() {
        armHeartbeat(after: server.configuration.pingInterval)
    }

    private func armHeartbeat(after delay: Duration) {
        heartbeatTimers.arm(self, after: TimeAmount(delay))
    }

    /// Called by the loop's heartbeat timers when the armed deadline passes.
    package func loopTimerFired() {
        switch machine.heartbeatTimerFired() {
        case .sendPingAndArmTimeout:
            sendPacket(.ping(ByteBuffer()))
            armHeartbeat(after: server.configuration.pingTimeout)
        case .close(let reason):
            close(reason: reason)
        case .armPingInterval, .none:
            break
        }
    }

    // MARK: Receiving

    func receive(_ packet: EngineIOPacket) {
        guard !machine.closed else { return }
        switch packet {
        case .pong:
            if machine.pongReceived() == .armPingInterval { armHeartbeat(after: server.configuration.pingInterval) }
        case .message(let data):
            delegate?.session(self, didReceive: .text(data))
        case .binary(let data):
            delegate?.session(self, didReceive: .binary(data))
        case .close:
            close(reason: .transportClose)
        case .ping:
            // v4 heartbeats go server → client only.
            close(reason: .transportError)
        case .open:
            close(reason: .parseError)
        case .upgrade, .noop:
            break
        }
    }

    // MARK: Polling

    func handlePoll(_ request: HTTPRequestContext, responder: HTTPResponder) {
        if let lingerTimer, request.method == .GET {
            lingerTimer.cancel()
            self.lingerTimer = nil
            server.remove(self)
            responder.respond(.pollPayload(ByteBuffer(string: "6")))
            return
        }
        guard machine.acceptsPolling else {
            // A session closed by the client's `1` is only lingering for its last GET: to anything else it is gone.
            responder.respond(.engineError(machine.closed ? .unknownSessionID : .badRequest))
            return
        }
        switch request.method {
        case .GET:
            if let previous = pendingPoll {
                // A second concurrent GET is a broken client: the session ends, the first poll gets the close packet.
                pendingPoll = previous
                responder.respond(HTTPResponse(status: .badRequest))
                close(reason: .transportError)
            } else if !queue.isEmpty {
                respondToPoll(responder)
            } else if machine.isUpgrading {
                responder.respond(.pollPayload(ByteBuffer(string: "6")))
            } else {
                pendingPoll = responder
                responder.watchForPrematureClose(session: self)
            }
        case .POST:
            if request.bodyTooLarge {
                responder.respond(HTTPResponse(status: .payloadTooLarge))
                return
            }
            if request.head.headers.first(name: "content-type") == "application/octet-stream" {
                responder.respond(HTTPResponse(status: .badRequest))
                close(reason: .transportError)
                return
            }
            let packets: [EngineIOPacket]
            do {
                packets = try EngineIOPollingPayload.decode(request.body ?? ByteBuffer())
            } catch {
                responder.respond(.engineError(.badRequest))
                close(reason: .parseError)
                return
            }
            responder.respond(.pollOK)
            for packet in packets {
                receive(packet)
                if machine.closed { break }
            }
        default:
            responder.respond(.engineError(.badRequest))
        }
    }

    func pollClosedPrematurely(_ responder: HTTPResponder) {
        guard let pendingPoll, pendingPoll.id == responder.id else { return }
        self.pendingPoll = nil
        close(reason: .transportError)
    }

    private func respondToPoll(_ responder: HTTPResponder) {
        var payload = ByteBuffer()
        payload.reserveCapacity(queuedBytes + queue.count)
        var first = true
        for item in queue {
            if !first { payload.writeInteger(EngineIOPollingPayload.separator) }
            first = false
            switch item {
            case .packet(let packet):
                packet.encode(into: &payload)
            case .prepared(let message):
                var text = message.textPacket
                payload.writeBuffer(&text)
                for attachment in message.attachments {
                    payload.writeInteger(EngineIOPollingPayload.separator)
                    EngineIOPacket.binary(attachment).encode(into: &payload)
                }
            }
        }
        queue.removeAll(keepingCapacity: false)
        queuedBytes = 0
        responder.respond(.pollPayload(payload))
    }

    // MARK: WebSocket

    func webSocketReceived(_ message: WebSocketMessage, from connection: WebSocketConnection) {
        // A dropped probe's frames can still be queued on this loop behind the packet that aborted it; they must
        // not close the session with a parse error.
        guard !machine.closed, connection === websocket || connection === probe else { return }
        let packet: EngineIOPacket
        switch message {
        case .text(let text):
            guard let decoded = try? EngineIOPacket.decode(text: text) else {
                if connection === probe {
                    abortProbe()
                } else {
                    close(reason: .parseError)
                }
                return
            }
            packet = decoded
        case .binary(let data):
            packet = .binary(data)
        }
        if connection === websocket {
            receive(packet)
        } else if connection === probe {
            receiveOnProbe(packet, connection)
        }
    }

    func webSocketClosed(_ connection: WebSocketConnection) {
        if connection === websocket {
            close(reason: .transportClose)
        } else if connection === probe {
            probe = nil
            upgradeTimer?.cancel()
            machine.probeTransportClosed()
        }
    }

    func webSocketWritabilityChanged(_ connection: WebSocketConnection, isWritable: Bool) {
        guard connection === websocket else { return }
        websocketWritable = isWritable
        if isWritable { unwritableBytes = 0 }
    }

    /// A websocket with this session's id finished its HTTP upgrade; it becomes the probe, or is closed.
    func attachProbe(_ connection: WebSocketConnection) {
        guard machine.probeTransportOpened() else {
            connection.close()
            return
        }
        probe = connection
        upgradeTimer = eventLoop.scheduleTask(in: TimeAmount(server.configuration.upgradeTimeout)) { [self] in
            if machine.upgradeTimerFired() == .abortProbe { closeProbe() }
        }
    }

    private func receiveOnProbe(_ packet: EngineIOPacket, _ connection: WebSocketConnection) {
        let action: EngineIOSessionStateMachine.ProbeAction
        switch packet {
        case .ping(let data):
            action = machine.probePingReceived(payloadIsProbe: String(buffer: data) == "probe")
        case .upgrade:
            action = machine.probeUpgradeReceived()
        default:
            action = machine.probeOtherPacketReceived()
        }
        switch action {
        case .answerProbe:
            sendPacket(.pong("probe"), over: connection)
            // Release the pending poll so the client can pause polling.
            if let poll = pendingPoll {
                pendingPoll = nil
                poll.respond(.pollPayload(ByteBuffer(string: "6")))
            }
        case .switchToWebSocket:
            upgradeTimer?.cancel()
            probe = nil
            websocket = connection
            websocketOnSessionLoop = Self.sameLoop(connection, eventLoop)
            if let poll = pendingPoll {
                pendingPoll = nil
                poll.respond(.pollPayload(ByteBuffer(string: "6")))
            }
            let pending = queue
            queue.removeAll()
            queuedBytes = 0
            for item in pending {
                switch item {
                case .packet(let packet): sendPacket(packet, over: connection)
                case .prepared(let message): writeToWebSocket(connection, message)
                }
            }
            scheduleFlush()
        case .abortProbe:
            closeProbe()
        case .ignore:
            break
        }
    }

    private func abortProbe() {
        _ = machine.probeOtherPacketReceived()
        closeProbe()
    }

    private func closeProbe() {
        upgradeTimer?.cancel()
        if let probe {
            self.probe = nil
            probe.close()
        }
    }

    // MARK: Closing

    /// Closes the session with "forced close".
    public func close() { close(reason: .forcedClose) }

    func close(reason: EngineIOCloseReason) {
        eventLoop.preconditionInEventLoop()
        guard machine.close() else { return }
        heartbeatTimers.cancel(self)
        upgradeTimer?.cancel()
        if let poll = pendingPoll {
            pendingPoll = nil
            server.remove(self)
            // A client that asked to close gets a noop; any other close tells the client with a close packet,
            // except going away: python-engineio never reconnects after a close packet, so a draining server ends
            // the poll with a noop and the client's next request meets "Session ID unknown" (a transport error,
            // which every official client reconnects from).
            let answer = reason == .transportClose || reason == .serverShuttingDown ? "6" : "1"
            poll.respond(.pollPayload(ByteBuffer(string: answer)))
        } else if reason == .transportClose && machine.transport == .polling {
            // The client's close came in a POST; its last GET may still be on the way over another connection
            // (and loop). That GET gets the noop instead of an unknown-session error; later ones get the error.
            lingerTimer = eventLoop.scheduleTask(in: .seconds(1)) { [self] in
                lingerTimer = nil
                server.remove(self)
            }
        } else {
            server.remove(self)
        }
        if let websocket {
            // 1001 is RFC 6455's "server going down"; the official clients reconnect after any close frame.
            websocket.close(code: reason == .serverShuttingDown ? .goingAway : .normalClosure)
            // The heartbeat queue may hold this session until its stale entry comes due: let the connection go now.
            self.websocket = nil
        }
        closeProbe()
        queue.removeAll()
        queuedBytes = 0
        let delegate = self.delegate
        self.delegate = nil
        delegate?.session(self, didCloseWith: reason)
    }
}

/// Forwards a websocket's events to its session, hopping when the session lives on another loop.
final class EngineIOWebSocketBridge: WebSocketConnectionDelegate {
    let session: EngineIOSession

    init(session: EngineIOSession) { self.session = session }

    func webSocket(_ connection: WebSocketConnection, didReceive message: WebSocketMessage) {
        onSessionLoop { $0.webSocketReceived(message, from: connection) }
    }

    func webSocket(_ connection: WebSocketConnection, didCloseWith code: WebSocketCloseCode, reason: String) {
        let session = self.session
        session.eventLoop.execute { session.webSocketClosed(connection) }
    }

    func webSocket(_ connection: WebSocketConnection, writabilityChanged isWritable: Bool) {
        onSessionLoop { $0.webSocketWritabilityChanged(connection, isWritable: isWritable) }
    }

    private func onSessionLoop(_ body: @escaping @Sendable (EngineIOSession) -> Void) {
        let session = self.session
        if session.eventLoop.inEventLoop {
            body(session)
        } else {
            session.eventLoop.execute { body(session) }
        }
    }
}

extension HTTPResponse {
    static func engineError(_ code: EngineIOErrorCode) -> HTTPResponse {
        .json(code == .forbidden ? .forbidden : .badRequest, code.jsonBody)
    }

    static func pollPayload(_ payload: ByteBuffer) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain; charset=UTF-8", "Cache-Control": "no-store"], body: payload)
    }

    static let pollOK = HTTPResponse(status: .ok, headers: ["Content-Type": "text/html", "Cache-Control": "no-store"], body: ByteBuffer(string: "ok"))
}
