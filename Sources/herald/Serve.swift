import ArgumentParser
import EngineIO
import Foundation
import Herald
import Logging
import ServiceLifecycle
import SocketIO

/// Options read from flags first, then HERALD_* environment variables, then the documented defaults.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a herald node (defaults: port 3000, in-memory adapter, no external services).",
        discussion: "Every option can also be set with the environment variable named in its help.")

    @Option(help: "Listen address [HERALD_HOST, default 0.0.0.0].") var host: String?
    @Option(help: "Listen port [HERALD_PORT, default 3000].") var port: Int?
    @Option(help: "Event loop threads [HERALD_THREADS, default: cores].") var threads: Int?
    @Option(help: "Socket.IO path [HERALD_PATH, default /socket.io/].") var path: String?
    @Option(help: "Ping interval in ms [HERALD_PING_INTERVAL, default 25000].") var pingInterval: Int?
    @Option(help: "Ping timeout in ms [HERALD_PING_TIMEOUT, default 20000].") var pingTimeout: Int?
    @Option(help: "Largest message or POST body in bytes [HERALD_MAX_PAYLOAD, default 1000000].") var maxPayload: Int?
    @Option(help: "Websocket upgrade timeout in ms [HERALD_UPGRADE_TIMEOUT, default 10000].") var upgradeTimeout: Int?
    @Option(help: "Time to join a namespace in ms [HERALD_CONNECT_TIMEOUT, default 45000].") var connectTimeout: Int?
    @Option(help: "Bytes buffered for a slow client before it is dropped [HERALD_MAX_BUFFERED_BYTES, default 4194304].") var maxBufferedBytes: Int?
    @Option(help: "Time for a request head to arrive in ms [HERALD_REQUEST_HEAD_TIMEOUT, default 10000].") var requestHeadTimeout: Int?
    @Option(help: "Idle keep-alive HTTP connection timeout in ms [HERALD_KEEP_ALIVE_TIMEOUT, default 65000].") var keepAliveTimeout: Int?
    @Option(help: "Largest HTTP request head in bytes, else 431 [HERALD_MAX_REQUEST_HEAD_SIZE, default 16384].") var maxRequestHeadSize: Int?
    @Option(help: "Unsent HTTP response bytes before a client that does not read is dropped [HERALD_MAX_UNSENT_RESPONSE_BYTES, default 4194304].") var maxUnsentResponseBytes: Int?
    @Option(help: "Wait for the peer's websocket Close in ms [HERALD_WEBSOCKET_CLOSE_TIMEOUT, default 5000].") var websocketCloseTimeout: Int?
    @Option(help: "Open connections, beyond which new ones get 503; 0 for no cap [HERALD_MAX_CONNECTIONS, default no cap].") var maxConnections: Int?
    @Option(help: "Open connections per client address; 0 for no cap [HERALD_MAX_CONNECTIONS_PER_ADDRESS, default no cap].") var maxConnectionsPerAddress: Int?
    @Option(help: "New sessions per second, the excess gets 503; 0 for no limit [HERALD_MAX_HANDSHAKES_PER_SECOND, default no limit].") var maxHandshakesPerSecond: Int?
    @Option(help: "Enabled transports, comma-separated [HERALD_TRANSPORTS, default polling,websocket].") var transports: String?
    @Option(help: "Allowed CORS origins, comma-separated, or * [HERALD_CORS_ORIGINS, default: CORS off].") var corsOrigins: String?
    @Flag(help: "Allow credentials in CORS answers [HERALD_CORS_CREDENTIALS=1].") var corsCredentials = false
    @Option(help: "After SIGTERM, ms during which /ready answers 503 but connections are still accepted [HERALD_PRE_DRAIN_DELAY, default 5000].") var preDrainDelay: Int?
    @Option(help: "Window in ms over which a drain closes the open connections in paced batches [HERALD_DRAIN_WINDOW, default 5000].") var drainWindow: Int?
    @Option(help: "Longest wait in ms after the drain window for the last closes and recovery sessions [HERALD_DRAIN_TIMEOUT, default 10000].") var drainTimeout: Int?
    @Option(help: "Redis URL for many nodes, redis://[user:password@]host[:port][/db] [HERALD_REDIS_URL, default: one node].") var redisURL: String?
    @Option(help: "Connection state recovery window in ms, 0 for off [HERALD_RECOVERY_WINDOW, default off].") var recoveryWindow: Int?
    @Option(help: "Chat history store: sqlite:///path.db, :memory: or postgres://… [HERALD_DATABASE_URL, default :memory:].") var databaseURL: String?
    @Option(help: "Longest chat text in UTF-8 bytes [HERALD_CHAT_MAX_BYTES, default 16384].") var chatMaxBytes: Int?
    @Option(help: "Largest chat history page in bytes [HERALD_CHAT_HISTORY_MAX_BYTES, default 262144].") var chatHistoryMaxBytes: Int?
    @Option(help: "Chat rooms one socket may join [HERALD_CHAT_MAX_ROOMS, default 100].") var chatMaxRooms: Int?
    @Option(help: "Where /metrics is served: auto, public or api [HERALD_METRICS_LISTENER, default auto: the API listener when it is on].") var metricsListener: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical [HERALD_LOG_LEVEL, default info].") var logLevel: String?
    @Option(help: "Log format: json or text [HERALD_LOG_FORMAT, default json].") var logFormat: String?
    @OptionGroup(title: "Backend publishing") var publishing: PublishingOptions
    @OptionGroup(title: "Authentication") var auth: AuthOptions
    @OptionGroup(title: "Rooms and packets") var rooms: RoomOptions
    @OptionGroup(title: "Redis") var redis: RedisOptions

    /// Environment first, then flags on top, both under the HERALD_* names.
    func makeConfiguration(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HeraldConfiguration {
        var settings = environment.filter { $0.key.hasPrefix("HERALD_") }
        let flags: [String: String?] = [
            "HERALD_HOST": host, "HERALD_PORT": port.map(String.init), "HERALD_THREADS": threads.map(String.init),
            "HERALD_PATH": path, "HERALD_PING_INTERVAL": pingInterval.map(String.init),
            "HERALD_PING_TIMEOUT": pingTimeout.map(String.init), "HERALD_MAX_PAYLOAD": maxPayload.map(String.init),
            "HERALD_UPGRADE_TIMEOUT": upgradeTimeout.map(String.init), "HERALD_CONNECT_TIMEOUT": connectTimeout.map(String.init),
            "HERALD_MAX_BUFFERED_BYTES": maxBufferedBytes.map(String.init),
            "HERALD_REQUEST_HEAD_TIMEOUT": requestHeadTimeout.map(String.init),
            "HERALD_KEEP_ALIVE_TIMEOUT": keepAliveTimeout.map(String.init),
            "HERALD_MAX_REQUEST_HEAD_SIZE": maxRequestHeadSize.map(String.init),
            "HERALD_MAX_UNSENT_RESPONSE_BYTES": maxUnsentResponseBytes.map(String.init),
            "HERALD_WEBSOCKET_CLOSE_TIMEOUT": websocketCloseTimeout.map(String.init),
            "HERALD_MAX_CONNECTIONS": maxConnections.map(String.init),
            "HERALD_MAX_CONNECTIONS_PER_ADDRESS": maxConnectionsPerAddress.map(String.init),
            "HERALD_MAX_HANDSHAKES_PER_SECOND": maxHandshakesPerSecond.map(String.init), "HERALD_TRANSPORTS": transports,
            "HERALD_CORS_ORIGINS": corsOrigins, "HERALD_CORS_CREDENTIALS": corsCredentials ? "1" : nil,
            "HERALD_PRE_DRAIN_DELAY": preDrainDelay.map(String.init), "HERALD_DRAIN_WINDOW": drainWindow.map(String.init),
            "HERALD_DRAIN_TIMEOUT": drainTimeout.map(String.init),
            "HERALD_REDIS_URL": redisURL, "HERALD_RECOVERY_WINDOW": recoveryWindow.map(String.init),
            "HERALD_DATABASE_URL": databaseURL, "HERALD_CHAT_MAX_BYTES": chatMaxBytes.map(String.init),
            "HERALD_CHAT_HISTORY_MAX_BYTES": chatHistoryMaxBytes.map(String.init), "HERALD_CHAT_MAX_ROOMS": chatMaxRooms.map(String.init),
            "HERALD_METRICS_LISTENER": metricsListener, "HERALD_LOG_LEVEL": logLevel, "HERALD_LOG_FORMAT": logFormat,
        ]
        for case let (name, value?) in flags.merging(publishing.settings, uniquingKeysWith: { $1 }).merging(auth.settings, uniquingKeysWith: { $1 })
            .merging(rooms.settings, uniquingKeysWith: { $1 }).merging(redis.settings, uniquingKeysWith: { $1 }) { settings[name] = value }
        var configuration = HeraldConfiguration()
        do {
            try configuration.apply(settings)
        } catch let error as HeraldConfiguration.SettingError {
            throw ValidationError(error.description)
        }
        return configuration
    }

    func run() async throws {
        let configuration = try makeConfiguration()
        bootstrapLogging(format: configuration.logFormat, level: configuration.logLevel)
        let logger = Logger(label: "herald")
        let node = HeraldNode(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [node], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

func bootstrapLogging(format: HeraldConfiguration.LogFormat, level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = HeraldLogHandler(label: label, format: format)
        handler.logLevel = level
        return handler
    }
}
