import NIOCore
import SocketIOProtocol
import Synchronization

/// A client socket for one namespace, multiplexed over its manager's connection.
///
/// Handlers run on the manager's event loop, called directly (no Task per message); they should not block.
/// Public methods may be called from any thread.
public final class SocketIOClientSocket: @unchecked Sendable {
    public let namespace: String
    public let manager: SocketIOManager
    public var eventLoop: any EventLoop { manager.eventLoop }

    private struct Snapshot {
        var state = SocketIOClientState.disconnected(.ioClientDisconnect)
        var id: String?
        var recovered = false
    }
    private let snapshot = Mutex(Snapshot())

    // Loop-confined state.
    private let auth: JSONValue?
    /// Whether the socket wants to be connected (connect() called, not yet disconnected by either side).
    private(set) var isActive = false
    /// Connection state recovery: the session id and last event offset the server gave us.
    private var pid: String?
    private var lastOffset: String?
    private var handlers: [String: [@Sendable (SocketIOClientEvent) -> Void]] = [:]
    private var anyHandlers: [@Sendable (SocketIOClientEvent) -> Void] = []
    private var stateHandlers: [@Sendable (SocketIOClientState) -> Void] = []
    /// Locked rather than loop-confined so a stream ending after the loop shut down needs no hop.
    private struct Streams {
        var events: [Int: AsyncStream<SocketIOClientEvent>.Continuation] = [:]
        var states: [Int: AsyncStream<SocketIOClientState>.Continuation] = [:]
        var nextID = 0
    }
    private let streams = Mutex(Streams())
    /// Emits made while not connected, sent once connected (as socket.io-client's sendBuffer).
    private var sendBuffer: [SocketIOPacket] = []
    private var acks: [Int: (continuation: CheckedContinuation<[JSONValue], any Error>, timer: Scheduled<Void>?)] = [:]
    private var nextAckID = 0
    private var connectWaiters: [CheckedContinuation<Void, any Error>] = []

    init(manager: SocketIOManager, namespace: String, auth: JSONValue?) {
        self.manager = manager
        self.namespace = namespace
        self.auth = auth
    }

    // MARK: Observing

    public var state: SocketIOClientState { snapshot.withLock { $0.state } }
    public var connected: Bool { state == .connected }
    /// The socket id from the server's CONNECT reply; nil until connected.
    public var id: String? { snapshot.withLock { $0.id } }
    /// Whether the last connection resumed the previous session (connection state recovery).
    public var recovered: Bool { snapshot.withLock { $0.recovered } }

    /// Calls `handler` for every event named `event`.
    public func on(_ event: String, _ handler: @escaping @Sendable (SocketIOClientEvent) -> Void) {
        onLoop { $0.handlers[event, default: []].append(handler) }
    }

    /// Calls `handler` for every event.
    public func onAny(_ handler: @escaping @Sendable (SocketIOClientEvent) -> Void) {
        onLoop { $0.anyHandlers.append(handler) }
    }

    /// Calls `handler` on every state change.
    public func onStateChange(_ handler: @escaping @Sendable (SocketIOClientState) -> Void) {
        onLoop { $0.stateHandlers.append(handler) }
    }

    /// Every event received from now on.
    public func events() -> AsyncStream<SocketIOClientEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: SocketIOClientEvent.self)
        let key = streams.withLock { streams in
            defer { streams.nextID += 1 }
            streams.events[streams.nextID] = continuation
            return streams.nextID
        }
        continuation.onTermination = { [weak self] _ in _ = self?.streams.withLock { $0.events.removeValue(forKey: key) } }
        return stream
    }

    /// Every state change from now on.
    public func stateUpdates() -> AsyncStream<SocketIOClientState> {
        let (stream, continuation) = AsyncStream.makeStream(of: SocketIOClientState.self)
        let key = streams.withLock { streams in
            defer { streams.nextID += 1 }
            streams.states[streams.nextID] = continuation
            return streams.nextID
        }
        continuation.onTermination = { [weak self] _ in _ = self?.streams.withLock { $0.states.removeValue(forKey: key) } }
        return stream
    }

    // MARK: Connecting

    /// Connects (opening the manager's connection if needed) and returns once the server accepted the
    /// namespace. Throws `SocketIOConnectError` when the server refuses it, `SocketIOClientError` when the
    /// connection cannot be made (after the reconnection attempts) or `disconnect()` is called meanwhile.
    public func connect() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            onLoop { socket in
                if socket.state == .connected { return continuation.resume() }
                socket.connectWaiters.append(continuation)
                socket.startConnecting()
            }
        }
    }

    /// Sends DISCONNECT and stops reconnecting this socket; the manager closes once no socket is left.
    public func disconnect() {
        onLoop { $0.disconnectOnLoop() }
    }

    private func startConnecting() {
        guard !isActive else { return }
        isActive = true
        if case .reconnecting = state {} else { setState(.connecting) }
        manager.socketWantsConnection(self)
    }

    // MARK: Emitting

    public func emit(_ event: String, _ args: JSONValue...) { emit(event, args: args) }

    /// Sends an event; while not connected it is buffered and sent on connection.
    public func emit(_ event: String, args: [JSONValue]) {
        let packet = SocketIOPacket.event(event, args, namespace: namespace)
        onLoop { $0.sendOrBuffer(packet) }
    }

    public func emitWithAck(_ event: String, _ args: JSONValue..., timeout: Duration? = nil) async throws -> [JSONValue] {
        try await emitWithAck(event, args: args, timeout: timeout)
    }

    /// Sends an event and waits for the server's acknowledgement. `timeout` (default: the configuration's
    /// `ackTimeout`) counts from the call, buffering included; throws `SocketIOClientError.ackTimeout`.
    public func emitWithAck(_ event: String, args: [JSONValue], timeout: Duration? = nil) async throws -> [JSONValue] {
        let timeout = timeout ?? manager.configuration.ackTimeout
        return try await withCheckedThrowingContinuation { continuation in
            onLoop { socket in
                let id = socket.nextAckID
                socket.nextAckID += 1
                let timer = timeout.map { timeout -> Scheduled<Void> in
                    socket.eventLoop.scheduleTask(in: TimeAmount(timeout)) { () -> Void in
                        socket.acks.removeValue(forKey: id)?.continuation.resume(throwing: SocketIOClientError.ackTimeout)
                    }
                }
                socket.acks[id] = (continuation, timer)
                socket.sendOrBuffer(.event(event, args, namespace: socket.namespace, id: id))
            }
        }
    }

    // MARK: From the manager (on the loop)

    private func onLoop(_ body: @escaping @Sendable (SocketIOClientSocket) -> Void) {
        if eventLoop.inEventLoop {
            body(self)
        } else {
            eventLoop.execute { body(self) }
        }
    }

    private func sendOrBuffer(_ packet: SocketIOPacket) {
        if state == .connected {
            manager.send(packet)
        } else {
            sendBuffer.append(packet)
        }
    }

    func engineOpened() {
        guard isActive, state != .connected else { return }
        var data = auth
        if let pid {
            // Recovery: the previous session and the last offset seen, ahead of the user's auth fields.
            var object: JSONObject = ["pid": .string(pid)]
            object["offset"] = lastOffset.map(JSONValue.string) ?? .null
            if case .object(let user)? = auth {
                for (key, value) in user where key != "pid" && key != "offset" { object[key] = value }
            }
            data = .object(object)
        }
        manager.send(.connect(namespace: namespace, data: data))
    }

    func engineClosed(_ reason: SocketIOClientDisconnectReason) {
        switch state {
        case .connected, .connecting:
            setState(.disconnected(reason))
            failAcks()
        default:
            break
        }
    }

    func reconnecting(attempt: Int) {
        setState(.reconnecting(attempt: attempt))
    }

    /// The manager will not reconnect: the socket is done.
    func gaveUp(_ reason: SocketIOClientDisconnectReason) {
        guard isActive else { return }
        isActive = false
        sendBuffer.removeAll()
        setState(.disconnected(reason))
        failAcks()
        failWaiters(reason == .reconnectFailed ? SocketIOClientError.reconnectFailed : SocketIOClientError.disconnected)
    }

    func disconnectOnLoop() {
        guard isActive || state == .connected else { return }
        if state == .connected { manager.send(.disconnect(namespace: namespace)) }
        isActive = false
        sendBuffer.removeAll()
        setState(.disconnected(.ioClientDisconnect))
        failAcks()
        failWaiters(SocketIOClientError.disconnected)
        manager.socketLeft(self)
    }

    func received(_ packet: SocketIOPacket) {
        switch packet.type {
        case .connect:
            let sid = packet.data?["sid"]?.stringValue
            let newPid = packet.data?["pid"]?.stringValue
            let recovered = newPid != nil && newPid == pid
            pid = newPid
            if !recovered { lastOffset = nil }
            snapshot.withLock {
                $0.id = sid
                $0.recovered = recovered
            }
            setState(.connected)
            let buffered = sendBuffer
            sendBuffer.removeAll()
            for packet in buffered { manager.send(packet) }
            let waiters = connectWaiters
            connectWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        case .connectError:
            let error: SocketIOConnectError
            if case .string(let message)? = packet.data {
                error = SocketIOConnectError(message: message)
            } else {
                error = SocketIOConnectError(
                    message: packet.data?["message"]?.stringValue ?? "", data: packet.data?["data"])
            }
            isActive = false
            sendBuffer.removeAll()
            setState(.disconnected(.connectError))
            failWaiters(error)
            manager.socketLeft(self)
        case .event, .binaryEvent:
            guard let name = packet.eventName else { return }
            let args = packet.arguments
            if pid != nil, case .string(let offset)? = args.last { lastOffset = offset }
            var acknowledge: (@Sendable ([JSONValue]) -> Void)?
            if let id = packet.id {
                let answered = Mutex(false)
                let namespace = namespace
                acknowledge = { [self] args in
                    guard !answered.withLock({ done in defer { done = true }; return done }) else { return }
                    onLoop { $0.manager.send(.ack(id: id, args: args, namespace: namespace)) }
                }
            }
            deliver(SocketIOClientEvent(name: name, args: args, acknowledge: acknowledge))
        case .ack, .binaryAck:
            guard let id = packet.id, let pending = acks.removeValue(forKey: id) else { return }
            pending.timer?.cancel()
            pending.continuation.resume(returning: packet.arguments)
        case .disconnect:
            isActive = false
            sendBuffer.removeAll()
            setState(.disconnected(.ioServerDisconnect))
            failAcks()
            failWaiters(SocketIOClientError.disconnected)
            manager.socketLeft(self)
        }
    }

    private func deliver(_ event: SocketIOClientEvent) {
        for handler in handlers[event.name] ?? [] { handler(event) }
        for handler in anyHandlers { handler(event) }
        for continuation in streams.withLock({ Array($0.events.values) }) { continuation.yield(event) }
    }

    private func setState(_ newState: SocketIOClientState) {
        let changed = snapshot.withLock { snapshot in
            defer { snapshot.state = newState }
            return snapshot.state != newState
        }
        guard changed else { return }
        for handler in stateHandlers { handler(newState) }
        for continuation in streams.withLock({ Array($0.states.values) }) { continuation.yield(newState) }
    }

    private func failAcks() {
        let pending = acks
        acks.removeAll()
        for (_, ack) in pending {
            ack.timer?.cancel()
            ack.continuation.resume(throwing: SocketIOClientError.disconnected)
        }
    }

    private func failWaiters(_ error: any Error) {
        let waiters = connectWaiters
        connectWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: error) }
    }
}
