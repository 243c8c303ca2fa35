/// A `host:port` of a Redis server (a cluster node, a sentinel).
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[ipv6]:port`; nil for anything else (a port outside 1...65535 included).
    public init?(_ text: Substring) {
        let text = text.trimmingPrefix(while: { $0 == " " })
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...].trimmingSuffix(while: { $0 == " " })),
              (1...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }

    /// Parses a comma-separated list of at most `maxCount` endpoints; nil when any is invalid or there are none.
    public static func list(_ text: String, maxCount: Int = 64) -> [RedisEndpoint]? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: true)
        guard !parts.isEmpty, parts.count <= maxCount else { return nil }
        var endpoints: [RedisEndpoint] = []
        for part in parts {
            guard let endpoint = RedisEndpoint(part) else { return nil }
            endpoints.append(endpoint)
        }
        return endpoints
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How the Redis servers are deployed. The connection settings (auth, TLS, timeouts) come from a
/// `RedisConfiguration` whose host and port each topology replaces with the servers it finds.
public enum RedisTopology: Sendable, Hashable {
    /// One server (or a proxy): `RedisConfiguration.host`/`port`.
    case single
    /// Redis Cluster reached through these seed nodes; the slot map comes from them.
    case cluster(seeds: [RedisEndpoint])
    /// A primary with replicas watched by these sentinels, under `masterName`.
    case sentinel(sentinels: [RedisEndpoint], masterName: String)
}

extension StringProtocol {
    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> SubSequence {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return self[startIndex..<end]
    }
}
