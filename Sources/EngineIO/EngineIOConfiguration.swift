import NIOCore

/// Options of an Engine.IO server. Each default is documented here once, and asserted by a test.
public struct EngineIOConfiguration: Sendable {
    /// URL path prefix the server answers on. Default `/engine.io/`; Socket.IO uses `/socket.io/`.
    public var path: String
    /// Interval between server pings. Default 25 s.
    public var pingInterval: Duration
    /// How long a ping may go unanswered before the session closes with "ping timeout". Default 20 s.
    public var pingTimeout: Duration
    /// Largest accepted message (WebSocket) or POST body (polling), in bytes. Default 1 000 000.
    public var maxPayload: Int
    /// How long a websocket probe may take to finish the upgrade. Default 10 s.
    public var upgradeTimeout: Duration
    /// Enabled transports. Default both.
    public var transports: Set<EngineIOTransportKind>
    /// Whether polling sessions are offered the websocket upgrade. Default true.
    public var allowUpgrades: Bool
    /// Cross-origin policy. Default nil: no CORS headers and no origin check.
    public var cors: CORSConfiguration?
    /// Bytes a session may have waiting for a slow client (written while its socket is not writable, or
    /// queued for its next poll) before it is closed. Default 4 MiB.
    public var maxBufferedBytes: Int
    /// Largest request body accepted on non-Engine.IO routes. Default 1 MiB.
    public var maxHTTPBodySize: Int
    /// The listener's limits on HTTP connections (head size and time, keep-alive idle time, backpressure).
    /// Defaults in `HTTPConnectionLimits`.
    public var connectionLimits: HTTPConnectionLimits
    /// After the server sends a websocket Close, how long the peer has to answer before TCP is closed. Default 5 s.
    public var webSocketCloseTimeout: Duration
    /// Open TCP connections on the listener, beyond which a new one is answered 503 (with `Retry-After`) and
    /// closed. Default nil: no cap (the process's file descriptor limit is the cap).
    public var maxConnections: Int?
    /// Open TCP connections from one remote address, beyond which a new one is refused like `maxConnections`.
    /// Default nil: no cap (behind a proxy every client has the proxy's address).
    public var maxConnectionsPerAddress: Int?
    /// New sessions (handshakes) per second the server admits; the excess is refused at once with 503 and
    /// `Retry-After` (polling handshake and websocket upgrade alike), so a reconnect storm is admitted at the
    /// rate the node sustains while its connected clients keep their heartbeats. Up to one second's worth may
    /// come in a burst. Default nil: no limit.
    public var maxHandshakesPerSecond: Int?

    public init(
        path: String = "/engine.io/",
        pingInterval: Duration = .seconds(25),
        pingTimeout: Duration = .seconds(20),
        maxPayload: Int = 1_000_000,
        upgradeTimeout: Duration = .seconds(10),
        transports: Set<EngineIOTransportKind> = [.polling, .websocket],
        allowUpgrades: Bool = true,
        cors: CORSConfiguration? = nil,
        maxBufferedBytes: Int = 4 << 20,
        maxHTTPBodySize: Int = 1 << 20,
        connectionLimits: HTTPConnectionLimits = HTTPConnectionLimits(),
        webSocketCloseTimeout: Duration = .seconds(5),
        maxConnections: Int? = nil,
        maxConnectionsPerAddress: Int? = nil,
        maxHandshakesPerSecond: Int? = nil
    ) {
        self.path = path
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.maxPayload = maxPayload
        self.upgradeTimeout = upgradeTimeout
        self.transports = transports
        self.allowUpgrades = allowUpgrades
        self.cors = cors
        self.maxBufferedBytes = maxBufferedBytes
        self.maxHTTPBodySize = maxHTTPBodySize
        self.connectionLimits = connectionLimits
        self.webSocketCloseTimeout = webSocketCloseTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.maxHandshakesPerSecond = maxHandshakesPerSecond
    }

    /// The path with exactly one trailing slash, as matched against request URIs.
    var normalizedPath: String {
        var path = path
        while path.hasSuffix("/") { path.removeLast() }
        return path + "/"
    }
}

public enum EngineIOTransportKind: String, Sendable, Hashable, CaseIterable {
    case polling
    case websocket
}

/// Cross-origin resource sharing for the polling transport, and the origin check for websockets.
public struct CORSConfiguration: Sendable, Hashable {
    public enum Origins: Sendable, Hashable {
        /// `Access-Control-Allow-Origin: *` (or the request's origin when credentials are allowed).
        case any
        /// Only these origins (exact match, e.g. `https://shop.example.com`); others are refused with 403.
        case list([String])
    }
    public var origins: Origins
    public var allowCredentials: Bool
    /// Seconds a browser may cache a preflight answer. Default nil (not sent).
    public var maxAge: Int?

    public init(origins: Origins = .any, allowCredentials: Bool = false, maxAge: Int? = nil) {
        self.origins = origins
        self.allowCredentials = allowCredentials
        self.maxAge = maxAge
    }

    func allows(origin: String) -> Bool {
        switch origins {
        case .any: true
        case .list(let list): list.contains(origin)
        }
    }
}
