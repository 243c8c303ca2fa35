import EngineIO
import Foundation
import HeraldRedis
import SocketIO
import HeraldStore

/// Every setting of `herald serve`, one entry each: to add one, add a line to the right group below (and the
/// field, with its default in its doc comment, to the configuration struct). The flag, the `HERALD_*` variable,
/// the configuration file key, `herald serve --help` and `herald config` all follow from the entry.
/// Entries apply in this order, so a setting that builds on another (CORS credentials on CORS origins) comes after it.
public enum HeraldSettings {
    public static let groups: [(title: String, settings: [HeraldSetting])] = [
        ("Node", node), ("Engine.IO and HTTP edge", edge), ("Rooms and packets", rooms), ("Shutdown", shutdown),
        ("Cluster and recovery", cluster), ("Logging", logging), ("Backend publishing", publishing),
        ("Authentication and limits", auth), ("Dashboard and metrics", dashboard), ("Chat", chat),
        ("Presence", presence), ("Webhooks", webhooks),
    ]

    public static let all: [HeraldSetting] = groups.flatMap(\.settings)

    static let node: [HeraldSetting] = [
        .text("host", "Listen address.", \.host, allowEmpty: false),
        .integer("port", "Listen port (0: any free port).", "port", 0...65_535, \.port),
        .integer("threads", "Event loop threads for connections (with Redis, one more runs the Redis connections).", "n", 1...1024, \.threads, defaultNote: "one per core"),
        .optionalText("tls-cert", "PEM certificate chain: the listener speaks TLS (wss://, https://). Reloaded on SIGHUP.",
                      \.tls.certificateFile, placeholder: "file"),
        .optionalText("tls-key", "PEM private key of --tls-cert.", \.tls.keyFile, placeholder: "file"),
    ]

    static let edge: [HeraldSetting] = [
        .text("path", "Socket.IO path.", \.socketIO.engine.path, allowEmpty: false),
        .milliseconds("ping-interval", "Ping interval.", \.socketIO.engine.pingInterval),
        .milliseconds("ping-timeout", "Ping timeout.", \.socketIO.engine.pingTimeout),
        .integer("max-payload", "Largest message or POST body.", "bytes", 1...HeraldSetting.maxBytes, \.socketIO.engine.maxPayload),
        .milliseconds("upgrade-timeout", "Websocket upgrade timeout.", \.socketIO.engine.upgradeTimeout),
        .milliseconds("connect-timeout", "Time to join a namespace.", \.socketIO.connectTimeout),
        .integer("max-buffered-bytes", "Bytes buffered for a slow client before it is dropped.", "bytes",
                 1...HeraldSetting.maxBytes, \.socketIO.engine.maxBufferedBytes),
        .milliseconds("request-head-timeout", "Time for a request head to arrive.",
                      \.socketIO.engine.connectionLimits.requestHeadTimeout),
        .milliseconds("keep-alive-timeout", "Idle keep-alive HTTP connection timeout.",
                      \.socketIO.engine.connectionLimits.keepAliveTimeout),
        .integer("max-request-head-size", "Largest HTTP request head, else 431.", "bytes", 1024...HeraldSetting.maxBytes,
                 \.socketIO.engine.connectionLimits.maxRequestHeadSize),
        .integer("max-unsent-response-bytes", "Unsent HTTP response bytes before a client that does not read is dropped.",
                 "bytes", 1024...HeraldSetting.maxBytes, \.socketIO.engine.connectionLimits.maxUnsentResponseBytes),
        .milliseconds("websocket-close-timeout", "Wait for the peer's websocket Close.", \.socketIO.engine.webSocketCloseTimeout),
        .limit("max-connections", "Open connections, beyond which new ones get 503.", "n", \.socketIO.engine.maxConnections),
        .limit("max-connections-per-address", "Open connections per client address.", "n",
               \.socketIO.engine.maxConnectionsPerAddress),
        .limit("max-handshakes-per-second", "New sessions per second, the excess gets 503.", "n",
               \.socketIO.engine.maxHandshakesPerSecond),
        HeraldSetting("transports", "Enabled transports, comma-separated: polling, websocket.", placeholder: "list",
                      default: { $0.socketIO.engine.transports.map(\.rawValue).sorted().joined(separator: ",") }) {
            configuration, text throws(HeraldSetting.Problem) in
            var kinds: Set<EngineIOTransportKind> = []
            for name in text.split(separator: ",") {
                let trimmed = name.trimmingCharacters(in: .whitespaces)
                guard let kind = EngineIOTransportKind(rawValue: trimmed) else {
                    throw HeraldSetting.Problem("unknown transport \(trimmed.debugDescription); use polling and/or websocket")
                }
                kinds.insert(kind)
            }
            guard !kinds.isEmpty else { throw HeraldSetting.Problem("must name at least one transport") }
            configuration.socketIO.engine.transports = kinds
        },
        HeraldSetting("cors-origins", "Allowed CORS origins, comma-separated, or *. Empty: CORS off.", placeholder: "list",
                      default: { corsOrigins($0.socketIO.engine.cors) }) { configuration, text throws(HeraldSetting.Problem) in
            let list = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            configuration.socketIO.engine.cors = list.isEmpty ? nil : CORSConfiguration(origins: list == ["*"] ? .any : .list(list))
        },
        HeraldSetting("cors-credentials", "Allow credentials in CORS answers (needs cors-origins).", placeholder: "0|1",
                      switch: true, default: { $0.socketIO.engine.cors?.allowCredentials == true ? "1" : "0" }) {
            configuration, text throws(HeraldSetting.Problem) in
            let allow = try HeraldSetting.boolean(text)
            guard configuration.socketIO.engine.cors != nil else {
                if allow { throw HeraldSetting.Problem("needs cors-origins (HERALD_CORS_ORIGINS)") }
                return
            }
            configuration.socketIO.engine.cors?.allowCredentials = allow
        },
    ]

    static let rooms: [HeraldSetting] = [
        .integer("max-room-name-bytes", "Longest room name in UTF-8 bytes.", "bytes", 1...65_536, \.socketIO.maxRoomNameBytes),
        .integer("max-rooms-per-socket", "Most rooms one socket may be in.", "n", 1...HeraldSetting.maxCount, \.socketIO.maxRoomsPerSocket),
        .integer("max-attachments", "Most binary attachments of one packet.", "n", 0...10_000, \.socketIO.maxAttachments),
        .milliseconds("attachment-timeout", "Time for a binary packet's attachments to arrive.", \.socketIO.attachmentTimeout),
        .milliseconds("broadcast-flush-slice", "Longest an event loop flushes broadcasts before it reads again (0: after every few connections).",
                      \.socketIO.broadcastFlushSlice, minimum: 0),
    ]

    static let shutdown: [HeraldSetting] = [
        .milliseconds("pre-drain-delay", "After SIGTERM, time during which /ready answers 503 but connections are still accepted.",
                      \.preDrainDelay, minimum: 0),
        .milliseconds("drain-window", "Window over which a drain closes the open connections in paced batches.",
                      \.drainWindow, minimum: 0),
        .milliseconds("drain-timeout", "Longest wait after the drain window for the last closes and recovery sessions.",
                      \.drainTimeout, minimum: 0),
    ]

    static let cluster: [HeraldSetting] = [
        HeraldSetting("redis-url", "Redis for many nodes, redis://[user:password@]host[:port][/db]. Empty: one node.",
                      placeholder: "url", url: true, default: { $0.redis.map { "redis://\($0.host):\($0.port)/\($0.database)" } ?? "" }) {
            configuration, text throws(HeraldSetting.Problem) in
            guard !text.isEmpty else { configuration.redis = nil; return }
            do {
                configuration.redis = try RedisConfiguration(url: text)
            } catch {
                // The parser's message quotes the URL: never with its password.
                throw HeraldSetting.Problem("\(error)".replacingOccurrences(of: text, with: MessageStoreLocation.redacted(text)))
            }
        },
        HeraldSetting("redis-cluster", "Redis Cluster seed nodes host:port,… (user, password and rediss:// from --redis-url). Empty: no cluster.",
                      placeholder: "host:port,…", default: { configuration in
                          if case .cluster(let seeds) = configuration.redisTopology { return seeds.map(\.description).joined(separator: ",") }
                          return ""
                      }) { configuration, text throws(HeraldSetting.Problem) in
            guard !text.isEmpty else { return }
            guard let seeds = RedisEndpoint.list(text) else { throw HeraldSetting.Problem("must be host:port[,host:port…] (at most 64)") }
            configuration.redisTopology = .cluster(seeds: seeds)
            if configuration.redis == nil { configuration.redis = RedisConfiguration() }
        },
        HeraldSetting("redis-sentinel", "Sentinels host:port,… watching the primary (see --redis-sentinel-master). Empty: no sentinel.",
                      placeholder: "host:port,…", default: { configuration in
                          if case .sentinel(let sentinels, _) = configuration.redisTopology { return sentinels.map(\.description).joined(separator: ",") }
                          return ""
                      }) { configuration, text throws(HeraldSetting.Problem) in
            guard !text.isEmpty else { return }
            guard let sentinels = RedisEndpoint.list(text) else { throw HeraldSetting.Problem("must be host:port[,host:port…] (at most 64)") }
            var master = "mymaster"
            if case .sentinel(_, let name) = configuration.redisTopology { master = name }
            configuration.redisTopology = .sentinel(sentinels: sentinels, masterName: master)
            if configuration.redis == nil { configuration.redis = RedisConfiguration() }
        },
        HeraldSetting("redis-sentinel-master", "Name of the primary the sentinels watch (mymaster when empty).", placeholder: "name", default: { configuration in
            if case .sentinel(_, let name) = configuration.redisTopology { return name }
            return ""
        }) { configuration, text throws(HeraldSetting.Problem) in
            // Empty without sentinels is the default: nothing to name.
            if text.isEmpty, case .single = configuration.redisTopology { return }
            guard !text.isEmpty, text.utf8.count <= 256 else { throw HeraldSetting.Problem("must be 1 to 256 bytes") }
            guard case .sentinel(let sentinels, _) = configuration.redisTopology else { throw HeraldSetting.Problem("needs --redis-sentinel") }
            configuration.redisTopology = .sentinel(sentinels: sentinels, masterName: text)
        },
        redisTLS("redis-tls", "TLS to Redis: 1 or 0 (rediss:// and the TLS files imply it).", placeholder: "0|1", read: { $0 == nil ? "" : "1" }) { tls, text throws(HeraldSetting.Problem) in
            switch text {
            case "1", "true": return tls ?? RedisTLSConfiguration()
            case "0", "false": return nil
            default: throw HeraldSetting.Problem("must be 1 or 0")
            }
        },
        redisTLSField("redis-tls-ca", "PEM file of the CAs to trust for Redis TLS. Default: the system's roots.", placeholder: "file", \.caFile),
        redisTLSField("redis-tls-cert", "PEM client certificate for Redis TLS (with --redis-tls-key).", placeholder: "file", \.certificateFile),
        redisTLSField("redis-tls-key", "PEM key of the Redis TLS client certificate.", placeholder: "file", \.keyFile),
        redisTLSField("redis-tls-server-name", "Name Redis's certificate must carry. Default: the host.", placeholder: "name", \.serverName),
        HeraldSetting("recovery-window", "Connection state recovery window; 0 for off.", placeholder: "ms",
                      default: { $0.recovery.map { HeraldSetting.milliseconds(of: $0.maxDisconnectionDuration) } ?? "0" }) {
            configuration, text throws(HeraldSetting.Problem) in
            let window = try HeraldSetting.integer(text, 0...HeraldSetting.maxMilliseconds)
            configuration.recovery = window == 0 ? nil : ConnectionStateRecovery(maxDisconnectionDuration: .milliseconds(window))
        },
    ]

    static let logging: [HeraldSetting] = [
        .choice("log-level", "Log level.", \.logLevel),
        .choice("log-format", "Log format.", \.logFormat),
    ]

    static let publishing: [HeraldSetting] = [
        .text("api-host", "Publish API listen address.", \.publishing.apiHost, allowEmpty: false),
        HeraldSetting("api-port", "Publish API port; the API is off without it.", placeholder: "port",
                      default: { $0.publishing.apiPort.map(String.init) ?? "" }) { configuration, text throws(HeraldSetting.Problem) in
            configuration.publishing.apiPort = text.isEmpty ? nil : try HeraldSetting.integer(text, 0...65_535)
        },
        .optionalText("api-key", "Publish API key, required with the API.", \.publishing.apiKey, secret: true),
        .optionalText("api-tls-cert", "PEM certificate chain: the API listener speaks TLS (https://). Reloaded on SIGHUP.",
                      \.publishing.apiTLS.certificateFile, placeholder: "file"),
        .optionalText("api-tls-key", "PEM private key of --api-tls-cert.", \.publishing.apiTLS.keyFile, placeholder: "file"),
        .optionalText("api-tls-client-ca", "PEM CAs whose client certificates the API listener requires (mutual TLS).",
                      \.publishing.apiTLS.clientCAFile, placeholder: "file"),
        .integer("api-max-body", "Largest publish request body.", "bytes", 1...HeraldSetting.maxBytes, \.publishing.maxBodySize),
        .milliseconds("idempotency-window", "How long an idempotency key suppresses repeats.", \.publishing.idempotencyWindow,
                      minimum: 0),
        .integer("idempotency-capacity", "Idempotency keys remembered.", "n", 1...HeraldSetting.maxCount,
                 \.publishing.idempotencyCapacity),
        .text("publish-channel", "Redis channel for publish envelopes.", \.publishing.channel, allowEmpty: false),
        .integer("api-max-batch", "Messages one POST /api/publish/batch may carry.", "n", 1...HeraldSetting.maxCount,
                 \.publishing.maxBatchMessages),
    ]

    static let auth: [HeraldSetting] = [
        .optionalText("jwt-secret", "HS256 secret; turns authentication on.", \.auth.hmacSecret, secret: true),
        HeraldSetting.keyFile("jwt-public-key-file", "PEM file with an RS256 or ES256 public key.", \.auth.publicKeyPEM),
        HeraldSetting.keyFile("jwks-file", "JWKS file; tokens select a key by kid.", \.auth.jwksJSON),
        .optionalText("jwt-issuer", "Required token issuer.", \.auth.issuer),
        .optionalText("jwt-audience", "Required token audience.", \.auth.audience),
        HeraldSetting("jwt-leeway", "Clock skew allowed on exp/nbf.", placeholder: "seconds",
                      default: { String($0.auth.leeway.components.seconds) }) { configuration, text throws(HeraldSetting.Problem) in
            configuration.auth.leeway = .seconds(try HeraldSetting.integer(text, 0...86_400))
        },
        .toggle("jwt-untyped-grants", "Accept subscription grants without token_use.", \.auth.acceptUntypedGrants),
        .integer("max-rooms", "Rooms a socket may subscribe to.", "n", 1...HeraldSetting.maxCount, \.auth.limits.maxRooms),
        HeraldSetting("events-per-second", "Events per second per socket.", placeholder: "n",
                      default: { String(Int($0.auth.limits.eventsPerSecond)) }) { configuration, text throws(HeraldSetting.Problem) in
            configuration.auth.limits.eventsPerSecond = Double(try HeraldSetting.integer(text, 1...1_000_000))
        },
        .integer("event-burst", "Event burst per socket.", "n", 1...1_000_000, \.auth.limits.burst),
        .integer("max-event-size", "Largest event.", "bytes", 1...HeraldSetting.maxBytes, \.auth.limits.maxEventBytes),
        .integer("max-violations", "Violations that disconnect.", "n", 1...1_000_000, \.auth.limits.maxViolations),
        .milliseconds("violation-window", "Violation window.", \.auth.limits.violationWindow),
    ]

    static let dashboard: [HeraldSetting] = [
        .toggle("dashboard", "Compute and push the dashboard figures.", \.dashboard.enabled),
        .milliseconds("dashboard-interval", "How often the figures are pushed.", \.dashboard.interval, minimum: 10),
        .text("dashboard-room", "Room that receives dashboard:stats.", \.dashboard.room, allowEmpty: false),
        HeraldSetting("node-id", "This node's name in the figures.", placeholder: "text", defaultNote: "random at start",
                      default: { $0.dashboard.nodeID ?? "" }) { configuration, text throws(HeraldSetting.Problem) in
            configuration.dashboard.nodeID = text.isEmpty ? nil : text
        },
        .choice("metrics-listener", "Where /metrics is served; auto: the API listener when it is on.",
                \.dashboard.metricsListener),
    ]

    static let chat: [HeraldSetting] = [
        HeraldSetting("database-url", "Chat history store: sqlite:///path.db, :memory: or postgres://…", placeholder: "url", url: true,
                      default: { $0.chat.database.description }) { configuration, text throws(HeraldSetting.Problem) in
            guard !text.isEmpty else { return }
            do {
                configuration.chat.database = try MessageStoreLocation(url: text)
            } catch {
                throw HeraldSetting.Problem("\(error)")
            }
        },
        .integer("chat-max-length", "Longest chat text in characters.", "n", 1...HeraldSetting.maxCount, \.chat.maxMessageLength),
        .integer("chat-max-bytes", "Longest chat text in UTF-8 bytes.", "bytes", 1...HeraldSetting.maxBytes, \.chat.maxMessageBytes),
        .integer("chat-history", "Messages sent as chat:history on join; 0 sends none.", "n",
                 0...ChatConfiguration.maxPageLimit, \.chat.historyOnJoin),
        .milliseconds("chat-store-timeout", "How long a send or history read waits for the store.", \.chat.storeTimeout),
        .integer("chat-history-max-bytes", "Largest chat history page.", "bytes", 1...HeraldSetting.maxBytes, \.chat.historyMaxBytes),
        .integer("chat-max-rooms", "Chat rooms one socket may join.", "n", 1...HeraldSetting.maxCount, \.chat.maxRooms),
    ]

    static let presence: [HeraldSetting] = [
        HeraldSetting("presence-rooms", "Room patterns keeping presence, comma-separated (besides auth rules with \"presence\": true).",
                      placeholder: "list", default: { $0.presence.rooms.joined(separator: ",") }) { configuration, text throws(HeraldSetting.Problem) in
            let patterns = HeraldSetting.list(text)
            for pattern in patterns {
                do {
                    _ = try RoomRule(pattern: pattern, allow: [.authenticated])
                } catch {
                    throw HeraldSetting.Problem("\(error)")
                }
            }
            configuration.presence.rooms = patterns
        },
        HeraldSetting("presence-claims", "Token claims reported with a member's sub, comma-separated.", placeholder: "list",
                      default: { $0.presence.claims.joined(separator: ",") }) { configuration, text throws(HeraldSetting.Problem) in
            configuration.presence.claims = HeraldSetting.list(text)
        },
        .integer("presence-max-claim-bytes", "Bytes of a member's reported claims.", "bytes", 0...65_536, \.presence.maxClaimBytes),
        .integer("presence-max-members", "Members listed by presence:get and the presence API.", "n", 0...100_000,
                 \.presence.maxMembers),
        .milliseconds("presence-node-timeout", "A node silent this long is taken for dead and its members leave.",
                      \.presence.nodeTimeout, minimum: 300),
    ]

    static let webhooks: [HeraldSetting] = [
        HeraldSetting("webhook-url", "Webhook receivers, http(s)://[user:password@]host[:port][/path], comma-separated. Empty: webhooks off.",
                      placeholder: "list", urlList: true, default: { $0.webhooks.urls.joined(separator: ",") }) { configuration, text throws(HeraldSetting.Problem) in
            let urls = HeraldSetting.list(text)
            for url in urls {
                do {
                    _ = try PublishClient.Target(url, credentials: true)
                } catch {
                    throw HeraldSetting.Problem("not http(s)://host[:port][/path]: \(error)")
                }
            }
            configuration.webhooks.urls = urls
        },
        HeraldSetting("webhook-tls-ca", "PEM file of the CAs to trust for https:// receivers. Default: the system's roots.",
                      placeholder: "file", default: { $0.webhooks.caFile ?? "" }) { configuration, text throws(HeraldSetting.Problem) in
            configuration.webhooks.caFile = text.isEmpty ? nil : text
        },
        .optionalText("webhook-secret", "HMAC-SHA256 key of X-Herald-Signature, required with a URL.", \.webhooks.secret, secret: true),
        HeraldSetting("webhook-events", "Client events forwarded as client.event, comma-separated.", placeholder: "list",
                      default: { $0.webhooks.clientEvents.sorted().joined(separator: ",") }) { configuration, text throws(HeraldSetting.Problem) in
            configuration.webhooks.clientEvents = Set(HeraldSetting.list(text))
        },
        .integer("webhook-max-queue", "Events waiting per receiver before new ones are dropped.", "n", 1...HeraldSetting.maxCount,
                 \.webhooks.maxQueue),
        .integer("webhook-max-batch", "Events per POST.", "n", 1...100_000, \.webhooks.maxBatch),
        .milliseconds("webhook-retry-min", "First retry delay, doubling per failure.", \.webhooks.minRetryDelay),
        .milliseconds("webhook-retry-max", "Longest retry delay.", \.webhooks.maxRetryDelay),
        .milliseconds("webhook-timeout", "Time for a receiver to answer one POST.", \.webhooks.timeout),
    ]

    static func corsOrigins(_ cors: CORSConfiguration?) -> String {
        switch cors?.origins {
        case nil: ""
        case .any: "*"
        case .list(let list): list.joined(separator: ",")
        }
    }
}

extension HeraldSetting {
    /// Largest key file read (PEM or JWKS): the path is configuration, the file is still outside input.
    static let maxKeyFileBytes = 1 << 20

    /// A path setting whose file's contents land in `path`; the file is read (bounded) when the setting applies.
    static func keyFile(_ name: String, _ help: String, _ path: Path<String?>) -> HeraldSetting {
        HeraldSetting(name, help, placeholder: "path", default: { $0[keyPath: path] == nil ? "" : "(loaded)" }) {
            configuration, text throws(Problem) in
            guard !text.isEmpty else { return }
            configuration[keyPath: path] = String(decoding: try readFile(text, limit: maxKeyFileBytes), as: UTF8.self)
        }
    }

    /// The file's bytes, refused past `limit`.
    static func readFile(_ path: String, limit: Int) throws(Problem) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Problem("cannot read \(path)") }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: limit + 1) ?? Data()
        } catch {
            throw Problem("cannot read \(path): \(error.localizedDescription)")
        }
        guard data.count <= limit else { throw Problem("\(path) is larger than \(limit) bytes") }
        return [UInt8](data)
    }
}

extension HeraldSetting {
    /// A comma-separated list, trimmed, empty items left out.
    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

extension HeraldSettings {
    /// A Redis TLS setting that sets one field (turning TLS on).
    static func redisTLSField(_ name: String, _ help: String, placeholder: String,
                              _ field: WritableKeyPath<RedisTLSConfiguration, String?> & Sendable) -> HeraldSetting {
        redisTLS(name, help, placeholder: placeholder, read: { $0?[keyPath: field] ?? "" }) { tls, text in
            var tls = tls ?? RedisTLSConfiguration()
            tls[keyPath: field] = text
            return tls
        }
    }

    /// A Redis TLS setting: applies to the Redis configuration set by --redis-url, --redis-cluster or
    /// --redis-sentinel (which must come first); empty leaves it as it is.
    static func redisTLS(_ name: String, _ help: String, placeholder: String,
                         read: @escaping @Sendable (RedisTLSConfiguration?) -> String,
                         _ change: @escaping @Sendable (RedisTLSConfiguration?, String) throws(HeraldSetting.Problem) -> RedisTLSConfiguration?) -> HeraldSetting {
        HeraldSetting(name, help, placeholder: placeholder, default: { read($0.redis?.tls) }) { configuration, text throws(HeraldSetting.Problem) in
            guard !text.isEmpty else { return }
            guard var redis = configuration.redis else { throw HeraldSetting.Problem("needs --redis-url, --redis-cluster or --redis-sentinel") }
            redis.tls = try change(redis.tls, text)
            configuration.redis = redis
        }
    }
}
