import EngineIO
internal import ExtrasBase64
import Foundation
import HeraldPercentCoding
import HeraldRedis
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A minimal HTTP/1.1 client for the publish API (`herald publish`) and webhooks: one request per connection,
/// over TLS for `https://`.
public enum PublishClient {
    public struct Response: Sendable {
        public var status: Int
        public var body: String
    }

    public struct ClientError: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
    }

    /// `url` is `http://host:port` or `https://host:port` (a path prefix, if any, is kept); `tls` as for `send`.
    public static func publish(
        url: String, key: String, body: String, idempotencyKey: String? = nil, tls: NIOSSLContext? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Response {
        var headers = [("Authorization", "Bearer \(key)")]
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        return try await send(.POST, url: url, path: "/api/publish", headers: headers, body: ByteBuffer(string: body), tls: tls, group: group)
    }

    /// The TLS context for `https://` URLs: verifying the server against `caFile`, or the system's roots (the Redis
    /// TLS settings' code).
    public static func tlsContext(caFile: String? = nil) throws -> NIOSSLContext {
        try RedisTLSConfiguration(caFile: caFile).makeContext()
    }

    /// One request on a fresh connection (`Connection: close`) to `url` + `path`, bounded in time and in the bytes of
    /// the answer kept (`maxResponseBytes`; beyond it the body is cut, not grown). An `https://` URL is reached over
    /// TLS with `tls` (default: `tlsContext()`, made for this call). With `credentialsInURL` (webhook receivers),
    /// `user:password@` in the URL is sent as `Authorization: Basic`; otherwise such a URL is refused.
    public static func send(
        _ method: HTTPMethod, url: String, path: String, headers extra: [(String, String)] = [], body: ByteBuffer? = nil,
        timeout: Duration = .seconds(10), maxResponseBytes: Int = 1 << 20, tls: NIOSSLContext? = nil,
        credentialsInURL: Bool = false, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Response {
        let target = try Target(url, credentials: credentialsInURL)
        let context = try target.tls ? tls ?? tlsContext() : nil
        let serverName = RedisTLSConfiguration().verifiedName(host: target.host)
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: target.hostHeader)
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
        }
        headers.add(name: "Connection", value: "close")
        if let userinfo = target.userinfo {
            headers.add(name: "Authorization", value: "Basic " + Base64.encodeToString(bytes: PercentCoding.decode(userinfo[...]).utf8))
        }
        for (name, value) in extra { headers.add(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: target.path + path, headers: headers)
        // Clamped to a year: the timeout comes from configuration, and nanoseconds of a larger one overflow.
        let milliseconds = max(1, min(timeout.components.seconds, 31_536_000) * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)

        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(milliseconds))
            .connect(host: target.host, port: target.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
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
            // One write of the whole request: a receiver may answer and close as soon as it has the body, and a
            // later write of the (empty) end would then fail an exchange that succeeded (a duplicate on retry).
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if let body { parts.append(.body(.byteBuffer(body))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)
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

    /// `http://` or `https://`, user information only where `credentials` allows it, host, optional port and path.
    /// Errors never show the user information (it may be a password).
    struct Target {
        var host: String
        var port: Int
        var path: String
        var hostHeader: String
        var tls: Bool
        /// `user:password` (percent-encoded, as written), sent as `Authorization: Basic`.
        var userinfo: String?

        init(_ url: String, credentials: Bool = false) throws {
            if url.hasPrefix("https://") {
                tls = true
            } else if url.hasPrefix("http://") {
                tls = false
            } else {
                throw ClientError(description: "the URL must start with http:// or https://")
            }
            var rest = url.dropFirst(tls ? "https://".count : "http://".count)
            var path = ""
            if let slash = rest.firstIndex(of: "/") {
                path = String(rest[slash...])
                rest = rest[..<slash]
            }
            if let at = rest.lastIndex(of: "@") {
                guard credentials else {
                    throw ClientError(description: "the URL must not carry user information (user:password@); the API key goes in --key")
                }
                userinfo = String(rest[..<at])
                rest = rest[rest.index(after: at)...]
            }
            while path.hasSuffix("/") { path.removeLast() }
            hostHeader = String(rest)
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                host = String(rest[rest.index(after: rest.startIndex)..<close])
                let after = rest[rest.index(after: close)...]
                port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : tls ? 443 : 80
            } else if let colon = rest.lastIndex(of: ":") {
                host = String(rest[..<colon])
                port = Int(rest[rest.index(after: colon)...]) ?? -1
            } else {
                host = String(rest)
                port = tls ? 443 : 80
            }
            guard !host.isEmpty, (1...65_535).contains(port) else {
                throw ClientError(description: "cannot read host and port from \(HeraldSetting.withoutUserinfo(url))")
            }
            self.path = path
        }
    }
}
