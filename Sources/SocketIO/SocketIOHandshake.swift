import EngineIO
import NIOCore
import NIOHTTP1
import SocketIOProtocol

/// What a socket was opened with: the CONNECT auth payload and the HTTP request.
public struct SocketIOHandshake: Sendable {
    /// The CONNECT packet's payload; an empty object when the client sent none.
    public var auth: JSONValue
    /// The request's headers; a socket made by the server rebuilds them from its session's request when asked for.
    public var headers: HTTPHeaders {
        get { headersOverride ?? request?.headers ?? HTTPHeaders() }
        set { headersOverride = newValue }
    }
    /// The URL's query parameters, parsed from `url` when asked for (an idle socket keeps no dictionary).
    public var query: [String: String] {
        get { queryOverride ?? HTTPQuery.parse(url) }
        set { queryOverride = newValue }
    }
    public var url: String
    public var remoteAddress: SocketAddress?
    private var request: EngineIORequestInfo?
    private var headersOverride: HTTPHeaders?
    private var queryOverride: [String: String]?

    public init(auth: JSONValue, headers: HTTPHeaders, url: String, remoteAddress: SocketAddress?) {
        self.auth = auth
        self.headersOverride = headers
        self.url = url
        self.remoteAddress = remoteAddress
    }

    public init(auth: JSONValue, headers: HTTPHeaders, query: [String: String], url: String, remoteAddress: SocketAddress?) {
        self.init(auth: auth, headers: headers, url: url, remoteAddress: remoteAddress)
        if query != HTTPQuery.parse(url) { queryOverride = query }
    }

    /// Shares the session's request (headers packed, query parsed on demand) instead of copying it.
    init(auth: JSONValue, request: EngineIORequestInfo) {
        self.auth = auth
        self.request = request
        self.url = request.uri
        self.remoteAddress = request.remoteAddress
    }

    /// The client's IP address, as text.
    public var address: String { remoteAddress?.ipAddress ?? "" }
}
