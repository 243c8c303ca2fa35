import EngineIO
import Logging
import HeraldRedis
import NIOCore
import SocketIO

/// Everything a herald node is started with. Defaults run a single node with no external services.
public struct HeraldConfiguration: Sendable {
    /// Listen address. Default `0.0.0.0`.
    public var host: String
    /// Listen port. Default 3000.
    public var port: Int
    /// Event loop threads. Default: one per core.
    public var threads: Int
    /// The Socket.IO and Engine.IO options (path `/socket.io/`, pingInterval 25 s, pingTimeout 20 s, maxPayload 1 000 000, connectTimeout 45 s).
    public var socketIO: SocketIOConfiguration
    /// Graceful shutdown, first phase: after SIGTERM `/ready` answers 503 at once while new connections are still
    /// accepted for this long, so that load balancers polling `/ready` stop sending clients here before they
    /// would be refused. Default 5 s (a health check every 1–2 s failing 2–3 times, or Kubernetes' endpoint
    /// removal, fits in it); 0 when nothing polls `/ready`.
    public var preDrainDelay: Duration
    /// Second phase: new connections are refused (retryable 503) and the open transports are closed in paced
    /// batches spread over this window, so their clients reconnect elsewhere gradually. Default 5 s.
    public var drainWindow: Duration
    /// Last phase: how long the node then waits for the closes to leave and recovery sessions to be stored
    /// before it exits anyway. Default 10 s.
    public var drainTimeout: Duration
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// TLS on the public (Socket.IO) listener: `wss://` and `https://` polling without a proxy in front (see
    /// docs/security.md). Default: off, plain TCP.
    public var tls = ListenerTLSConfiguration()
    /// The publish API, the Redis envelope channel and bridges (see docs/publishing.md). Default: API off.
    public var publishing = PublishingConfiguration()
    /// JWT authentication, room permissions and connection limits (see docs/auth.md). Default: off (no key).
    public var auth = AuthConfiguration()
    /// The live dashboard and metrics (see docs/dashboard.md). Default: figures every second to room `dashboard`.
    public var dashboard = DashboardConfiguration()
    /// Redis for many nodes (rooms, broadcasts, cluster requests, recovery across nodes). Default nil: one node, in memory.
    public var redis: RedisConfiguration?
    /// Where the Redis servers are when `redis` is set: one server (default `.single`), a Redis Cluster, or a
    /// Sentinel-watched primary (see docs/cluster.md).
    public var redisTopology: RedisTopology = .single
    /// Chat with history: the message store and chat limits (see docs/chat.md). Default: SQLite in memory (`:memory:`).
    public var chat = ChatConfiguration()
    /// Presence per room (see docs/presence.md). Default: only rooms whose auth rule says `"presence": true`.
    public var presence = PresenceConfiguration()
    /// Webhooks to the backend (see docs/webhooks.md). Default: off (no URL).
    public var webhooks = WebhookConfiguration()
    /// The demo pages, token endpoint and simulated backend (see docs/demo.md). Default nil: off, `/demo/…` answers 404.
    public var demo: DemoConfiguration?
    /// Connection state recovery (see docs). Default nil: off.
    public var recovery: ConnectionStateRecovery? {
        get { socketIO.connectionStateRecovery }
        set { socketIO.connectionStateRecovery = newValue }
    }

    public enum LogFormat: String, Sendable, CaseIterable {
        case json
        case text
    }

    public init(
        host: String = "0.0.0.0",
        port: Int = 3000,
        threads: Int = System.coreCount,
        socketIO: SocketIOConfiguration = SocketIOConfiguration(),
        preDrainDelay: Duration = .seconds(5),
        drainWindow: Duration = .seconds(5),
        drainTimeout: Duration = .seconds(10),
        logLevel: Logger.Level = .info,
        logFormat: LogFormat = .json
    ) {
        self.host = host
        self.port = port
        self.threads = threads
        self.socketIO = socketIO
        self.preDrainDelay = preDrainDelay
        self.drainWindow = drainWindow
        self.drainTimeout = drainTimeout
        self.logLevel = logLevel
        self.logFormat = logFormat
    }
}

