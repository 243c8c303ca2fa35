import EngineIO
import Foundation
import Logging
import HeraldRedis
import SocketIO

/// Reading the configuration from `HERALD_*` settings (environment variables, or flags mapped to the same names).
extension HeraldConfiguration {
    public struct SettingError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The integer setting `name` (nil when absent); anything else than an integer of at least `minimum` throws
    /// an error naming the setting. Shared by every feature's `apply(_:)`.
    static func integer(_ name: String, in settings: [String: String], minimum: Int = 0) throws -> Int? {
        guard let text = settings[name] else { return nil }
        guard let number = Int(text), number >= minimum else {
            let requirement = switch minimum {
            case 0: "a non-negative integer"
            case 1: "a positive integer"
            default: "an integer of at least \(minimum)"
            }
            throw SettingError(description: "\(name) must be \(requirement), got \(text)")
        }
        return number
    }

    /// Applies every `HERALD_*` setting present in `settings`; unknown values throw with the setting's name.
    public mutating func apply(_ settings: [String: String]) throws {
        func int(_ name: String) throws -> Int? { try Self.integer(name, in: settings) }
        if let host = settings["HERALD_HOST"] { self.host = host }
        if let port = try int("HERALD_PORT") { self.port = port }
        if let threads = try int("HERALD_THREADS") { self.threads = max(1, threads) }
        var engine = socketIO.engine
        if let path = settings["HERALD_PATH"] { engine.path = path }
        if let ms = try int("HERALD_PING_INTERVAL") { engine.pingInterval = .milliseconds(ms) }
        if let ms = try int("HERALD_PING_TIMEOUT") { engine.pingTimeout = .milliseconds(ms) }
        if let bytes = try int("HERALD_MAX_PAYLOAD") { engine.maxPayload = bytes }
        if let ms = try int("HERALD_UPGRADE_TIMEOUT") { engine.upgradeTimeout = .milliseconds(ms) }
        if let bytes = try int("HERALD_MAX_BUFFERED_BYTES") { engine.maxBufferedBytes = bytes }
        if let ms = try Self.integer("HERALD_REQUEST_HEAD_TIMEOUT", in: settings, minimum: 1) {
            engine.connectionLimits.requestHeadTimeout = .milliseconds(ms)
        }
        if let ms = try Self.integer("HERALD_KEEP_ALIVE_TIMEOUT", in: settings, minimum: 1) {
            engine.connectionLimits.keepAliveTimeout = .milliseconds(ms)
        }
        if let bytes = try Self.integer("HERALD_MAX_REQUEST_HEAD_SIZE", in: settings, minimum: 1024) {
            engine.connectionLimits.maxRequestHeadSize = bytes
        }
        if let bytes = try Self.integer("HERALD_MAX_UNSENT_RESPONSE_BYTES", in: settings, minimum: 1024) {
            engine.connectionLimits.maxUnsentResponseBytes = bytes
        }
        if let ms = try Self.integer("HERALD_WEBSOCKET_CLOSE_TIMEOUT", in: settings, minimum: 1) {
            engine.webSocketCloseTimeout = .milliseconds(ms)
        }
        // 0 turns a cap off.
        if let count = try int("HERALD_MAX_CONNECTIONS") { engine.maxConnections = count == 0 ? nil : count }
        if let count = try int("HERALD_MAX_CONNECTIONS_PER_ADDRESS") { engine.maxConnectionsPerAddress = count == 0 ? nil : count }
        if let rate = try int("HERALD_MAX_HANDSHAKES_PER_SECOND") { engine.maxHandshakesPerSecond = rate == 0 ? nil : rate }
        if let list = settings["HERALD_TRANSPORTS"] {
            var kinds: Set<EngineIOTransportKind> = []
            for name in list.split(separator: ",") {
                let trimmed = name.trimmingCharacters(in: .whitespaces)
                guard let kind = EngineIOTransportKind(rawValue: trimmed) else {
                    throw SettingError(description: "HERALD_TRANSPORTS: unknown transport \(trimmed); use polling and/or websocket")
                }
                kinds.insert(kind)
            }
            guard !kinds.isEmpty else { throw SettingError(description: "HERALD_TRANSPORTS must name at least one transport") }
            engine.transports = kinds
        }
        if let origins = settings["HERALD_CORS_ORIGINS"] {
            let list = origins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            engine.cors = CORSConfiguration(
                origins: list == ["*"] ? .any : .list(list),
                allowCredentials: settings["HERALD_CORS_CREDENTIALS"] == "1")
        }
        socketIO.engine = engine
        if let ms = try int("HERALD_CONNECT_TIMEOUT") { socketIO.connectTimeout = .milliseconds(ms) }
        if let ms = try int("HERALD_PRE_DRAIN_DELAY") { preDrainDelay = .milliseconds(ms) }
        if let ms = try int("HERALD_DRAIN_WINDOW") { drainWindow = .milliseconds(ms) }
        try applyRoomSettings(settings)
        if let ms = try int("HERALD_DRAIN_TIMEOUT") { drainTimeout = .milliseconds(ms) }
        if let level = settings["HERALD_LOG_LEVEL"] {
            guard let parsed = Logger.Level(rawValue: level) else {
                throw SettingError(description: "HERALD_LOG_LEVEL: unknown level \(level)")
            }
            logLevel = parsed
        }
        if let format = settings["HERALD_LOG_FORMAT"] {
            guard let parsed = LogFormat(rawValue: format) else {
                throw SettingError(description: "HERALD_LOG_FORMAT must be json or text, got \(format)")
            }
            logFormat = parsed
        }
        try publishing.apply(settings)
        try auth.apply(settings)
        try dashboard.apply(settings)
        try chat.apply(settings)
        try applyRedisSettings(settings)
        if let window = try int("HERALD_RECOVERY_WINDOW") {
            recovery = window == 0 ? nil : ConnectionStateRecovery(maxDisconnectionDuration: .milliseconds(window))
        }
    }
}

extension HeraldConfiguration {
    /// HERALD_REDIS_URL; HERALD_REDIS_CLUSTER (seed `host:port` list) or HERALD_REDIS_SENTINEL (sentinels) with
    /// HERALD_REDIS_SENTINEL_MASTER (default `mymaster`), taking user and password from HERALD_REDIS_URL when it
    /// is set too; HERALD_REDIS_TLS=1 (implied by `rediss://` and by any of) HERALD_REDIS_TLS_CA,
    /// HERALD_REDIS_TLS_CERT, HERALD_REDIS_TLS_KEY, HERALD_REDIS_TLS_SERVER_NAME.
    mutating func applyRedisSettings(_ settings: [String: String]) throws {
        if let url = settings["HERALD_REDIS_URL"], !url.isEmpty {
            do {
                redis = try RedisConfiguration(url: url)
            } catch {
                throw SettingError(description: "HERALD_REDIS_URL: \(error)")
            }
        }
        let cluster = settings["HERALD_REDIS_CLUSTER"].flatMap { $0.isEmpty ? nil : $0 }
        let sentinel = settings["HERALD_REDIS_SENTINEL"].flatMap { $0.isEmpty ? nil : $0 }
        if cluster != nil && sentinel != nil {
            throw SettingError(description: "HERALD_REDIS_CLUSTER and HERALD_REDIS_SENTINEL exclude each other")
        }
        if let cluster {
            guard let seeds = RedisEndpoint.list(cluster) else {
                throw SettingError(description: "HERALD_REDIS_CLUSTER must be host:port[,host:port…] (at most 64), got \(cluster)")
            }
            redisTopology = .cluster(seeds: seeds)
        }
        if let sentinel {
            guard let sentinels = RedisEndpoint.list(sentinel) else {
                throw SettingError(description: "HERALD_REDIS_SENTINEL must be host:port[,host:port…] (at most 64), got \(sentinel)")
            }
            let master = settings["HERALD_REDIS_SENTINEL_MASTER"] ?? "mymaster"
            guard !master.isEmpty, master.utf8.count <= 256 else {
                throw SettingError(description: "HERALD_REDIS_SENTINEL_MASTER must be 1 to 256 bytes")
            }
            redisTopology = .sentinel(sentinels: sentinels, masterName: master)
        }
        if redisTopology != .single && redis == nil { redis = RedisConfiguration() }
        let names = ["HERALD_REDIS_TLS_CA", "HERALD_REDIS_TLS_CERT", "HERALD_REDIS_TLS_KEY", "HERALD_REDIS_TLS_SERVER_NAME"]
        let files = names.map { settings[$0].flatMap { $0.isEmpty ? nil : $0 } }
        let enable: Bool
        switch settings["HERALD_REDIS_TLS"] {
        case nil, "": enable = false
        case "1", "true": enable = true
        case "0", "false": enable = false
        case let other?: throw SettingError(description: "HERALD_REDIS_TLS must be 1 or 0, got \(other)")
        }
        guard enable || files.contains(where: { $0 != nil }) else { return }
        guard var redis else {
            let name = zip(names, files).first { $0.1 != nil }?.0 ?? "HERALD_REDIS_TLS"
            throw SettingError(description: "\(name) needs HERALD_REDIS_URL, HERALD_REDIS_CLUSTER or HERALD_REDIS_SENTINEL")
        }
        var tls = redis.tls ?? RedisTLSConfiguration()
        tls.caFile = files[0] ?? tls.caFile
        tls.certificateFile = files[1] ?? tls.certificateFile
        tls.keyFile = files[2] ?? tls.keyFile
        tls.serverName = files[3] ?? tls.serverName
        guard (tls.certificateFile == nil) == (tls.keyFile == nil) else {
            throw SettingError(description: "HERALD_REDIS_TLS_CERT and HERALD_REDIS_TLS_KEY go together")
        }
        redis.tls = tls
        self.redis = redis
    }

    /// Bounds on rooms and packets: HERALD_MAX_ROOM_NAME_BYTES, HERALD_MAX_ROOMS_PER_SOCKET, HERALD_MAX_ATTACHMENTS,
    /// HERALD_ATTACHMENT_TIMEOUT (ms).
    mutating func applyRoomSettings(_ settings: [String: String]) throws {
        if let bytes = try Self.integer("HERALD_MAX_ROOM_NAME_BYTES", in: settings, minimum: 1) { socketIO.maxRoomNameBytes = bytes }
        if let count = try Self.integer("HERALD_MAX_ROOMS_PER_SOCKET", in: settings, minimum: 1) { socketIO.maxRoomsPerSocket = count }
        if let count = try Self.integer("HERALD_MAX_ATTACHMENTS", in: settings) { socketIO.maxAttachments = count }
        if let ms = try Self.integer("HERALD_ATTACHMENT_TIMEOUT", in: settings, minimum: 1) { socketIO.attachmentTimeout = .milliseconds(ms) }
    }
}
