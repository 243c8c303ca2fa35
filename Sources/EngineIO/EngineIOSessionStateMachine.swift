import EngineIOProtocol
import HeraldWebSocket
import NIOCore
import NIOHTTP1

/// Every protocol rule of one Engine.IO session as a value: heartbeat, upgrade, the poll queue and its held GET,
/// the second-GET policy, linger after a client's close, backpressure against `maxBufferedBytes`, noop answers.
/// Events go in (named in the past tense), and each event returns its own action enum; nothing here touches I/O,
/// a timer or a clock. `EngineIOSession` executes the actions.
///
/// Generic over the held poll (`HTTPResponder`) and the websocket (`WebSocketConnection`) so that tests drive it
/// with plain values. Concurrency: a value owned by one session and used only on that session's loop.
struct EngineIOSessionStateMachine<Poll: Identifiable, Connection: AnyObject> {
    enum Heartbeat: Equatable {
        case waitingToPing
        case awaitingPong
    }

    struct Polling {
        var heartbeat: Heartbeat
        var queue = EngineIOPollQueue()
        /// The GET held open until there is something to send.
        var pendingPoll: Poll?
    }

    struct Probe {
        let connection: Connection
        /// Whether the connection lives on the session's loop (writes then skip its thread check).
        let onSessionLoop: Bool
        /// Whether `2probe` was answered: the client may now send `5`.
        var answered = false
    }

    struct WebSocket {
        var heartbeat: Heartbeat
        let connection: Connection
        let onSessionLoop: Bool
        /// As last reported by the connection's loop.
        var writable = true
        /// Bytes written since the connection stopped being writable: the slow-consumer measure.
        var unwritableBytes = 0
    }

    enum State {
        case polling(Polling)
        /// Still polling, with a websocket probing to take over.
        case upgrading(Polling, Probe)
        case websocket(WebSocket)
        /// Closed by the client's `1` in a POST, while its last GET may still be on the way over another
        /// connection: that GET gets a noop instead of an unknown-session error.
        case lingering
        case closed(EngineIOTransportKind)
        /// Only while an event mutates a state's data in place, so that the poll queue is not copied.
        case modifying
    }

    private(set) var state: State
    /// `EngineIOConfiguration.maxBufferedBytes`.
    let maxBufferedBytes: Int

    /// `webSocket` opened the session (a websocket handshake); nil for a polling handshake.
    init(webSocket: Connection?, onSessionLoop: Bool, maxBufferedBytes: Int) {
        if let webSocket {
            state = .websocket(WebSocket(heartbeat: .waitingToPing, connection: webSocket, onSessionLoop: onSessionLoop))
        } else {
            state = .polling(Polling(heartbeat: .waitingToPing))
        }
        self.maxBufferedBytes = maxBufferedBytes
    }

    // MARK: Answers

    /// A held poll and what it is answered with.
    struct PollAnswer {
        let poll: Poll
        let response: EngineIOPollResponse
    }

    /// Everything closing does, in the order the session does it.
    struct CloseAction {
        let reason: EngineIOCloseReason
        /// The transport the session had.
        let transport: EngineIOTransportKind
        /// Set when the session closes because its client does not read: the bytes it left buffered.
        let slowClientBytes: Int?
        /// The held poll's last answer: a noop when the client asked to close or the server is going away
        /// (python-engineio never reconnects after a close packet, but does after "Session ID unknown"), else `1`.
        let answer: PollAnswer?
        /// True: arm the linger timer (the session stays findable for its last GET); false: forget it now.
        let lingers: Bool
        /// The websocket to close, with 1001 when the server is going away, else 1000.
        let webSocket: Connection?
        let webSocketCloseCode: WebSocketCloseCode
        /// A probe in progress, to close (its upgrade timer is cancelled too).
        let probe: Connection?
    }

    // MARK: Queries

    var transport: EngineIOTransportKind {
        switch state {
        case .polling, .upgrading, .lingering: .polling
        case .websocket: .websocket
        case .closed(let transport): transport
        case .modifying: preconditionFailure("state is being modified")
        }
    }

    var isClosed: Bool {
        switch state {
        case .lingering, .closed: true
        case .polling, .upgrading, .websocket: false
        case .modifying: preconditionFailure("state is being modified")
        }
    }

    /// False while the client does not keep up (a websocket not writable, or a poll queue half full): volatile
    /// messages are dropped then.
    var isWritable: Bool {
        switch state {
        case .polling(let polling), .upgrading(let polling, _): polling.queue.bytes < maxBufferedBytes / 2
        case .websocket(let webSocket): webSocket.writable
        case .lingering, .closed: true
        case .modifying: preconditionFailure("state is being modified")
        }
    }

    /// The session's websocket once it has one (not a probe).
    var webSocket: Connection? {
        if case .websocket(let webSocket) = state { return webSocket.connection }
        return nil
    }

    var queuedBytes: Int {
        switch state {
        case .polling(let polling), .upgrading(let polling, _): polling.queue.bytes
        default: 0
        }
    }

    // MARK: Heartbeat

    enum HeartbeatTimerAction {
        /// Send this ping, then arm the timer for pingTimeout.
        case sendPing(Connection, WebSocketMessage)
        /// A ping was queued: flush soon, then arm the timer for pingTimeout.
        case pingQueued
        case close(CloseAction)
        case ignore
    }

    /// The heartbeat timer (armed for pingInterval, or pingTimeout after a ping) came due.
    mutating func heartbeatTimerFired() -> HeartbeatTimerAction {
        switch swapHeartbeat(to: .awaitingPong) {
        case nil:
            return .ignore
        case .awaitingPong:
            return .close(close(reason: .pingTimeout)!)
        case .waitingToPing:
            switch send(.ping(ByteBuffer())) {
            case .sent(let connection, let message): return .sendPing(connection, message)
            case .queued: return .pingQueued
            case .close(let action): return .close(action)
            }
        }
    }

    /// Sets the heartbeat of an open session and returns the previous one; nil when closed.
    private mutating func swapHeartbeat(to heartbeat: Heartbeat) -> Heartbeat? {
        if case .websocket(var webSocket) = state {
            let previous = webSocket.heartbeat
            webSocket.heartbeat = heartbeat
            state = .websocket(webSocket)
            return previous
        }
        return withPolling { polling in
            let previous = polling.heartbeat
            polling.heartbeat = heartbeat
            return previous
        }
    }

    /// Runs `body` on the poll state of a polling or upgrading session, in place (the queue is not copied); nil
    /// in any other state.
    private mutating func withPolling<Result>(_ body: (inout Polling) -> Result) -> Result? {
        switch state {
        case .polling(var polling):
            state = .modifying
            defer { state = .polling(polling) }
            return body(&polling)
        case .upgrading(var polling, let probe):
            state = .modifying
            defer { state = .upgrading(polling, probe) }
            return body(&polling)
        case .websocket, .lingering, .closed:
            return nil
        case .modifying:
            preconditionFailure("state is being modified")
        }
    }

    // MARK: Sending

    enum WriteAction {
        /// Write the message's frames to this websocket (no flush: the caller flushes).
        case writeFrames(Connection, onSessionLoop: Bool)
        /// Queued for the next poll.
        case queued
        /// A volatile message while the client does not keep up: count it as dropped.
        case droppedVolatile
        case close(CloseAction)
        /// The session is closed.
        case ignore
    }

    /// The application wrote a message.
    mutating func messageWritten(_ message: EngineIOPreparedMessage, volatile: Bool) -> WriteAction {
        if isClosed { return .ignore }
        if volatile && !isWritable { return .droppedVolatile }
        if case .websocket(let webSocket) = state {
            if let close = admitToWebSocket(message.wireSize) { return .close(close) }
            return .writeFrames(webSocket.connection, onSessionLoop: webSocket.onSessionLoop)
        }
        if let close = enqueue(.prepared(message)) { return .close(close) }
        return .queued
    }

    enum SendPacketAction {
        /// Send this message over the websocket (it flushes).
        case send(Connection, WebSocketMessage)
        /// Queued for the next poll: flush soon.
        case queued
        case close(CloseAction)
        case ignore
    }

    /// The application sent a single packet.
    mutating func packetSent(_ packet: EngineIOPacket) -> SendPacketAction {
        if isClosed { return .ignore }
        switch send(packet) {
        case .sent(let connection, let message): return .send(connection, message)
        case .queued: return .queued
        case .close(let action): return .close(action)
        }
    }

    private enum SendOutcome {
        case sent(Connection, WebSocketMessage)
        case queued
        case close(CloseAction)
    }

    /// Sends a packet on an open session.
    private mutating func send(_ packet: EngineIOPacket) -> SendOutcome {
        if case .websocket(let webSocket) = state {
            let message = Self.webSocketMessage(packet)
            // Pings, noops and single packets count too; a probe's do not (it is not the session's websocket yet).
            if let close = admitToWebSocket(message.payload.readableBytes &+ 10) { return .close(close) }
            return .sent(webSocket.connection, message)
        }
        if let close = enqueue(.packet(packet)) { return .close(close) }
        return .queued
    }

    private static func webSocketMessage(_ packet: EngineIOPacket) -> WebSocketMessage {
        if case .binary(let data) = packet { return .binary(data) }
        var buffer = ByteBuffer()
        packet.encode(into: &buffer)
        return .text(buffer)
    }

    /// Counts bytes written while the websocket is not writable against `maxBufferedBytes`: nil while within the
    /// bound, else the slow client's close.
    private mutating func admitToWebSocket(_ bytes: Int) -> CloseAction? {
        guard case .websocket(var webSocket) = state else { preconditionFailure("not a websocket session") }
        guard !webSocket.writable else { return nil }
        webSocket.unwritableBytes &+= bytes
        state = .websocket(webSocket)
        guard webSocket.unwritableBytes > maxBufferedBytes else { return nil }
        return close(reason: .transportError, slowClientBytes: webSocket.unwritableBytes)
    }

    /// Queues for the next poll: nil while within `maxBufferedBytes`, else the slow client's close.
    private mutating func enqueue(_ item: EngineIOPollQueue.Item) -> CloseAction? {
        let queued = withPolling { polling in
            polling.queue.append(item)
            return polling.queue.bytes
        }
        guard let bytes = queued else { preconditionFailure("not a polling session") }
        guard bytes > maxBufferedBytes else { return nil }
        return close(reason: .transportError, slowClientBytes: bytes)
    }

    enum FlushAction {
        case flushWebSocket(Connection, onSessionLoop: Bool)
        /// The held poll takes the queue.
        case answerPoll(PollAnswer)
        /// Nothing to send, or nobody to send it to yet.
        case ignore
    }

    /// The application (or the session's end of tick) flushes.
    mutating func flushRequested() -> FlushAction {
        if case .websocket(let webSocket) = state {
            return .flushWebSocket(webSocket.connection, onSessionLoop: webSocket.onSessionLoop)
        }
        let answer = withPolling { polling -> PollAnswer? in
            guard let poll = polling.pendingPoll, !polling.queue.isEmpty else { return nil }
            polling.pendingPoll = nil
            return PollAnswer(poll: poll, response: .payload(polling.queue.takePayload()))
        }
        guard let answer = answer ?? nil else { return .ignore }
        return .answerPoll(answer)
    }

    // MARK: Polling

    /// What a polling request meets when the session takes none: after an upgrade it is a bad request; a
    /// closed session (lingering included, for anything but a GET) is gone. Nil while polling.
    private var pollingRefusal: EngineIOPollResponse? {
        switch state {
        case .polling, .upgrading: nil
        case .websocket: .error(.badRequest)
        case .lingering, .closed: .error(.unknownSessionID)
        case .modifying: preconditionFailure("state is being modified")
        }
    }

    enum GetAction {
        /// Answer this GET now.
        case respond(EngineIOPollResponse)
        /// Hold this GET until there is something to send; watch its connection (`pollClosedPrematurely`).
        case hold
        /// The lingering session's last GET: answer it, cancel the linger timer and forget the session.
        case endLinger(EngineIOPollResponse)
        /// A second GET while one is held is a broken client: answer this one, then close (the held one gets `1`).
        case refuseAndClose(EngineIOPollResponse, CloseAction)
    }

    /// A polling GET arrived.
    mutating func getReceived(_ poll: Poll) -> GetAction {
        if case .lingering = state {
            state = .closed(.polling)
            return .endLinger(.noop)
        }
        if let refusal = pollingRefusal { return .respond(refusal) }
        let upgrading = if case .upgrading = state { true } else { false }
        let action = withPolling { polling -> GetAction? in
            if polling.pendingPoll != nil { return nil }
            if !polling.queue.isEmpty { return .respond(.payload(polling.queue.takePayload())) }
            // While upgrading: a noop, so that the client can pause polling and finish the upgrade.
            if upgrading { return .respond(.noop) }
            polling.pendingPoll = poll
            return .hold
        }
        if let action = action ?? nil { return action }
        return .refuseAndClose(.status(.badRequest), close(reason: .transportError)!)
    }

    enum PostAction {
        /// Answer the POST; the session stays as it is.
        case respond(EngineIOPollResponse)
        /// Answer the POST, then close.
        case refuseAndClose(EngineIOPollResponse, CloseAction)
        /// Answer `ok`, then pass each packet to `packetReceived` in order, until the session closes.
        case accept([EngineIOPacket])
    }

    /// A polling POST arrived. `bodyTooLarge`: over `maxPayload` (its body was dropped); `isBinary`: sent as
    /// `application/octet-stream`, which an Engine.IO v4 client never does.
    mutating func postReceived(body: ByteBuffer?, bodyTooLarge: Bool, isBinary: Bool) -> PostAction {
        if let refusal = pollingRefusal { return .respond(refusal) }
        if bodyTooLarge { return .respond(.status(.payloadTooLarge)) }
        if isBinary { return .refuseAndClose(.status(.badRequest), close(reason: .transportError)!) }
        guard let packets = try? EngineIOPollingPayload.decode(body ?? ByteBuffer()) else {
            return .refuseAndClose(.error(.badRequest), close(reason: .parseError)!)
        }
        return .accept(packets)
    }

    /// A polling request with another method than GET and POST arrived: the answer.
    func otherMethodReceived() -> EngineIOPollResponse {
        pollingRefusal ?? .error(.badRequest)
    }

    /// The held poll's connection closed before it was answered: the client is gone (nil: not the held poll).
    mutating func pollClosedPrematurely(_ poll: Poll) -> CloseAction? {
        let wasHeld = withPolling { polling in
            guard let held = polling.pendingPoll, held.id == poll.id else { return false }
            polling.pendingPoll = nil
            return true
        }
        guard wasHeld == true else { return nil }
        return close(reason: .transportError)
    }

    enum LingerTimerAction {
        /// Forget the session: its last GET did not come.
        case forget
        case ignore
    }

    mutating func lingerTimerFired() -> LingerTimerAction {
        guard case .lingering = state else { return .ignore }
        state = .closed(.polling)
        return .forget
    }

    // MARK: Receiving

    enum ReceiveAction {
        case deliver(EngineIOMessage)
        /// A pong: arm the timer for pingInterval.
        case armPingInterval
        case close(CloseAction)
        case ignore
    }

    /// A packet arrived over the session's transport (a POST, or its websocket).
    mutating func packetReceived(_ packet: EngineIOPacket) -> ReceiveAction {
        if isClosed { return .ignore }
        switch packet {
        case .pong:
            guard let previous = swapHeartbeat(to: .waitingToPing) else { return .ignore }
            // An unsolicited pong (none was asked for) changes nothing.
            if previous == .waitingToPing { return .ignore }
            return .armPingInterval
        case .message(let data):
            return .deliver(.text(data))
        case .binary(let data):
            return .deliver(.binary(data))
        case .close:
            return .close(close(reason: .transportClose)!)
        case .ping:
            // v4 heartbeats go server → client only.
            return .close(close(reason: .transportError)!)
        case .open:
            return .close(close(reason: .parseError)!)
        case .upgrade, .noop:
            return .ignore
        }
    }

    // MARK: WebSocket

    enum ProbeOpenedAction {
        /// The connection probes: arm the upgrade timer.
        case armUpgradeTimer
        /// Not now (already upgrading, upgraded, or closed): close the connection.
        case refuse
    }

    /// A websocket with this session's id finished its HTTP upgrade.
    mutating func probeOpened(_ connection: Connection, onSessionLoop: Bool) -> ProbeOpenedAction {
        guard case .polling(let polling) = state else { return .refuse }
        state = .upgrading(polling, Probe(connection: connection, onSessionLoop: onSessionLoop))
        return .armUpgradeTimer
    }

    enum WebSocketReceiveAction {
        case deliver(EngineIOMessage)
        case armPingInterval
        case close(CloseAction)
        /// Send `3probe` over the probe and answer the held poll (a noop, so the client can pause polling).
        case answerProbe(Connection, WebSocketMessage, releasing: PollAnswer?)
        /// The session now runs over its websocket: cancel the upgrade timer, answer the held poll, send what
        /// polling had queued (through the write path, which counts it), then flush.
        case upgraded(releasing: PollAnswer?, queued: [EngineIOPollQueue.Item])
        /// The probe misbehaved: cancel the upgrade timer and close the probe; the session keeps polling.
        case closeProbe(Connection)
        /// Closed, or a connection the session no longer uses (a dropped probe's frames can still be queued).
        case ignore
    }

    /// A message arrived over the session's websocket or its probe.
    mutating func webSocketMessageReceived(_ message: WebSocketMessage, from connection: Connection) -> WebSocketReceiveAction {
        switch state {
        case .websocket(let webSocket) where webSocket.connection === connection:
            guard let packet = Self.decode(message) else { return .close(close(reason: .parseError)!) }
            switch packetReceived(packet) {
            case .deliver(let message): return .deliver(message)
            case .armPingInterval: return .armPingInterval
            case .close(let action): return .close(action)
            case .ignore: return .ignore
            }
        case .upgrading(var polling, var probe) where probe.connection === connection:
            switch Self.decode(message) {
            case .ping(let data)? where !probe.answered && data.readableBytesView.elementsEqual("probe".utf8):
                probe.answered = true
                let releasing = polling.pendingPoll.map { PollAnswer(poll: $0, response: .noop) }
                polling.pendingPoll = nil
                state = .upgrading(polling, probe)
                return .answerProbe(connection, Self.probeAnswer, releasing: releasing)
            case .upgrade? where probe.answered:
                let releasing = polling.pendingPoll.map { PollAnswer(poll: $0, response: .noop) }
                state = .modifying
                let queued = polling.queue.takeItems()
                state = .websocket(WebSocket(heartbeat: polling.heartbeat, connection: connection, onSessionLoop: probe.onSessionLoop))
                return .upgraded(releasing: releasing, queued: queued)
            default:
                state = .polling(polling)
                return .closeProbe(connection)
            }
        default:
            return .ignore
        }
    }

    /// `3probe`, the answer to the probe's `2probe`.
    static var probeAnswer: WebSocketMessage { webSocketMessage(.pong(ByteBuffer(string: "probe"))) }

    private static func decode(_ message: WebSocketMessage) -> EngineIOPacket? {
        switch message {
        case .text(let text): try? EngineIOPacket.decode(text: text)
        case .binary(let data): .binary(data)
        }
    }

    enum WebSocketClosedAction {
        case close(CloseAction)
        /// The probe went away: cancel the upgrade timer; the session keeps polling.
        case probeClosed
        case ignore
    }

    /// A websocket of this session closed.
    mutating func webSocketClosed(_ connection: Connection) -> WebSocketClosedAction {
        switch state {
        case .websocket(let webSocket) where webSocket.connection === connection:
            return .close(close(reason: .transportClose)!)
        case .upgrading(let polling, let probe) where probe.connection === connection:
            state = .polling(polling)
            return .probeClosed
        default:
            return .ignore
        }
    }

    /// The session's websocket reported its writability.
    mutating func webSocketWritabilityChanged(_ connection: Connection, isWritable: Bool) {
        guard case .websocket(var webSocket) = state, webSocket.connection === connection else { return }
        webSocket.writable = isWritable
        if isWritable { webSocket.unwritableBytes = 0 }
        state = .websocket(webSocket)
    }

    enum UpgradeTimerAction {
        /// The upgrade did not finish in time: close the probe; the session keeps polling.
        case closeProbe(Connection)
        case ignore
    }

    mutating func upgradeTimerFired() -> UpgradeTimerAction {
        guard case .upgrading(let polling, let probe) = state else { return .ignore }
        state = .polling(polling)
        return .closeProbe(probe.connection)
    }

    // MARK: Closing

    /// The server closes the session; nil when it is already closed.
    mutating func closeRequested(reason: EngineIOCloseReason) -> CloseAction? {
        close(reason: reason)
    }

    private mutating func close(reason: EngineIOCloseReason, slowClientBytes: Int? = nil) -> CloseAction? {
        let pendingPoll: Poll?
        var webSocket: Connection?
        var probe: Connection?
        switch state {
        case .polling(let polling):
            pendingPoll = polling.pendingPoll
        case .upgrading(let polling, let upgrading):
            pendingPoll = polling.pendingPoll
            probe = upgrading.connection
        case .websocket(let open):
            pendingPoll = nil
            webSocket = open.connection
        case .lingering, .closed:
            return nil
        case .modifying:
            preconditionFailure("state is being modified")
        }
        let transport = self.transport
        var answer: PollAnswer?
        var lingers = false
        if let pendingPoll {
            let noop = reason == .transportClose || reason == .serverShuttingDown
            answer = PollAnswer(poll: pendingPoll, response: noop ? .noop : .closePacket)
        } else if reason == .transportClose && transport == .polling {
            lingers = true
        }
        state = lingers ? .lingering : .closed(transport)
        return CloseAction(
            reason: reason, transport: transport, slowClientBytes: slowClientBytes, answer: answer, lingers: lingers,
            webSocket: webSocket, webSocketCloseCode: reason == .serverShuttingDown ? .goingAway : .normalClosure,
            probe: probe)
    }
}

/// How the session answers a polling request.
enum EngineIOPollResponse: Equatable {
    /// A `text/plain` payload of packets.
    case payload(ByteBuffer)
    /// A POST taken: `ok`.
    case ok
    /// The reference server's JSON error.
    case error(EngineIOErrorCode)
    /// A bare status, no body.
    case status(HTTPResponseStatus)

    static let noop = payload(packet(.noop))
    static let closePacket = payload(packet(.close))

    private static func packet(_ packet: EngineIOPacket) -> ByteBuffer {
        var buffer = ByteBuffer()
        packet.encode(into: &buffer)
        return buffer
    }
}

extension EngineIOSessionStateMachine.PollAnswer: Equatable where Poll: Equatable {}
extension EngineIOSessionStateMachine.CloseAction: Equatable where Poll: Equatable, Connection: Equatable {}
extension EngineIOSessionStateMachine.HeartbeatTimerAction: Equatable where Poll: Equatable, Connection: Equatable {}
extension EngineIOSessionStateMachine.WriteAction: Equatable where Poll: Equatable, Connection: Equatable {}
extension EngineIOSessionStateMachine.SendPacketAction: Equatable where Poll: Equatable, Connection: Equatable {}
extension EngineIOSessionStateMachine.FlushAction: Equatable where Poll: Equatable, Connection: Equatable {}
extension EngineIOSessionStateMachine.GetAction: Equatable where Poll: Equatable, Connection: Equatable {}
extension EngineIOSessionStateMachine.PostAction: Equatable where Poll: Equatable, Connection: Equatable {}
extension EngineIOSessionStateMachine.ReceiveAction: Equatable where Poll: Equatable, Connection: Equatable {}
extension EngineIOSessionStateMachine.WebSocketReceiveAction: Equatable where Poll: Equatable, Connection: Equatable {}
extension EngineIOSessionStateMachine.WebSocketClosedAction: Equatable where Poll: Equatable, Connection: Equatable {}
extension EngineIOSessionStateMachine.UpgradeTimerAction: Equatable where Poll: Equatable, Connection: Equatable {}
