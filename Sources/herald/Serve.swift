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
    @Option(help: "Enabled transports, comma-separated [HERALD_TRANSPORTS, default polling,websocket].") var transports: String?
    @Option(help: "Allowed CORS origins, comma-separated, or * [HERALD_CORS_ORIGINS, default: CORS off].") var corsOrigins: String?
    @Flag(help: "Allow credentials in CORS answers [HERALD_CORS_CREDENTIALS=1].") var corsCredentials = false
    @Option(help: "Graceful shutdown drain time in ms [HERALD_DRAIN_TIMEOUT, default 10000].") var drainTimeout: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical [HERALD_LOG_LEVEL, default info].") var logLevel: String?
    @Option(help: "Log format: json or text [HERALD_LOG_FORMAT, default json].") var logFormat: String?

    func makeConfiguration(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HeraldConfiguration {
        func value(_ flag: String?, _ name: String) -> String? { flag ?? environment["HERALD_" + name] }
        func int(_ flag: Int?, _ name: String) throws -> Int? {
            if let flag { return flag }
            guard let text = environment["HERALD_" + name] else { return nil }
            guard let number = Int(text) else { throw ValidationError("HERALD_\(name) must be an integer, got \(text)") }
            return number
        }
        var configuration = HeraldConfiguration()
        if let host = value(host, "HOST") { configuration.host = host }
        if let port = try int(port, "PORT") { configuration.port = port }
        if let threads = try int(threads, "THREADS") { configuration.threads = threads }
        var engine = configuration.socketIO.engine
        if let path = value(path, "PATH") { engine.path = path }
        if let ms = try int(pingInterval, "PING_INTERVAL") { engine.pingInterval = .milliseconds(ms) }
        if let ms = try int(pingTimeout, "PING_TIMEOUT") { engine.pingTimeout = .milliseconds(ms) }
        if let bytes = try int(maxPayload, "MAX_PAYLOAD") { engine.maxPayload = bytes }
        if let ms = try int(upgradeTimeout, "UPGRADE_TIMEOUT") { engine.upgradeTimeout = .milliseconds(ms) }
        if let bytes = try int(maxBufferedBytes, "MAX_BUFFERED_BYTES") { engine.maxBufferedBytes = bytes }
        if let list = value(transports, "TRANSPORTS") {
            var kinds: Set<EngineIOTransportKind> = []
            for name in list.split(separator: ",") {
                guard let kind = EngineIOTransportKind(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("unknown transport \(name); use polling and/or websocket")
                }
                kinds.insert(kind)
            }
            engine.transports = kinds
        }
        if let origins = value(corsOrigins, "CORS_ORIGINS") {
            let list = origins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let credentials = corsCredentials || environment["HERALD_CORS_CREDENTIALS"] == "1"
            engine.cors = CORSConfiguration(origins: list == ["*"] ? .any : .list(list), allowCredentials: credentials)
        }
        configuration.socketIO.engine = engine
        if let ms = try int(connectTimeout, "CONNECT_TIMEOUT") { configuration.socketIO.connectTimeout = .milliseconds(ms) }
        if let ms = try int(drainTimeout, "DRAIN_TIMEOUT") { configuration.drainTimeout = .milliseconds(ms) }
        if let level = value(logLevel, "LOG_LEVEL") {
            guard let parsed = Logger.Level(rawValue: level) else { throw ValidationError("unknown log level \(level)") }
            configuration.logLevel = parsed
        }
        if let format = value(logFormat, "LOG_FORMAT") {
            guard let parsed = HeraldConfiguration.LogFormat(rawValue: format) else { throw ValidationError("log format must be json or text") }
            configuration.logFormat = parsed
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
        var handler: any LogHandler
        switch format {
        case .json: handler = JSONLogHandler(label: label)
        case .text: handler = StreamLogHandler.standardError(label: label)
        }
        handler.logLevel = level
        return handler
    }
}
