import EngineIO
import Herald
import HeraldRedis
import SocketIO
import Testing

@Suite struct HeraldConfigurationTests {
    @Test func documentedDefaults() {
        let configuration = HeraldConfiguration()
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.port == 3000)
        #expect(configuration.preDrainDelay == .seconds(5))
        #expect(configuration.drainWindow == .seconds(5))
        #expect(configuration.drainTimeout == .seconds(10))
        #expect(configuration.logLevel == .info)
        #expect(configuration.logFormat == .json)
        #expect(configuration.redis == nil)
        #expect(configuration.recovery == nil)
        #expect(configuration.socketIO.engine.path == "/socket.io/")
        #expect(configuration.socketIO.engine.pingInterval == .seconds(25))
        #expect(configuration.socketIO.engine.pingTimeout == .seconds(20))
        #expect(configuration.socketIO.engine.maxPayload == 1_000_000)
        #expect(configuration.socketIO.connectTimeout == .seconds(45))
    }

    @Test func edgeLimitSettings() throws {
        var configuration = HeraldConfiguration()
        try configuration.apply([
            "HERALD_REQUEST_HEAD_TIMEOUT": "2000", "HERALD_KEEP_ALIVE_TIMEOUT": "3000",
            "HERALD_MAX_REQUEST_HEAD_SIZE": "8192", "HERALD_WEBSOCKET_CLOSE_TIMEOUT": "700",
            "HERALD_MAX_CONNECTIONS": "100", "HERALD_MAX_CONNECTIONS_PER_ADDRESS": "0",
            "HERALD_MAX_HANDSHAKES_PER_SECOND": "500", "HERALD_MAX_UNSENT_RESPONSE_BYTES": "65536",
        ])
        let engine = configuration.socketIO.engine
        #expect(engine.connectionLimits == HTTPConnectionLimits(
            requestHeadTimeout: .seconds(2), keepAliveTimeout: .seconds(3), maxRequestHeadSize: 8192,
            maxUnsentResponseBytes: 65536))
        #expect(engine.webSocketCloseTimeout == .milliseconds(700))
        #expect(engine.maxConnections == 100)
        #expect(engine.maxConnectionsPerAddress == nil)
        #expect(engine.maxHandshakesPerSecond == 500)
        for bad in [["HERALD_REQUEST_HEAD_TIMEOUT": "0"], ["HERALD_MAX_REQUEST_HEAD_SIZE": "10"],
                    ["HERALD_MAX_CONNECTIONS": "99999999999999999999"]] {
            var refused = HeraldConfiguration()
            #expect(throws: HeraldConfiguration.SettingError.self) { try refused.apply(bad) }
        }
    }

    @Test func settingsOverrideDefaults() throws {
        var configuration = HeraldConfiguration()
        try configuration.apply([
            "HERALD_PORT": "4000", "HERALD_PING_INTERVAL": "1000", "HERALD_PING_TIMEOUT": "500",
            "HERALD_TRANSPORTS": "websocket", "HERALD_CORS_ORIGINS": "https://a.example, https://b.example",
            "HERALD_REDIS_URL": "redis://:secret@10.0.0.5:6380/2", "HERALD_RECOVERY_WINDOW": "60000",
            "HERALD_LOG_FORMAT": "text", "HERALD_PRE_DRAIN_DELAY": "0", "HERALD_DRAIN_WINDOW": "250",
        ])
        #expect(configuration.port == 4000)
        #expect(configuration.socketIO.engine.pingInterval == .milliseconds(1000))
        #expect(configuration.socketIO.engine.pingTimeout == .milliseconds(500))
        #expect(configuration.socketIO.engine.transports == [.websocket])
        #expect(configuration.socketIO.engine.cors?.origins == .list(["https://a.example", "https://b.example"]))
        #expect(configuration.redis?.host == "10.0.0.5")
        #expect(configuration.redis?.port == 6380)
        #expect(configuration.redis?.database == 2)
        #expect(configuration.redis?.password == "secret")
        #expect(configuration.recovery?.maxDisconnectionDuration == .milliseconds(60000))
        #expect(configuration.logFormat == .text)
        #expect(configuration.preDrainDelay == .zero)
        #expect(configuration.drainWindow == .milliseconds(250))
    }

    @Test func redisTopologyAndTLSSettings() throws {
        var cluster = HeraldConfiguration()
        try cluster.apply(["HERALD_REDIS_CLUSTER": "10.0.0.1:7000,10.0.0.2:7001", "HERALD_REDIS_URL": "rediss://:pw@ignored",
                           "HERALD_REDIS_TLS_CA": "/etc/ca.pem", "HERALD_REDIS_TLS_SERVER_NAME": "redis.internal"])
        #expect(cluster.redisTopology == .cluster(seeds: [RedisEndpoint(host: "10.0.0.1", port: 7000), RedisEndpoint(host: "10.0.0.2", port: 7001)]))
        #expect(cluster.redis?.password == "pw")
        #expect(cluster.redis?.tls == RedisTLSConfiguration(caFile: "/etc/ca.pem", serverName: "redis.internal"))
        var sentinel = HeraldConfiguration()
        try sentinel.apply(["HERALD_REDIS_SENTINEL": "s1:26379", "HERALD_REDIS_TLS": "1"])
        #expect(sentinel.redisTopology == .sentinel(sentinels: [RedisEndpoint(host: "s1", port: 26379)], masterName: "mymaster"))
        #expect(sentinel.redis?.tls == RedisTLSConfiguration())
        var plain = HeraldConfiguration()
        try plain.apply(["HERALD_REDIS_URL": "redis://h", "HERALD_REDIS_TLS_CERT": "/c.pem", "HERALD_REDIS_TLS_KEY": "/k.pem"])
        #expect(plain.redisTopology == .single)
        #expect(plain.redis?.tls == RedisTLSConfiguration(certificateFile: "/c.pem", keyFile: "/k.pem"))
        #expect(HeraldConfiguration().redisTopology == .single)
    }

    @Test(arguments: [
        ["HERALD_PORT": "x"], ["HERALD_TRANSPORTS": "carrier-pigeon"], ["HERALD_LOG_LEVEL": "loud"],
        ["HERALD_REDIS_URL": "http://nope"], ["HERALD_PING_INTERVAL": "-1"],
        ["HERALD_REDIS_CLUSTER": "a:1,b"], ["HERALD_REDIS_SENTINEL": "a:70000"], ["HERALD_REDIS_TLS": "maybe"],
        ["HERALD_REDIS_TLS_CA": "/ca.pem"], ["HERALD_REDIS_TLS_KEY": "/k.pem"],
        ["HERALD_PRE_DRAIN_DELAY": "-5"], ["HERALD_DRAIN_WINDOW": "soon"],
    ])
    func badSettingsAreRefusedWithTheirName(settings: [String: String]) {
        var configuration = HeraldConfiguration()
        do {
            try configuration.apply(settings)
            Issue.record("accepted \(settings)")
        } catch {
            #expect("\(error)".contains(settings.keys.first!))
        }
    }
}
