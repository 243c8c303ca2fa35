import NIOHTTP1
import HeraldWebSocket

/// The transports a client may use, in the order it tries them.
public enum SocketIOClientTransport: String, Sendable, Hashable {
    case polling
    case websocket
}

/// Options of a `SocketIOManager`. Each default is documented here once, and asserted by a test.
public struct SocketIOClientConfiguration: Sendable {
    /// Server path. Default `/socket.io/`.
    public var path: String
    /// The first one opens the session. Default `[.polling, .websocket]` (open with polling, then upgrade), as socket.io-client.
    public var transports: [SocketIOClientTransport]
    /// Whether a polling session upgrades to websocket when the server offers it. Default true.
    public var upgrade: Bool
    /// Extra query parameters of every Engine.IO request. Default none.
    public var query: [String: String]
    /// Extra headers of every HTTP request and of the websocket upgrade. Default none.
    public var headers: HTTPHeaders
    /// Whether the manager reconnects after losing the connection. Default true.
    public var reconnection: Bool
    /// Reconnection attempts in a row before giving up. Default `Int.max` (socket.io-client's `Infinity`: a
    /// client outlives any outage).
    public var reconnectionAttempts: Int
    /// The delay before the first attempt; it doubles per attempt (see `ReconnectionBackoff`). Default 1 s.
    public var reconnectionDelay: Duration
    /// Longest delay between attempts. Default 5 s.
    public var reconnectionDelayMax: Duration
    /// How far each delay is moved at random, as a fraction of itself (0 < f ≤ 1; anything else: not at all).
    /// Default 0.5, as socket.io-client's `randomizationFactor`.
    public var randomizationFactor: Double
    /// How long opening the Engine.IO session may take. Default 20 s (socket.io-client's `timeout`).
    public var connectTimeout: Duration
    /// Timeout of `emitWithAck` when the call gives none. Default nil: wait until answered or disconnected.
    public var ackTimeout: Duration?
    /// Limits of the websocket transport. Default `WebSocketConfiguration()`.
    public var webSocket: WebSocketConfiguration
    /// Most binary attachments one packet from the server may announce; more closes the connection
    /// (`parse error`). Default 10, the server's `SocketIOConfiguration.maxAttachments`.
    public var maxAttachments: Int
    /// Most bytes one packet's attachments may hold together; more closes the connection at the attachment that
    /// overflows (`parse error`). Default 1 000 000, the server's `maxPayload`.
    public var maxAttachmentBytes: Int

    public init(
        path: String = "/socket.io/",
        transports: [SocketIOClientTransport] = [.polling, .websocket],
        upgrade: Bool = true,
        query: [String: String] = [:],
        headers: HTTPHeaders = HTTPHeaders(),
        reconnection: Bool = true,
        reconnectionAttempts: Int = .max,
        reconnectionDelay: Duration = .seconds(1),
        reconnectionDelayMax: Duration = .seconds(5),
        randomizationFactor: Double = 0.5,
        connectTimeout: Duration = .seconds(20),
        ackTimeout: Duration? = nil,
        webSocket: WebSocketConfiguration = WebSocketConfiguration(),
        maxAttachments: Int = 10,
        maxAttachmentBytes: Int = 1_000_000
    ) {
        self.path = path
        self.transports = transports
        self.upgrade = upgrade
        self.query = query
        self.headers = headers
        self.reconnection = reconnection
        self.reconnectionAttempts = reconnectionAttempts
        self.reconnectionDelay = reconnectionDelay
        self.reconnectionDelayMax = reconnectionDelayMax
        self.randomizationFactor = randomizationFactor
        self.connectTimeout = connectTimeout
        self.ackTimeout = ackTimeout
        self.webSocket = webSocket
        self.maxAttachments = maxAttachments
        self.maxAttachmentBytes = maxAttachmentBytes
    }
}
