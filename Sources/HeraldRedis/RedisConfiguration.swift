import HeraldPercentCoding

/// Where and how to reach Redis. Every default is documented once, here, and asserted by a test.
public struct RedisConfiguration: Sendable, Hashable {
    /// Default `"127.0.0.1"`.
    public var host: String
    /// Default `6379`.
    public var port: Int
    /// ACL user for `AUTH user password`; `nil` (default) sends `AUTH password` (the `default` user).
    public var username: String?
    /// Password; `nil` (default) sends no `AUTH`.
    public var password: String?
    /// Database for `SELECT`, sent on connect when not 0. Default `0`. Pub/sub ignores it.
    public var database: Int
    /// TCP connect timeout. Default 5 s.
    public var connectTimeout: Duration
    /// Longest wait for a reply. Default 5 s. On expiry the connection is closed, because
    /// later pipelined replies could no longer be matched to their commands.
    public var commandTimeout: Duration
    /// First reconnect delay. Default 100 ms; doubles per failed attempt.
    public var reconnectInitialDelay: Duration
    /// Reconnect delay ceiling. Default 10 s.
    public var reconnectMaxDelay: Duration
    /// Fraction of each reconnect delay taken off at random, so nodes don't reconnect in lockstep.
    /// Default 0.2 (a delay `d` becomes uniform in `[0.8·d, d]`).
    public var reconnectJitter: Double
    /// Decoder limits against hostile or broken replies. Default `RESPDecoderLimits()`.
    public var decoderLimits: RESPDecoderLimits
    /// TLS for the connection; `nil` (default) is plain TCP. `rediss://` URLs set it.
    public var tls: RedisTLSConfiguration?

    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = .seconds(5)
        self.commandTimeout = .seconds(5)
        self.reconnectInitialDelay = .milliseconds(100)
        self.reconnectMaxDelay = .seconds(10)
        self.reconnectJitter = 0.2
        self.decoderLimits = RESPDecoderLimits()
        self.tls = nil
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`; `rediss://` is the same over TLS (with the
    /// system's trust roots until `tls` says otherwise). Userinfo is percent-decoded; IPv6 hosts go in brackets.
    public init(url: String) throws {
        self.init()
        let schemeEnd = url.firstRange(of: "://")
        guard let schemeEnd else { throw RedisConfigurationError.invalidURL(url, "missing scheme") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "redis" || scheme == "rediss" else {
            throw RedisConfigurationError.invalidURL(url, "scheme must be redis:// or rediss://")
        }
        if scheme == "rediss" { self.tls = RedisTLSConfiguration() }
        var rest = Substring(url[schemeEnd.upperBound...])
        if rest.contains("?") || rest.contains("#") {
            throw RedisConfigurationError.invalidURL(url, "query and fragment are not supported")
        }

        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = try Self.percentDecode(userinfo[..<colon], url: url)
                self.username = user.isEmpty ? nil : user
                self.password = try Self.percentDecode(userinfo[userinfo.index(after: colon)...], url: url)
            } else {
                // Like redis-cli: a lone userinfo is the password of the default user.
                self.password = try Self.percentDecode(userinfo, url: url)
            }
        }

        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw RedisConfigurationError.invalidURL(url, "unclosed [") }
            self.host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw RedisConfigurationError.invalidURL(url, "unexpected text after host")
            }
        } else if let colon = rest.firstIndex(of: ":") {
            self.host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            self.host = String(rest)
        }
        guard !host.isEmpty else { throw RedisConfigurationError.invalidURL(url, "missing host") }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw RedisConfigurationError.invalidURL(url, "invalid port")
            }
            self.port = port
        }
        if !path.isEmpty {
            guard let db = Int(path), db >= 0 else { throw RedisConfigurationError.invalidURL(url, "invalid database") }
            self.database = db
        }
    }

    private static func percentDecode(_ text: Substring, url: String) throws -> String {
        guard let decoded = PercentCoding.decodeStrictly(text) else {
            throw RedisConfigurationError.invalidURL(url, "bad percent escape")
        }
        return decoded
    }
}

/// TLS settings for connections to Redis. Files are read at each connect, so renewed certificates are
/// picked up by the next reconnect.
public struct RedisTLSConfiguration: Sendable, Hashable {
    /// PEM file of the certificate authorities to trust; `nil` (default) trusts the system's roots.
    public var caFile: String?
    /// PEM client certificate (chain) for servers that require one (`tls-auth-clients yes`); default `nil`.
    public var certificateFile: String?
    /// PEM private key of `certificateFile`; default `nil`. Both or neither.
    public var keyFile: String?
    /// Name the server's certificate must carry, also sent as SNI; `nil` (default) uses the host when it is a
    /// name. A certificate listing the peer's IP address is accepted too (NIOSSL's identity check).
    public var serverName: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
    }
}

/// A `redis://` URL that cannot be used.
public struct RedisConfigurationError: Error, Hashable, CustomStringConvertible {
    public let description: String
    private init(_ description: String) { self.description = description }

    public static let tlsIncomplete = Self("a Redis TLS client certificate needs its key file, and the key its certificate")
    public static func invalidURL(_ url: String, _ reason: String) -> Self {
        // The URL may carry a password: never echo it.
        _ = url
        return Self("invalid Redis URL: \(reason)")
    }
}
