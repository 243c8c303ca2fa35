import ArgumentParser

/// Where Redis is and how to reach it safely; each flag maps to the HERALD_* setting named in its help.
struct RedisOptions: ParsableArguments {
    @Option(help: "Redis Cluster seed nodes host:port,… (user and password from --redis-url) [HERALD_REDIS_CLUSTER, default: no cluster].") var redisCluster: String?
    @Option(help: "Sentinels host:port,… watching the primary [HERALD_REDIS_SENTINEL, default: no sentinel].") var redisSentinel: String?
    @Option(help: "Name of the primary the sentinels watch [HERALD_REDIS_SENTINEL_MASTER, default mymaster].") var redisSentinelMaster: String?
    @Flag(help: "TLS to Redis (implied by rediss:// and by the TLS files) [HERALD_REDIS_TLS=1].") var redisTls = false
    @Option(help: "PEM file of the CAs to trust for Redis TLS [HERALD_REDIS_TLS_CA, default: system roots].") var redisTlsCa: String?
    @Option(help: "PEM client certificate for Redis TLS [HERALD_REDIS_TLS_CERT, default none].") var redisTlsCert: String?
    @Option(help: "PEM key of the client certificate [HERALD_REDIS_TLS_KEY, default none].") var redisTlsKey: String?
    @Option(help: "Name Redis's certificate must carry [HERALD_REDIS_TLS_SERVER_NAME, default: the host].") var redisTlsServerName: String?

    var settings: [String: String?] {
        [
            "HERALD_REDIS_CLUSTER": redisCluster, "HERALD_REDIS_SENTINEL": redisSentinel,
            "HERALD_REDIS_SENTINEL_MASTER": redisSentinelMaster, "HERALD_REDIS_TLS": redisTls ? "1" : nil,
            "HERALD_REDIS_TLS_CA": redisTlsCa, "HERALD_REDIS_TLS_CERT": redisTlsCert,
            "HERALD_REDIS_TLS_KEY": redisTlsKey, "HERALD_REDIS_TLS_SERVER_NAME": redisTlsServerName,
        ]
    }
}
