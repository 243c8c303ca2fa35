import EngineIOProtocol
import NIOCore
import NIOHTTP1
import SocketIOProtocol
import HeraldWebSocket
import HeraldPercentCoding

/// One Engine.IO v4 client session: handshake, heartbeat, polling and websocket transports and the
/// polling → websocket upgrade. Confined to `loop`; every callback runs there. One instance per
/// session: the manager makes a new one for each (re)connection.
final class EngineIOClient: @unchecked Sendable {
    enum Transport {
        case polling
        case websocket(WebSocketClientConnection)
    }

    private enum State { case idle, opening, open, closed }

    let loop: any EventLoop
    private let host: String
    private let port: Int
    private let configuration: SocketIOClientConfiguration
    private var state = State.idle
    private var transport: Transport?
    private(set) var handshake: EngineIOOpenPayload?

    // Polling: one connection for the long-poll GET, one for POSTs.
    private var getConnection: PollingHTTPConnection
    private var postConnection: PollingHTTPConnection
    private var polling = false
    private var posting = false
    /// Packets waiting for the next POST (or for the upgrade to finish).
    private var writeBuffer: [EngineIOPacket] = []
    /// Set once the probe answered: polling winds down, then `5` switches to the websocket.
    private var upgradeProbe: WebSocketClientConnection?
    private var pausingForUpgrade = false

    private var pingTimer: Scheduled<Void>?
    private var openTimer: Scheduled<Void>?

    var onOpen: (EngineIOOpenPayload) -> Void = { _ in }
    /// `.message` and `.binary` packets, in order.
    var onPacket: (EngineIOPacket) -> Void = { _ in }
    /// Exactly once, after `open()`, unless `close()` was called first.
    var onClose: (SocketIOClientDisconnectReason) -> Void = { _ in }
    var onUpgrade: () -> Void = {}

    /// `transport` adds the TLS client handler of every connection (`https://`, `wss://`); nil for plain TCP.
    private let transportSetup: (@Sendable (any Channel) throws -> Void)?

    init(host: String, port: Int, configuration: SocketIOClientConfiguration, transport: (@Sendable (any Channel) throws -> Void)?,
         loop: any EventLoop) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.loop = loop
        self.transportSetup = transport
        self.getConnection = PollingHTTPConnection(host: host, port: port, transport: transport, loop: loop)
        self.postConnection = PollingHTTPConnection(host: host, port: port, transport: transport, loop: loop)
    }

    var transportKind: SocketIOClientTransport? {
        switch transport {
        case .polling: .polling
        case .websocket: .websocket
        case nil: nil
        }
    }

    // MARK: Opening

    func open() {
        loop.preconditionInEventLoop()
        guard state == .idle else { return }
        state = .opening
        openTimer = loop.scheduleTask(in: TimeAmount(configuration.connectTimeout)) { [self] in
            if state == .opening { fail(.transportError) }
        }
        if configuration.transports.first == .websocket {
            openWebSocket()
        } else {
            openPolling()
        }
    }

    private func uri(transport: SocketIOClientTransport, sid: String?) -> String {
        var path = configuration.path
        if !path.hasSuffix("/") { path += "/" }
        var uri = path + "?EIO=4&transport=" + transport.rawValue
        if let sid { uri += "&sid=" + sid }
        for (key, value) in configuration.query.sorted(by: { $0.key < $1.key }) {
            uri += "&" + PercentCoding.encode(key) + "=" + PercentCoding.encode(value)
        }
        return uri
    }

    private func openPolling() {
        transport = .polling
        polling = true
        getConnection.request(method: .GET, uri: uri(transport: .polling, sid: nil), headers: configuration.headers, body: nil)
            .whenComplete { [self] result in
                polling = false
                guard state == .opening else { return }
                guard case .success(let response) = result, response.status == 200,
                      let packets = try? EngineIOPollingPayload.decode(response.body),
                      case .open(let data)? = packets.first
                else { return fail(.transportError) }
                guard opened(with: data) else { return }
                for packet in packets.dropFirst() where state == .open { handle(packet) }
                poll()
                if configuration.upgrade, configuration.transports.contains(.websocket),
                   handshake?.upgrades.contains("websocket") == true {
                    probeWebSocket()
                }
            }
    }

    private func openWebSocket() {
        WebSocketClient.connect(
            host: host, port: port, uri: uri(transport: .websocket, sid: nil), headers: configuration.headers,
            configuration: configuration.webSocket, transport: transportSetup, eventLoop: loop,
            onMessage: { [self] message in webSocketMessage(message) },
            onClose: { [self] _, _ in webSocketClosed() }
        ).whenComplete { [self] result in
           
            switch result {
            case .success(let connection):
                if state == .opening || state == .open {
                    transport = .websocket(connection)
                } else {
                    connection.close()
                }
            case .failure:
                if state == .opening { fail(.transportError) }
            }
        }
    }

    /// Parses the open packet's JSON; false (and the session failed) when it is unusable.
    private func opened(with data: ByteBuffer) -> Bool {
        guard let json = try? JSONValue(parsing: data),
              let sid = json["sid"]?.stringValue,
              let pingInterval = json["pingInterval"]?.intValue,
              let pingTimeout = json["pingTimeout"]?.intValue
        else {
            fail(.parseError)
            return false
        }
        let upgrades = json["upgrades"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let payload = EngineIOOpenPayload(
            sid: sid, upgrades: upgrades, pingInterval: pingInterval, pingTimeout: pingTimeout,
            maxPayload: json["maxPayload"]?.intValue ?? 1_000_000)
        handshake = payload
        state = .open
        openTimer?.cancel()
        openTimer = nil
        resetPingTimer()
        onOpen(payload)
        return true
    }

    // MARK: Receiving

    private func webSocketMessage(_ message: WebSocketMessage) {
        guard state == .opening || state == .open else { return }
        let packet: EngineIOPacket
        switch message {
        case .binary(let data):
            packet = .binary(data)
        case .text(let data):
            guard let decoded = try? EngineIOPacket.decode(text: data) else { return fail(.parseError) }
            packet = decoded
        }
        if state == .opening {
            guard case .open(let data) = packet else { return fail(.parseError) }
            _ = opened(with: data)
            return
        }
        handle(packet)
    }

    private func webSocketClosed() {
        guard case .websocket = transport, state == .opening || state == .open else { return }
        fail(.transportClose)
    }

    private func handle(_ packet: EngineIOPacket) {
        switch packet {
        case .ping:
            resetPingTimer()
            send([.pong(ByteBuffer())])
        case .message, .binary:
            onPacket(packet)
        case .close:
            fail(.transportClose)
        case .open, .pong, .upgrade, .noop:
            break
        }
    }

    /// A ping is due every pingInterval; one that is pingTimeout late means the server is gone.
    private func resetPingTimer() {
        pingTimer?.cancel()
        guard let handshake else { return }
        pingTimer = loop.scheduleTask(in: .milliseconds(Int64(handshake.pingInterval + handshake.pingTimeout))) { [self] in
            if state == .open { fail(.pingTimeout) }
        }
    }

    // MARK: Polling

    private func poll() {
        guard state == .open, case .polling = transport, !polling, !pausingForUpgrade, let sid = handshake?.sid else { return }
        polling = true
        getConnection.request(method: .GET, uri: uri(transport: .polling, sid: sid), headers: configuration.headers, body: nil)
            .whenComplete { [self] result in
                polling = false
                guard state == .open, case .polling = transport else { return }
                guard case .success(let response) = result, response.status == 200 else { return fail(.transportError) }
                guard let packets = try? EngineIOPollingPayload.decode(response.body) else { return fail(.parseError) }
                for packet in packets where state == .open { handle(packet) }
                if pausingForUpgrade { finishUpgradeIfPaused() } else { poll() }
            }
    }

    private func flushPolling() {
        guard state == .open, case .polling = transport, !posting, !pausingForUpgrade, !writeBuffer.isEmpty,
              let sid = handshake?.sid
        else { return }
        var body = ByteBuffer()
        EngineIOPollingPayload.encode(writeBuffer, into: &body)
        writeBuffer.removeAll()
        posting = true
        postConnection.request(method: .POST, uri: uri(transport: .polling, sid: sid), headers: configuration.headers, body: body)
            .whenComplete { [self] result in
                posting = false
                guard state == .open, case .polling = transport else { return }
                guard case .success(let response) = result, response.status == 200 else { return fail(.transportError) }
                if pausingForUpgrade { finishUpgradeIfPaused() } else { flushPolling() }
            }
    }

    // MARK: Upgrade

    private func probeWebSocket() {
        guard let sid = handshake?.sid else { return }
        WebSocketClient.connect(
            host: host, port: port, uri: uri(transport: .websocket, sid: sid), headers: configuration.headers,
            configuration: configuration.webSocket, transport: transportSetup, eventLoop: loop,
            onMessage: { [self] message in probeMessage(message) },
            onClose: { [self] _, _ in
                if case .websocket = transport { webSocketClosed() } else { abortUpgrade() }
            }
        ).whenComplete { [self] result in
            guard case .success(let connection) = result else { return }   // stay on polling
            guard state == .open, case .polling = transport else { return connection.close() }
            upgradeProbe = connection
            connection.send(.text("2probe"))
        }
    }

    private func probeMessage(_ message: WebSocketMessage) {
        if case .websocket = transport { return webSocketMessage(message) }
        guard state == .open, upgradeProbe != nil else { return }
        guard case .text(let data) = message, String(buffer: data) == "3probe" else { return abortUpgrade() }
        // The server answers the pending GET with a noop once the probe is answered, so polling drains.
        pausingForUpgrade = true
        finishUpgradeIfPaused()
    }

    private func finishUpgradeIfPaused() {
        guard pausingForUpgrade, !polling, !posting, let probe = upgradeProbe, state == .open else { return }
        pausingForUpgrade = false
        upgradeProbe = nil
        probe.send(.text("5"))
        transport = .websocket(probe)
        getConnection.close()
        postConnection.close()
        let queued = writeBuffer
        writeBuffer.removeAll()
        send(queued)
        onUpgrade()
    }

    private func abortUpgrade() {
        upgradeProbe?.close()
        upgradeProbe = nil
        if pausingForUpgrade {
            pausingForUpgrade = false
            poll()
            flushPolling()
        }
    }

    // MARK: Sending

    /// Queues packets in order; text packets become text frames, binary ones binary frames (or `b`+base64 on polling).
    func send(_ packets: [EngineIOPacket]) {
        loop.preconditionInEventLoop()
        guard state == .open, !packets.isEmpty else { return }
        switch transport {
        case .websocket(let connection):
            for packet in packets {
                if case .binary(let data) = packet {
                    connection.send(.binary(data))
                } else {
                    var buffer = ByteBuffer()
                    packet.encode(into: &buffer)
                    connection.send(.text(buffer))
                }
            }
        case .polling, nil:
            writeBuffer.append(contentsOf: packets)
            flushPolling()
        }
    }

    // MARK: Closing

    /// Client-initiated close: tells the server (a `1` over polling, a Close frame over websocket) and reports nothing.
    /// The future completes once the polling goodbye has been answered (at once for websocket).
    @discardableResult
    func close() -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        var goodbye = loop.makeSucceededVoidFuture()
        defer { teardown() }
        guard state != .closed else { return goodbye }
        let wasOpen = state == .open
        state = .closed
        switch transport {
        case .websocket(let connection):
            connection.close()
        case .polling:
            if wasOpen, let sid = handshake?.sid {
                var body = ByteBuffer()
                EngineIOPacket.close.encode(into: &body)
                // A fresh connection: the POST one may be busy, and this must not wait for it.
                let closer = PollingHTTPConnection(host: host, port: port, transport: transportSetup, loop: loop)
                goodbye = closer.request(method: .POST, uri: uri(transport: .polling, sid: sid), headers: configuration.headers, body: body)
                    .map { _ in closer.close() }
                    .recover { _ in closer.close() }
            }
        case nil:
            break
        }
        return goodbye
    }

    /// The session failed: clean up and report the reason once.
    private func fail(_ reason: SocketIOClientDisconnectReason) {
        guard state == .opening || state == .open else { return }
        state = .closed
        if case .websocket(let connection) = transport { connection.close() }
        teardown()
        onClose(reason)
    }

    private func teardown() {
        pingTimer?.cancel()
        openTimer?.cancel()
        upgradeProbe?.close()
        upgradeProbe = nil
        getConnection.close()
        postConnection.close()
        writeBuffer.removeAll()
    }
}
