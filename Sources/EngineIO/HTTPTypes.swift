import NIOCore
import NIOHTTP1
import HeraldPercentCoding

/// A complete HTTP request as the server's routes see it.
public struct HTTPRequestContext: Sendable {
    public var head: HTTPRequestHead
    /// The body; nil when there was none or it exceeded the route's limit (then `bodyTooLarge` is true).
    public var body: ByteBuffer?
    public var bodyTooLarge: Bool
    public var remoteAddress: SocketAddress?

    public var method: HTTPMethod { head.method }
    public var uri: String { head.uri }
    /// The URI path, without the query string.
    public var path: String {
        if let index = head.uri.firstIndex(of: "?") { return String(head.uri[..<index]) }
        return head.uri
    }
    /// Query parameters, percent-decoded; the last value wins for repeated names.
    public var query: [String: String] { HTTPQuery.parse(head.uri) }

    public init(head: HTTPRequestHead, body: ByteBuffer?, bodyTooLarge: Bool = false, remoteAddress: SocketAddress?) {
        self.head = head
        self.body = body
        self.bodyTooLarge = bodyTooLarge
        self.remoteAddress = remoteAddress
    }
}

/// A complete HTTP response.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response; `json` must already be serialized.
    public static func json(_ status: HTTPResponseStatus, _ json: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: ByteBuffer(string: json))
    }

    public static func text(_ status: HTTPResponseStatus, _ text: String, contentType: String = "text/plain; charset=UTF-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: ByteBuffer(string: text))
    }
}

/// Routes that are not Engine.IO's (health checks, APIs, pages). Return nil for 404.
public typealias HTTPRouteHandler = @Sendable (HTTPRequestContext) async -> HTTPResponse?

public enum HTTPQuery {
    public static func parse(_ uri: String) -> [String: String] {
        guard let start = uri.firstIndex(of: "?") else { return [:] }
        var result: [String: String] = [:]
        for pair in uri[uri.index(after: start)...].split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            result[name] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return result
    }

    static func decode(_ part: Substring) -> String { PercentCoding.decode(part, plusAsSpace: true) }
}

/// Collects one request's body up to a limit, judging by Content-Length first so nothing of a huge body is kept.
public struct HTTPBodyCollector: Sendable {
    public private(set) var body: ByteBuffer?
    public private(set) var tooLarge = false
    private var limit = 0

    public init() {}

    public mutating func begin(_ head: HTTPRequestHead, limit: Int) {
        self.limit = limit
        body = nil
        tooLarge = head.headers.first(name: "content-length").flatMap(Int.init).map { $0 > limit } ?? false
    }

    public mutating func append(_ chunk: ByteBuffer) {
        guard !tooLarge else { return }
        var chunk = chunk
        if (body?.readableBytes ?? 0) + chunk.readableBytes > limit {
            tooLarge = true
            body = nil
        } else if body == nil {
            body = chunk
        } else {
            body!.writeBuffer(&chunk)
        }
    }

    /// The collected body, leaving the collector empty.
    public mutating func take() -> (body: ByteBuffer?, tooLarge: Bool) {
        defer { body = nil }
        return (body, tooLarge)
    }
}
