import EngineIOProtocol
import NIOCore
import NIOPosix
import NIOSSL
import SocketIOProtocol
import Synchronization
import HeraldWebSocket

/// One connection to a Socket.IO server (socket.io-client's `Manager`): it owns the Engine.IO session,
/// multiplexes the namespace sockets over it, and reconnects with socket.io-client's backoff (exponential, randomized ±50 %).
///
/// All state lives on one event loop; public methods may be called from anywhere and hop there.
public final class SocketIOManager: @unchecked Sendable {
    public let host: String
    public let port: Int
    public let configuration: SocketIOClientConfiguration
    /// Every handler, callback and timer of this manager and its sockets runs on this loop.
    public let eventLoop: any EventLoop

    private var engine: EngineIOClient?
    private var engineOpen = false
    /// Locked so `socket(_:)` can stay synchronous from any thread; everything else reads it on the loop.
    private let socketTable = Mutex<[String: SocketIOClientSocket]>([:])
    private var sockets: [String: SocketIOClientSocket] { socketTable.withLock { $0 } }
    /// Bounded by `configuration.maxAttachments`/`maxAttachmentBytes`: a hostile server cannot make it hold more.
    private var decoder: SocketIOPacketDecoder
    private var reconnectAttempt = 0
    private var reconnectTimer: Scheduled<Void>?
    private var closedByUser = false
    /// The last client-initiated close still under way.
    private var goodbye: EventLoopFuture<Void>?
    private var generator = SystemRandomNumberGenerator()
    private var upgradeHandlers: [@Sendable () -> Void] = []
    private let transportBox = Mutex<SocketIOClientTransport?>(nil)
    /// The TLS context of every connection (`https://` / `wss://`); nil for plain TCP.
    private let tls: NIOSSLContext?

    /// `group` supplies the event loop (one is picked); default: NIO's shared singleton group.
    public convenience init(
        host: String,
        port: Int,
        configuration: SocketIOClientConfiguration = SocketIOClientConfiguration(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.init(host: host, port: port, tls: nil, configuration: configuration, group: group)
    }

    /// Connects to `url`: `http://` or `ws://` (plain TCP), `https://` or `wss://` (TLS with `tls`, default the
    /// system's trust roots and the host's name checked), with an optional port (default 80 / 443). The path of
    /// the URL is not the Engine.IO path (`configuration.path`) and must be empty or `/`.
    public convenience init(
        url: String,
        configuration: SocketIOClientConfiguration = SocketIOClientConfiguration(),
        tls: TLSConfiguration? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        guard let separator = url.firstRange(of: "://"), ["http", "https", "ws", "wss"].contains(url[..<separator.lowerBound].lowercased())
        else { throw SocketIOClientURLError(url: url) }
        let scheme = url[..<separator.lowerBound].lowercased()
        let secure = scheme == "https" || scheme == "wss"
        var rest = url[separator.upperBound...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else { throw SocketIOClientURLError(url: url) }
        var host = String(rest), port = secure ? 443 : 80
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let given = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(given) else { throw SocketIOClientURLError(url: url) }
            host = String(rest[..<colon])
            port = given
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw SocketIOClientURLError(url: url) }
        let context = try secure ? NIOSSLContext(configuration: tls ?? .makeClientConfiguration()) : nil
        self.init(host: host, port: port, tls: context, configuration: configuration, group: group)
    }

    private init(host: String, port: Int, tls: NIOSSLContext?, configuration: SocketIOClientConfiguration, group: any EventLoopGroup) {
        self.host = host
        self.port = port
        self.tls = tls
        self.configuration = configuration
        self.eventLoop = group.next()
        self.decoder = SocketIOPacketDecoder(
            maxAttachments: configuration.maxAttachments, maxAttachmentBytes: configuration.maxAttachmentBytes)
    }

    /// The socket of `namespace`, created on first use (later calls return the same socket and ignore `auth`).
    /// `auth` goes in every CONNECT of this socket.
    public func socket(_ namespace: String = "/", auth: JSONValue? = nil) -> SocketIOClientSocket {
        let name = namespace.hasPrefix("/") ? namespace : "/" + namespace
        return socketTable.withLock { sockets in
            if let existing = sockets[name] { return existing }
            let socket = SocketIOClientSocket(manager: self, namespace: name, auth: auth)
            sockets[name] = socket
            return socket
        }
    }

    /// The transport in use, nil while no session is open.
    public var transport: SocketIOClientTransport? { transportBox.withLock { $0 } }

    /// Called on the event loop after a polling session switched to websocket.
    public func onUpgrade(_ handler: @escaping @Sendable () -> Void) {
        eventLoop.execute { self.upgradeHandlers.append(handler) }
    }

    /// Disconnects every socket and closes the session; no reconnection follows.
    public func close() {
        eventLoop.execute { _ = self.closeOnLoop() }
    }

    /// `close()`, returning once the server has been told (before shutting down the event loop group, say).
    public func shutdown() async {
        try? await eventLoop.flatSubmit { self.closeOnLoop() }.get()
    }

    private func closeOnLoop() -> EventLoopFuture<Void> {
        for socket in sockets.values { socket.disconnectOnLoop() }
        closeEngine()
        return goodbye ?? eventLoop.makeSucceededVoidFuture()
    }

    // MARK: Internal, on the loop

    var isOpen: Bool { engineOpen }

    /// A socket wants to connect: open the session unless it is open or on its way.
    func socketWantsConnection(_ socket: SocketIOClientSocket) {
        eventLoop.preconditionInEventLoop()
        closedByUser = false
        if engineOpen {
            socket.engineOpened()
        } else if engine == nil, reconnectTimer == nil {
            openEngine()
        }
    }

    /// A socket left: when none wants the connection any more, close it (as socket.io-client does).
    func socketLeft(_ socket: SocketIOClientSocket) {
        eventLoop.preconditionInEventLoop()
        if !sockets.values.contains(where: \.isActive) { closeEngine() }
    }

    func send(_ packet: SocketIOPacket) {
        eventLoop.preconditionInEventLoop()
        guard let engine, engineOpen else { return }
        var buffer = ByteBuffer()
        let attachments = SocketIOPacketEncoder.encode(packet, into: &buffer)
        engine.send([.message(buffer)] + attachments.map { .binary($0) })
    }

    private func openEngine() {
        var transport: (@Sendable (any Channel) throws -> Void)?
        if let tls {
            // SNI carries names only: for an IP address NIOSSL checks the address against the certificate.
            let serverName = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
            transport = { channel in
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
            }
        }
        let engine = EngineIOClient(host: host, port: port, configuration: configuration, transport: transport, loop: eventLoop)
        self.engine = engine
        decoder = SocketIOPacketDecoder(
            maxAttachments: configuration.maxAttachments, maxAttachmentBytes: configuration.maxAttachmentBytes)
        engine.onOpen = { [unowned self, unowned engine] _ in
            engineOpen = true
            reconnectAttempt = 0
            transportBox.withLock { $0 = engine.transportKind }
            for socket in sockets.values where socket.isActive { socket.engineOpened() }
        }
        engine.onPacket = { [unowned self] packet in received(packet) }
        engine.onUpgrade = { [unowned self] in
            transportBox.withLock { $0 = .websocket }
            for handler in upgradeHandlers { handler() }
        }
        engine.onClose = { [unowned self] reason in engineClosed(reason) }
        engine.open()
    }

    private func closeEngine() {
        closedByUser = true
        reconnectTimer?.cancel()
        reconnectTimer = nil
        reconnectAttempt = 0
        if let engine { goodbye = engine.close() }
        engine = nil
        engineOpen = false
        transportBox.withLock { $0 = nil }
    }

    private func received(_ packet: EngineIOPacket) {
        let decoded: SocketIOPacket?
        do {
            switch packet {
            case .message(let text): decoded = try decoder.decode(text: text)
            case .binary(let data): decoded = try decoder.decode(binary: data)
            default: return
            }
        } catch {
            engine?.close()
            return engineClosed(.parseError)
        }
        guard let decoded else { return }   // waiting for attachments
        sockets[decoded.namespace]?.received(decoded)
    }

    private func engineClosed(_ reason: SocketIOClientDisconnectReason) {
        engine = nil
        engineOpen = false
        transportBox.withLock { $0 = nil }
        for socket in sockets.values { socket.engineClosed(reason) }
        guard !closedByUser else { return }
        if configuration.reconnection, sockets.values.contains(where: \.isActive) {
            scheduleReconnect()
        } else {
            for socket in sockets.values { socket.gaveUp(reason) }
        }
    }

    private func scheduleReconnect() {
        reconnectAttempt += 1
        guard reconnectAttempt <= configuration.reconnectionAttempts else {
            reconnectAttempt = 0
            for socket in sockets.values { socket.gaveUp(.reconnectFailed) }
            return
        }
        let attempt = reconnectAttempt
        let delay = ReconnectionBackoff.delay(
            attempt: attempt, initialDelay: configuration.reconnectionDelay,
            maxDelay: configuration.reconnectionDelayMax, randomization: configuration.randomizationFactor, using: &generator)
        for socket in sockets.values where socket.isActive { socket.reconnecting(attempt: attempt) }
        reconnectTimer = eventLoop.scheduleTask(in: TimeAmount(delay)) { [self] in
            reconnectTimer = nil
            guard !closedByUser, engine == nil else { return }
            openEngine()
        }
    }
}

/// A URL `SocketIOManager(url:)` cannot use: not `http(s)://` or `ws(s)://host[:port][/]`.
public struct SocketIOClientURLError: Error, Sendable, CustomStringConvertible {
    public let url: String
    public var description: String { "not a Socket.IO server URL (http(s):// or ws(s)://host[:port]): \(url)" }
}
