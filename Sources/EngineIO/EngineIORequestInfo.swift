import NIOCore
import NIOHTTP1

/// What the session knows about the request that opened it.
public struct EngineIORequestInfo: Sendable {
    /// The request's headers, rebuilt when asked for from one packed string (see `init`).
    public var headers: HTTPHeaders {
        get { headersOverride ?? Self.unpack(packedHeaders) }
        set { headersOverride = newValue }
    }
    public var uri: String
    /// The URI's query parameters, parsed from `uri` when asked for: a session keeps no dictionary for them.
    public var query: [String: String] {
        get { queryOverride ?? HTTPQuery.parse(uri) }
        set { queryOverride = newValue }
    }
    public var remoteAddress: SocketAddress?
    /// Transport of the opening request.
    public var transport: EngineIOTransportKind
    private var packedHeaders: String
    private var headersOverride: HTTPHeaders?
    private var queryOverride: [String: String]?

    /// Keeps the headers as one string (`name:value\n` each): a session holds its request for its whole life,
    /// and NIO's parsed form is an array with room for 16 headers (544 bytes) plus a string object per long name
    /// or value, several hundred bytes per connection for data read once, if at all, at the Socket.IO handshake.
    init(headers: HTTPHeaders, uri: String, remoteAddress: SocketAddress?, transport: EngineIOTransportKind) {
        self.uri = uri
        self.remoteAddress = remoteAddress
        self.transport = transport
        if let packed = Self.pack(headers) {
            self.packedHeaders = packed
        } else {
            self.packedHeaders = ""
            self.headersOverride = HTTPHeaders(headers.map { ($0.name, $0.value) })
        }
    }

    /// nil when a name holds `:` or `\n`, or a value holds `\n` (a parsed request has neither).
    static func pack(_ headers: HTTPHeaders) -> String? {
        var count = 0
        for (name, value) in headers {
            if name.utf8.contains(where: { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "\n") }) { return nil }
            if value.utf8.contains(UInt8(ascii: "\n")) { return nil }
            count += name.utf8.count + value.utf8.count + 2
        }
        var packed = ""
        packed.reserveCapacity(count)
        for (name, value) in headers {
            packed += name
            packed += ":"
            packed += value
            packed += "\n"
        }
        return packed
    }

    static func unpack(_ packed: String) -> HTTPHeaders {
        var pairs: [(String, String)] = []
        for line in packed.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            pairs.append((String(Substring(line[..<colon])), String(Substring(line[line.index(after: colon)...]))))
        }
        return HTTPHeaders(pairs)
    }
}
