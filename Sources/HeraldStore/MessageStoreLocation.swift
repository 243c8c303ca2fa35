import HeraldPercentCoding

/// Which store to open, parsed from a URL:
/// - `sqlite://PATH`: an SQLite file; `sqlite:///var/lib/herald.db` is absolute, `sqlite://herald.sqlite`
///   relative to the working directory;
/// - `sqlite://:memory:` or `:memory:`: an SQLite database in memory, lost when the node stops;
/// - `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]` (or `postgresql://`).
public enum MessageStoreLocation: Sendable, Hashable, CustomStringConvertible {
    case sqliteMemory
    case sqliteFile(path: String)
    case postgres(PostgresLocation)

    public struct PostgresLocation: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        public var tls: TLSMode

        public enum TLSMode: String, Sendable, Hashable {
            case disable, prefer, require
        }

        public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String, tls: TLSMode = .disable) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.tls = tls
        }
    }

    public init(url: String) throws {
        if url == ":memory:" || url == "sqlite://:memory:" {
            self = .sqliteMemory
            return
        }
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw MessageStoreError("sqlite URL without a path: \(url)") }
            self = .sqliteFile(path: Self.percentDecoded(path))
            return
        }
        for scheme in ["postgres://", "postgresql://"] where url.hasPrefix(scheme) {
            self = .postgres(try Self.parsePostgres(String(url.dropFirst(scheme.count)), url: url))
            return
        }
        throw MessageStoreError("unsupported database URL \(Self.redacted(url)); use sqlite://PATH, :memory: or postgres://…")
    }

    private static func parsePostgres(_ rest: String, url: String) throws -> PostgresLocation {
        var rest = Substring(rest)
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var database: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            database = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var username = "postgres"
        var password: String?
        // The last @ separates credentials: a password may itself contain @ when not percent-encoded.
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                username = percentDecoded(String(credentials[..<colon]))
                password = percentDecoded(String(credentials[credentials.index(after: colon)...]))
            } else {
                username = percentDecoded(String(credentials))
            }
        }
        var host = String(rest)
        var port = 5432
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            // IPv6 literal: [::1]:5432
            let after = host[host.index(after: close)...]
            let literal = String(host[host.index(after: host.startIndex)..<close])
            if after.hasPrefix(":") {
                guard let number = Int(after.dropFirst()) else { throw MessageStoreError("bad port in \(redacted(url))") }
                port = number
            }
            host = literal
        } else if let colon = host.lastIndex(of: ":") {
            guard let number = Int(host[host.index(after: colon)...]) else { throw MessageStoreError("bad port in \(redacted(url))") }
            port = number
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw MessageStoreError("postgres URL without a host: \(redacted(url))") }
        guard (1...65535).contains(port) else { throw MessageStoreError("bad port in \(redacted(url))") }
        var tls = PostgresLocation.TLSMode.disable
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            if parts[0] == "sslmode" {
                guard let mode = PostgresLocation.TLSMode(rawValue: String(parts[1])) else {
                    throw MessageStoreError("sslmode must be disable, prefer or require, got \(parts[1])")
                }
                tls = mode
            }
        }
        let name = percentDecoded(String(database))
        return PostgresLocation(host: host, port: port, username: username, password: password,
                                database: name.isEmpty ? username : name, tls: tls)
    }

    static func percentDecoded(_ text: String) -> String { PercentCoding.decode(Substring(text)) }

    /// Any `scheme://user:password@host…` URL with its password replaced by `***`, for logs, errors and
    /// `herald config`; a URL without a password is returned unchanged.
    public static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://"), let at = url.lastIndex(of: "@"), at > schemeEnd.upperBound else { return url }
        let credentials = url[schemeEnd.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }

    /// Never shows a password.
    public var description: String {
        switch self {
        case .sqliteMemory: "sqlite://:memory:"
        case .sqliteFile(let path): "sqlite://\(path)"
        case .postgres(let p): "postgres://\(p.username)@\(p.host):\(p.port)/\(p.database)?sslmode=\(p.tls.rawValue)"
        }
    }
}
