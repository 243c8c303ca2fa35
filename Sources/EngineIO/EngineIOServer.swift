import EngineIOProtocol
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Synchronization
import HeraldWebSocket

/// The Engine.IO server: verifies requests, opens sessions over polling or websocket, and routes every later
/// request to its session. Sessions live on the event loop of the connection that opened them.
///
/// Lock-protected: shared by every loop, its session table, handlers, handshake bucket and per-address counts
/// each sit behind their own `Mutex`, held for one lookup or update and never across a call out. A request
/// reaches its session by one hop to the session's loop (`eventLoop.execute`).
public final class EngineIOServer: Sendable {
    public let configuration: EngineIOConfiguration
    public let logger: Logger
    let sessions = Mutex<[String: EngineIOSession]>([:])
    private let handlers = Mutex<Handlers>(Handlers())
    /// Each event loop's heartbeat timers (see `LoopTimers`), looked up once per session.
    let heartbeatTimers = LoopTimersByLoop()
    /// Each event loop's request head and keep-alive timers, looked up once per connection.
    let connectionTimers = HTTPConnectionTimers()
    /// Refusals and timeouts at the listener's edge.
    public let edgeStats = EngineIOEdgeStats()
    /// Volatile messages dropped and slow clients closed.
    public let dropStats = EngineIODropStats()
    /// Handshakes admitted under `maxHandshakesPerSecond`.
    private let handshakeBucket = Mutex(EngineIOTokenBucket())
    /// Open connections per remote address, kept only when `maxConnectionsPerAddress` is set.
    private let connectionsPerAddress = Mutex<[String: Int]>([:])
    /// `Retry-After` of every refusal, in seconds: socket.io-client ignores it and retries with its own backoff
    /// (1 s initial); other clients and proxies may honour it.
    static let retryAfterSeconds = 1
    /// Set when a drain stops taking new sessions (see EngineIOServer+Drain.swift).
    let refusingHandshakes = Atomic<Bool>(false)

    struct Handlers {
        var onSession: (@Sendable (EngineIOSession) -> Void)?
        var allowRequest: (@Sendable (HTTPRequestContext) -> Bool)?
        var routes: HTTPRouteHandler?
    }

    public init(configuration: EngineIOConfiguration = EngineIOConfiguration(), logger: Logger = Logger(label: "engine.io")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Called on the session's loop when a session opens, before the client can send anything: set its delegate here.
    public func onSession(_ handler: @escaping @Sendable (EngineIOSession) -> Void) {
        handlers.withLock { $0.onSession = handler }
    }

    /// A last say on each handshake; false answers 403 `{"code":4,"message":"Forbidden"}`.
    public func allowRequest(_ check: @escaping @Sendable (HTTPRequestContext) -> Bool) {
        handlers.withLock { $0.allowRequest = check }
    }

    /// Serves every request outside the Engine.IO path; unset (or nil from the handler) answers 404.
    public func setRoutes(_ routes: @escaping HTTPRouteHandler) {
        handlers.withLock { $0.routes = routes }
    }

    public var sessionCount: Int { sessions.withLock { $0.count } }

    public func session(id: String) -> EngineIOSession? { sessions.withLock { $0[id] } }

    /// Closes every session at once, by default as "forced close" (a close packet to polling clients).
    public func closeAllSessions(reason: EngineIOCloseReason = .forcedClose) {
        for session in sessions.withLock({ Array($0.values) }) {
            session.eventLoop.execute { session.close(reason: reason) }
        }
    }

    /// Heartbeat timer entries queued on all event loops, stale ones included (see `LoopTimers`): zero once every
    /// session has closed and the last stale entry came due, so a leak check can watch it return to zero.
    public func heartbeatTimerEntries() async -> Int {
        await heartbeatTimers.entryCount()
    }

    /// Request head and keep-alive timer entries of the listener's HTTP connections on all event loops, stale ones
    /// included: zero once every connection has closed and the last stale entry came due.
    public func headTimerEntries() async -> Int {
        await connectionTimers.entryCount()
    }

    func remove(_ session: EngineIOSession) {
        _ = sessions.withLock { $0.removeValue(forKey: session.id) }
    }

    // MARK: Pipeline

    /// Installs the handlers of a freshly accepted channel: the connection guard (timeouts, backpressure, refusal
    /// when over `maxConnections`, see `HTTPConnectionGuard`), then the websocket fast path, which answers a plain
    /// websocket upgrade itself (see `WebSocketUpgradeFastPath`) and hands anything else to the HTTP pipeline.
    public func configure(channel: any Channel) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            let limits = configuration.connectionLimits
            guard admitConnection(channel) else {
                let refusal = HTTPConnectionGuard.serviceUnavailable(
                    retryAfter: Self.retryAfterSeconds, allocator: channel.allocator)
                try channel.pipeline.syncOperations.addHandler(HTTPConnectionGuard(limits: limits, timers: connectionTimers, stats: edgeStats, refusal: refusal))
                return
            }
            let connectionGuard = HTTPConnectionGuard(limits: limits, timers: connectionTimers, stats: edgeStats)
            let fastPath = WebSocketUpgradeFastPath(
                configuration: webSocketConfiguration,
                shouldUpgrade: { [self] channel, head in
                    switch upgradeDecision(head, remoteAddress: channel.remoteAddress) {
                    case .upgrade(.existing(let session)): .upgrade(session)
                    case .upgrade(.handshake): .upgrade(nil)
                    case .decline: .httpPipeline
                    case .refuse(let seconds, let reason):
                        .refuse(HTTPConnectionGuard.serviceUnavailable(retryAfter: seconds, reason: reason, allocator: channel.allocator))
                    }
                },
                upgraded: { [self] connection, head, existing in
                    connectionGuard.connectionUpgraded()
                    // `shouldUpgrade` above hands over the session a probe joins, or nothing for a new session.
                    let verified: Verified? = switch existing {
                    case nil: .handshake
                    case let session as EngineIOSession: .existing(session)
                    default: nil
                    }
                    webSocketUpgraded(connection, head: head, verified: verified)
                },
                installHTTPPipeline: { [self] pipeline in try installHTTPPipeline(on: pipeline, guard: connectionGuard) })
            try channel.pipeline.syncOperations.addHandlers(connectionGuard, fastPath)
        }
    }

    /// Counts an accepted connection against `maxConnections` and `maxConnectionsPerAddress`; false refuses it.
    /// A counted connection is uncounted when it closes.
    private func admitConnection(_ channel: any Channel) -> Bool {
        let open = edgeStats.connectionOpened()
        let address = configuration.maxConnectionsPerAddress != nil ? channel.remoteAddress?.ipAddress : nil
        if let max = configuration.maxConnections, open > max {
            edgeStats.connectionClosed()
            edgeStats.connectionRefused()
            return false
        }
        if let address, let max = configuration.maxConnectionsPerAddress {
            let admitted = connectionsPerAddress.withLock { counts in
                let count = counts[address, default: 0]
                guard count < max else { return false }
                counts[address] = count + 1
                return true
            }
            guard admitted else {
                edgeStats.connectionClosed()
                edgeStats.connectionRefused()
                return false
            }
        }
        channel.closeFuture.whenComplete { [self] _ in
            edgeStats.connectionClosed()
            if let address {
                connectionsPerAddress.withLock { counts in
                    let count = counts[address, default: 1] - 1
                    counts[address] = count > 0 ? count : nil
                }
            }
        }
        return true
    }

    /// The one place that decides whether a new session may open now (polling handshake or websocket upgrade
    /// without a sid): `.accept`, or `.refuse` with the seconds after which to retry. A draining server refuses
    /// every one; otherwise `maxHandshakesPerSecond` decides.
    func admitHandshake() -> EngineIOAdmission {
        if refusingHandshakes.load(ordering: .relaxed) {
            edgeStats.handshakeRefused()
            return .refuse(retryAfter: Self.retryAfterSeconds, reason: .shuttingDown)
        }
        if let rate = configuration.maxHandshakesPerSecond {
            let now = ContinuousClock.now
            guard handshakeBucket.withLock({ $0.take(rate: rate, now: now) }) else {
                edgeStats.handshakeRefused()
                return .refuse(retryAfter: Self.retryAfterSeconds, reason: .busy)
            }
        }
        return .accept
    }

    /// Appends the HTTP server, the websocket upgrader and the request handler.
    private func installHTTPPipeline(on pipeline: ChannelPipeline.SynchronousOperations, guard connectionGuard: HTTPConnectionGuard) throws {
        let (encoder, others) = configuration.connectionLimits.makeHTTPServerHandlers()
        try pipeline.addHandler(encoder)
        try pipeline.addHandlers(others)
        // NIO's upgrade handler only looks at a connection's first request, but clients reuse keep-alive
        // connections for the websocket upgrade, so the HTTP handler puts a fresh one back after each request.
        let handler = HTTPServerHandler(server: self, connectionGuard: connectionGuard) { [self] in
            HTTPServerUpgradeHandler(
                upgraders: [makeUpgrader()], httpEncoder: encoder,
                extraHTTPHandlers: others,
                upgradeCompletionHandler: { context in
                    connectionGuard.connectionUpgraded()
                    context.pipeline.removeHandler(name: HTTPServerHandler.name, promise: nil)
                })
        }
        try pipeline.addHandler(handler.makeUpgradeHandler())
        try pipeline.addHandler(handler, name: HTTPServerHandler.name)
    }

    private var webSocketConfiguration: WebSocketConfiguration {
        WebSocketConfiguration(
            maxFrameSize: configuration.maxPayload, maxMessageSize: configuration.maxPayload,
            closeTimeout: configuration.webSocketCloseTimeout)
    }

    private func makeUpgrader() -> WebSocketServerUpgrader {
        WebSocketServerUpgrade.makeUpgrader(
            configuration: webSocketConfiguration,
            shouldUpgrade: { [self] channel, head in
                // A declined or refused request reaches `handle`, which answers the error (or 503).
                guard case .upgrade = upgradeDecision(head, remoteAddress: channel.remoteAddress) else {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
            },
            upgraded: { [self] connection, head in
                webSocketUpgraded(connection, head: head, verified: nil)
            })
    }

    func isEngineRequest(_ uri: String) -> Bool {
        let path = configuration.normalizedPath
        return uri.hasPrefix(path) || uri == String(path.dropLast()) || uri.hasPrefix(String(path.dropLast()) + "?")
    }

    // MARK: Requests

    func handle(_ request: HTTPRequestContext, responder: HTTPResponder) {
        guard isEngineRequest(request.uri) else {
            serveRoute(request, responder: responder)
            return
        }
        if request.method == .OPTIONS, let cors = configuration.cors {
            responder.respond(preflight(request, cors: cors))
            return
        }
        let query = EngineIOQuery(uri: request.uri)
        // A refused websocket upgrade lands here too; verifying it as an upgrade reports the real reason (say, code 5).
        let wantsUpgrade = request.head.headers["upgrade"].contains { $0.lowercased() == "websocket" }
        switch verify(request.head, query: query, isUpgrade: wantsUpgrade, remoteAddress: request.remoteAddress) {
        case .failure(let code):
            responder.respond(.engineError(code))
        case .success(.handshake) where wantsUpgrade && query.transport == EngineIOTransportKind.websocket.rawValue:
            // A valid new websocket handshake that the upgrader declined: only admission declines those.
            let reason: EngineIORefusalReason = refusingHandshakes.load(ordering: .relaxed) ? .shuttingDown : .busy
            responder.respond(.serviceUnavailable(retryAfter: Self.retryAfterSeconds, reason: reason))
        case .success where wantsUpgrade || query.transport != EngineIOTransportKind.polling.rawValue:
            responder.respond(.engineError(.badRequest))
        case .success(.existing(let session)):
            session.eventLoop.execute { session.handlePoll(request, responder: responder) }
        case .success(.handshake):
            if case .refuse(let seconds, let reason) = admitHandshake() {
                responder.respond(.serviceUnavailable(retryAfter: seconds, reason: reason))
                return
            }
            let eventLoop = responder.context.eventLoop
            let info = EngineIORequestInfo(
                headers: request.head.headers, uri: request.uri, remoteAddress: request.remoteAddress, transport: .polling)
            let session = openSession(on: eventLoop, request: info, websocket: nil)
            var payload = ByteBuffer()
            openPacket(for: session, upgrades: upgradesForPolling).encode(into: &payload)
            responder.respond(.pollPayload(payload))
        }
    }

    private func serveRoute(_ request: HTTPRequestContext, responder: HTTPResponder) {
        guard let routes = handlers.withLock({ $0.routes }) else {
            responder.respond(.json(.notFound, #"{"error":"not found"}"#))
            return
        }
        Task {
            let response = await routes(request) ?? .json(.notFound, #"{"error":"not found"}"#)
            responder.respond(response)
        }
    }

    enum Verified {
        case handshake
        case existing(EngineIOSession)
    }

    /// The reference server's checks, in its order; the first failure wins.
    func verify(_ head: HTTPRequestHead, query: EngineIOQuery, isUpgrade: Bool, remoteAddress: SocketAddress?)
        -> Result<Verified, EngineIOErrorCode>
    {
        guard let name = query.transport, let transport = EngineIOTransportKind(rawValue: name),
              configuration.transports.contains(transport)
        else { return .failure(.unknownTransport) }
        if let origin = head.headers.first(name: "origin"), let cors = configuration.cors, !cors.allows(origin: origin) {
            return .failure(.forbidden)
        }
        if let sid = query.sid {
            guard let session = session(id: sid) else { return .failure(.unknownSessionID) }
            if !isUpgrade && transport != .polling { return .failure(.badRequest) }
            if isUpgrade && !configuration.allowUpgrades { return .failure(.badRequest) }
            return .success(.existing(session))
        }
        guard head.method == .GET else { return .failure(.badHandshakeMethod) }
        if transport == .websocket && !isUpgrade { return .failure(.badRequest) }
        if let allow = handlers.withLock({ $0.allowRequest }),
           !allow(HTTPRequestContext(head: head, body: nil, remoteAddress: remoteAddress)) {
            return .failure(.forbidden)
        }
        guard query.eio == "4" else { return .failure(.unsupportedProtocolVersion) }
        return .success(.handshake)
    }

    /// What to do with a websocket upgrade request: a valid one upgrades, unless admission refuses the new session
    /// it would open (a probe with a sid joins an admitted session); anything else goes to the HTTP pipeline, which
    /// answers the right error.
    private func upgradeDecision(_ head: HTTPRequestHead, remoteAddress: SocketAddress?) -> UpgradeDecision {
        guard isEngineRequest(head.uri) else { return .decline }
        let query = EngineIOQuery(uri: head.uri)
        guard query.transport == EngineIOTransportKind.websocket.rawValue else { return .decline }
        switch verify(head, query: query, isUpgrade: true, remoteAddress: remoteAddress) {
        case .failure: return .decline
        case .success(let verified):
            if case .handshake = verified, case .refuse(let seconds, let reason) = admitHandshake() {
                return .refuse(retryAfter: seconds, reason: reason)
            }
            return .upgrade(verified)
        }
    }

    enum UpgradeDecision {
        /// A new session, or a probe joining an existing one: what `verify` found, for `webSocketUpgraded`.
        case upgrade(Verified)
        case decline
        case refuse(retryAfter: Int, reason: EngineIORefusalReason)
    }

    /// `verified`: what `upgradeDecision` found for this request; nil makes it look again (NIO's upgrader, which
    /// cannot carry it from its check to the upgrade).
    private func webSocketUpgraded(_ connection: WebSocketConnection, head: HTTPRequestHead, verified: Verified?) {
        var existing: EngineIOSession?
        switch verified {
        case .existing(let session):
            existing = session
        case .handshake:
            break
        case nil:
            if let sid = EngineIOQuery(uri: head.uri).sid {
                guard let session = session(id: sid) else {
                    connection.close()
                    return
                }
                existing = session
            }
        }
        if let session = existing {
            connection.delegate = EngineIOWebSocketBridge(session: session)
            session.eventLoop.execute { session.attachProbe(connection) }
            return
        }
        let info = EngineIORequestInfo(
            headers: head.headers, uri: head.uri, remoteAddress: connection.remoteAddress, transport: .websocket)
        let session = openSession(on: connection.eventLoop, request: info, websocket: connection)
        connection.delegate = EngineIOWebSocketBridge(session: session)
        var payload = ByteBuffer()
        openPacket(for: session, upgrades: []).encode(into: &payload)
        connection.send(.text(payload))
    }

    private func openSession(on eventLoop: any EventLoop, request: EngineIORequestInfo, websocket: WebSocketConnection?) -> EngineIOSession {
        var id = EngineIOServer.makeSessionID()
        let session = EngineIOSession(id: id, eventLoop: eventLoop, request: request, server: self, websocket: websocket)
        sessions.withLock { sessions in
            while sessions[id] != nil { id = EngineIOServer.makeSessionID() }
            sessions[id] = session
        }
        handlers.withLock { $0.onSession }?(session)
        session.start()
        return session
    }

    private var upgradesForPolling: [String] {
        configuration.allowUpgrades && configuration.transports.contains(.websocket) ? ["websocket"] : []
    }

    private func openPacket(for session: EngineIOSession, upgrades: [String]) -> EngineIOPacket {
        EngineIOOpenPayload(
            sid: session.id, upgrades: upgrades,
            pingInterval: Int(configuration.pingInterval.milliseconds),
            pingTimeout: Int(configuration.pingTimeout.milliseconds),
            maxPayload: configuration.maxPayload
        ).packet
    }

    /// Whether `text` has the form of the ids `makeSessionID` makes (which Socket.IO's socket ids are too).
    public static func hasSessionIDForm(_ text: String) -> Bool {
        text.utf8.count == 20 && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }
    }

    /// 20 URL-safe characters from 15 random bytes, like the reference server's ids (base64url, no padding).
    public static func makeSessionID() -> String {
        // 15 bytes = five 24-bit groups, from 16 random bytes.
        let (high, low) = RandomIDBits.next()
        return String(unsafeUninitializedCapacity: 20) { out in
            let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            let table = alphabet.utf8Start
            for group in 0..<5 {
                let bits = group < 2 ? high >> UInt64(40 - group * 24) : (group == 2 ? (high << 8 | low >> 56) : low >> UInt64(32 - (group - 3) * 24))
                let value = Int(truncatingIfNeeded: bits & 0xFF_FFFF)
                out[group * 4] = table[value >> 18]
                out[group * 4 + 1] = table[value >> 12 & 63]
                out[group * 4 + 2] = table[value >> 6 & 63]
                out[group * 4 + 3] = table[value & 63]
            }
            return 20
        }
    }

    // MARK: CORS

    func corsHeaders(for head: HTTPRequestHead) -> HTTPHeaders {
        guard let cors = configuration.cors, isEngineRequest(head.uri) else { return [:] }
        var headers = HTTPHeaders()
        let origin = head.headers.first(name: "origin")
        switch cors.origins {
        case .any where !cors.allowCredentials:
            headers.add(name: "Access-Control-Allow-Origin", value: "*")
        default:
            guard let origin, cors.allows(origin: origin) else { return [:] }
            headers.add(name: "Access-Control-Allow-Origin", value: origin)
            headers.add(name: "Vary", value: "Origin")
        }
        if cors.allowCredentials { headers.add(name: "Access-Control-Allow-Credentials", value: "true") }
        return headers
    }

    private func preflight(_ request: HTTPRequestContext, cors: CORSConfiguration) -> HTTPResponse {
        var response = HTTPResponse(status: .noContent)
        response.headers.add(name: "Access-Control-Allow-Methods", value: "GET,POST,OPTIONS")
        if let requested = request.head.headers.first(name: "access-control-request-headers") {
            response.headers.add(name: "Access-Control-Allow-Headers", value: requested)
            response.headers.add(name: "Vary", value: "Access-Control-Request-Headers")
        }
        if let maxAge = cors.maxAge { response.headers.add(name: "Access-Control-Max-Age", value: String(maxAge)) }
        return response
    }
}

extension Duration {
    /// Whole milliseconds, clamped to `Int64` (durations come from configuration: never a trap).
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return Self.clampedSum(seconds, times: 1000, plus: attoseconds / 1_000_000_000_000_000)
    }

    /// `value * factor + addend`, saturating at the bounds of `Int64` instead of trapping.
    static func clampedSum(_ value: Int64, times factor: Int64, plus addend: Int64) -> Int64 {
        let (scaled, overflow) = value.multipliedReportingOverflow(by: factor)
        if overflow { return value < 0 ? .min : .max }
        let (sum, overflowed) = scaled.addingReportingOverflow(addend)
        if overflowed { return scaled < 0 ? .min : .max }
        return sum
    }
}
