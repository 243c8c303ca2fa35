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

/// One Engine.IO session: executes what its state machine (`EngineIOSessionStateMachine`, which holds every
/// protocol rule) decides — writes, poll answers, timers, the delegate's calls.
/// Concurrency: confined to `eventLoop`, no locks; every method is called there (`eventLoop.execute` from
/// elsewhere, as the server, the websocket bridge and the HTTP handler do). `@unchecked Sendable` so that it can
/// be handed to its loop.
public final class EngineIOSession: @unchecked Sendable, LoopTimerTarget {
    typealias Machine = EngineIOSessionStateMachine<HTTPResponder, WebSocketConnection>

    public let id: String
    public let eventLoop: any EventLoop
    public let request: EngineIORequestInfo
    public var delegate: (any EngineIOSessionDelegate)?

    let server: EngineIOServer
    private var machine: Machine
    /// The heartbeat's entry on the loop's `heartbeatTimers`.
    package var loopTimer = LoopTimer()
    private let heartbeatTimers: LoopTimers
    private var upgradeTimer: Scheduled<Void>?
    private var lingerTimer: Scheduled<Void>?
    private var flushScheduled = false

    init(id: String, eventLoop: any EventLoop, request: EngineIORequestInfo, server: EngineIOServer, websocket: WebSocketConnection?) {
        self.id = id
        self.eventLoop = eventLoop
        self.request = request
        self.server = server
        self.machine = Machine(
            webSocket: websocket, onSessionLoop: websocket.map { Self.sameLoop($0, eventLoop) } ?? false,
            maxBufferedBytes: server.configuration.maxBufferedBytes)
        self.heartbeatTimers = server.heartbeatTimers.timers(for: eventLoop)
    }

    /// Loops first: `channel` may be read only on the connection's own loop (an upgrade's websocket often lands
    /// on another loop than its polling session's).
    private static func sameLoop(_ connection: WebSocketConnection, _ eventLoop: any EventLoop) -> Bool {
        guard (connection.eventLoop as AnyObject) === (eventLoop as AnyObject) else { return false }
        return connection.channel != nil
    }

    public var transport: EngineIOTransportKind { machine.transport }
    public var isClosed: Bool { machine.isClosed }
    /// False while a client is not reading fast enough; volatile messages are dropped then.
    public var isWritable: Bool { machine.isWritable }

    /// Bytes waiting to go to the client: the websocket channel's unsent bytes (frames, pongs included), or the
    /// polling queue. Call on the session's loop (it reads the websocket's channel, which lives there).
    public var outboundBufferedBytes: Int {
        if let channel = machine.webSocket?.channel {
            return (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        }
        return machine.queuedBytes
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
        switch machine.messageWritten(message, volatile: volatile) {
        case .writeFrames(let websocket, onSessionLoop: true):
            // On the hot path the connection needs no hop, and no closure is allocated.
            websocket.writeOnEventLoop(preframed: message.frame)
            for frame in message.attachmentFrames { websocket.writeOnEventLoop(preframed: frame) }
        case .writeFrames(let websocket, onSessionLoop: false):
            websocket.write(preframed: message.frame)
            for frame in message.attachmentFrames { websocket.write(preframed: frame) }
        case .droppedVolatile:
            server.dropStats.volatileDropped()
        case .close(let action):
            execute(action)
        case .queued, .ignore:
            break
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
        switch machine.flushRequested() {
        case .flushWebSocket(let websocket, let onSessionLoop):
            if onSessionLoop { websocket.flushOnEventLoop() } else { websocket.flush() }
        case .answerPoll(let answer):
            respond(answer)
        case .ignore:
            break
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

    /// Sends a single packet (for example a lone binary message), flushed within this loop tick.
    public func send(packet: EngineIOPacket) {
        eventLoop.preconditionInEventLoop()
        switch machine.packetSent(packet) {
        case .send(let websocket, let message):
            websocket.send(message)
        case .queued:
            scheduleFlush()
        case .close(let action):
            execute(action)
        case .ignore:
            break
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
        case .sendPing(let websocket, let message):
            websocket.send(message)
            armHeartbeat(after: server.configuration.pingTimeout)
        case .pingQueued:
            scheduleFlush()
            armHeartbeat(after: server.configuration.pingTimeout)
        case .close(let action):
            execute(action)
        case .ignore:
            break
        }
    }

    // MARK: Receiving

    private func receive(_ packet: EngineIOPacket) {
        switch machine.packetReceived(packet) {
        case .deliver(let message):
            delegate?.session(self, didReceive: message)
        case .armPingInterval:
            armHeartbeat(after: server.configuration.pingInterval)
        case .close(let action):
            execute(action)
        case .ignore:
            break
        }
    }

    // MARK: Polling

    func handlePoll(_ request: HTTPRequestContext, responder: HTTPResponder) {
        switch request.method {
        case .GET:
            switch machine.getReceived(responder) {
            case .respond(let response):
                responder.respond(HTTPResponse(response))
            case .hold:
                responder.watchForPrematureClose(session: self)
            case .endLinger(let response):
                lingerTimer?.cancel()
                lingerTimer = nil
                server.remove(self)
                responder.respond(HTTPResponse(response))
            case .refuseAndClose(let response, let action):
                responder.respond(HTTPResponse(response))
                execute(action)
            }
        case .POST:
            let isBinary = request.head.headers.first(name: "content-type") == "application/octet-stream"
            switch machine.postReceived(body: request.body, bodyTooLarge: request.bodyTooLarge, isBinary: isBinary) {
            case .respond(let response):
                responder.respond(HTTPResponse(response))
            case .refuseAndClose(let response, let action):
                responder.respond(HTTPResponse(response))
                execute(action)
            case .accept(let packets):
                responder.respond(.pollOK)
                for packet in packets {
                    receive(packet)
                    if machine.isClosed { break }
                }
            }
        default:
            responder.respond(HTTPResponse(machine.otherMethodReceived()))
        }
    }

    func pollClosedPrematurely(_ responder: HTTPResponder) {
        if let action = machine.pollClosedPrematurely(responder) { execute(action) }
    }

    private func respond(_ answer: Machine.PollAnswer) {
        answer.poll.respond(HTTPResponse(answer.response))
    }

    // MARK: WebSocket

    func webSocketReceived(_ message: WebSocketMessage, from connection: WebSocketConnection) {
        switch machine.webSocketMessageReceived(message, from: connection) {
        case .deliver(let message):
            delegate?.session(self, didReceive: message)
        case .armPingInterval:
            armHeartbeat(after: server.configuration.pingInterval)
        case .close(let action):
            execute(action)
        case .answerProbe(let probe, let answer, let releasing):
            probe.send(answer)
            if let releasing { respond(releasing) }
        case .upgraded(let releasing, let queued):
            upgradeTimer?.cancel()
            if let releasing { respond(releasing) }
            for item in queued {
                switch item {
                case .packet(let packet): send(packet: packet)
                case .prepared(let message): write(message)
                }
            }
            scheduleFlush()
        case .closeProbe(let probe):
            upgradeTimer?.cancel()
            probe.close()
        case .ignore:
            break
        }
    }

    func webSocketClosed(_ connection: WebSocketConnection) {
        switch machine.webSocketClosed(connection) {
        case .close(let action):
            execute(action)
        case .probeClosed:
            upgradeTimer?.cancel()
        case .ignore:
            break
        }
    }

    func webSocketWritabilityChanged(_ connection: WebSocketConnection, isWritable: Bool) {
        machine.webSocketWritabilityChanged(connection, isWritable: isWritable)
    }

    /// A websocket with this session's id finished its HTTP upgrade; it becomes the probe, or is closed.
    func attachProbe(_ connection: WebSocketConnection) {
        switch machine.probeOpened(connection, onSessionLoop: Self.sameLoop(connection, eventLoop)) {
        case .armUpgradeTimer:
            upgradeTimer = eventLoop.scheduleTask(in: TimeAmount(server.configuration.upgradeTimeout)) { [self] in
                if case .closeProbe(let probe) = machine.upgradeTimerFired() { probe.close() }
            }
        case .refuse:
            connection.close()
        }
    }

    // MARK: Closing

    /// Closes the session with "forced close".
    public func close() { close(reason: .forcedClose) }

    func close(reason: EngineIOCloseReason) {
        eventLoop.preconditionInEventLoop()
        if let action = machine.closeRequested(reason: reason) { execute(action) }
    }

    private func execute(_ action: Machine.CloseAction) {
        if let buffered = action.slowClientBytes {
            let message: Logger.Message = action.transport == .polling ? "closing slow polling client" : "closing slow client"
            server.logger.info(message, metadata: ["sid": "\(id)", "buffered": "\(buffered)"])
            server.dropStats.slowClientClosed()
        }
        heartbeatTimers.cancel(self)
        upgradeTimer?.cancel()
        if action.lingers {
            lingerTimer = eventLoop.scheduleTask(in: .seconds(1)) { [self] in
                lingerTimer = nil
                if case .forget = machine.lingerTimerFired() { server.remove(self) }
            }
        } else {
            server.remove(self)
        }
        if let answer = action.answer { respond(answer) }
        action.webSocket?.close(code: action.webSocketCloseCode)
        action.probe?.close()
        let delegate = self.delegate
        self.delegate = nil
        delegate?.session(self, didCloseWith: action.reason)
    }
}

/// Forwards a websocket's events to its session: hops once to the session's loop (not at all when the websocket
/// lives there).
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
    init(_ response: EngineIOPollResponse) {
        switch response {
        case .payload(let payload): self = .pollPayload(payload)
        case .ok: self = .pollOK
        case .error(let code): self = .engineError(code)
        case .status(let status): self = HTTPResponse(status: status)
        }
    }

    static func engineError(_ code: EngineIOErrorCode) -> HTTPResponse {
        .json(code == .forbidden ? .forbidden : .badRequest, code.jsonBody)
    }

    static func pollPayload(_ payload: ByteBuffer) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain; charset=UTF-8", "Cache-Control": "no-store"], body: payload)
    }

    static let pollOK = HTTPResponse(status: .ok, headers: ["Content-Type": "text/html", "Cache-Control": "no-store"], body: ByteBuffer(string: "ok"))
}
