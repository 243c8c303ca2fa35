import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A minimal HTTP/1.1 client for the publish API (`herald publish` and the other API commands) and webhooks: one
/// request per connection, over TLS for `https://` URLs.
public enum PublishClient {
    public struct Response: Sendable {
        public var status: Int
        public var body: String
    }

    public struct ClientError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// `url` is `http://host:port` or `https://host:port` (a path prefix, if any, is kept); `tls` is used for
    /// `https://` (default: the system's trust roots).
    public static func publish(
        url: String, key: String, body: String, idempotencyKey: String? = nil, tls: TLSConfiguration? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Response {
        var headers = [("Authorization", "Bearer \(key)")]
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        return try await send(.POST, url: url, path: "/api/publish", headers: headers, body: ByteBuffer(string: body), tls: tls, group: group)
    }

    /// One request on a fresh connection (`Connection: close`) to `url` + `path`, bounded in time and in the bytes of
    /// the answer kept (`maxResponseBytes`; beyond it the body is cut, not grown). An `https://` URL is reached over TLS
    /// with `tls` (default: the system's trust roots, the URL's host name checked against the certificate).
    public static func send(
        _ method: HTTPMethod, url: String, path: String, headers extra: [(String, String)] = [], body: ByteBuffer? = nil,
        timeout: Duration = .seconds(10), maxResponseBytes: Int = 1 << 20, tls: TLSConfiguration? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Response {
        let target = try Target(url)
        let secure = try target.secure ? (NIOSSLContext(configuration: tls ?? .makeClientConfiguration()), target.serverName) : nil
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: target.hostHeader)
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
        }
        headers.add(name: "Connection", value: "close")
        for (name, value) in extra { headers.add(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: target.path + path, headers: headers)
        // Clamped to a year: the timeout comes from configuration, and nanoseconds of a larger one overflow.
        let milliseconds = max(1, min(timeout.components.seconds, 31_536_000) * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)

        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(milliseconds))
            .connect(host: target.host, port: target.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let secure {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: secure.0, serverHostname: secure.1))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        // The whole exchange is bounded: a receiver that never answers cannot hold the caller.
        let deadline = channel.channel.eventLoop.scheduleTask(in: .milliseconds(milliseconds)) {
            channel.channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.head(head))
            if let body { try await outbound.write(.body(.byteBuffer(body))) }
            try await outbound.write(.end(nil))
            var status: Int?
            var received = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let head): status = Int(head.status.code)
                case .body(var chunk):
                    let room = maxResponseBytes - received.readableBytes
                    if room > 0, let slice = chunk.readSlice(length: min(room, chunk.readableBytes)) {
                        var slice = slice
                        received.writeBuffer(&slice)
                    }
                case .end: return Response(status: status ?? 0, body: String(buffer: received))
                }
            }
            throw ClientError(description: "the server closed the connection before answering")
        }
    }

    struct Target {
        var host: String
        var port: Int
        var path: String
        var hostHeader: String
        /// `https://`: TLS.
        var secure: Bool

        /// The name the server's certificate must carry, sent as SNI; nil for an IP address (SNI carries no
        /// addresses: NIOSSL checks the address against the certificate instead).
        var serverName: String? { (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil }

        init(_ url: String) throws {
            secure = url.hasPrefix("https://")
            guard secure || url.hasPrefix("http://") else {
                throw ClientError(description: "--url must start with http:// or https:// (got \(url))")
            }
            var rest = url.dropFirst(secure ? "https://".count : "http://".count)
            var path = ""
            if let slash = rest.firstIndex(of: "/") {
                path = String(rest[slash...])
                rest = rest[..<slash]
            }
            while path.hasSuffix("/") { path.removeLast() }
            hostHeader = String(rest)
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                host = String(rest[rest.index(after: rest.startIndex)..<close])
                let after = rest[rest.index(after: close)...]
                port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : secure ? 443 : 80
            } else if let colon = rest.lastIndex(of: ":") {
                host = String(rest[..<colon])
                port = Int(rest[rest.index(after: colon)...]) ?? -1
            } else {
                host = String(rest)
                port = secure ? 443 : 80
            }
            guard !host.isEmpty, (1...65_535).contains(port) else { throw ClientError(description: "cannot read host and port from \(url)") }
            self.path = path
        }
    }
}
