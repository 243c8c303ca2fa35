import NIOCore
import NIOEmbedded

/// One client connection to an `EmbeddedHTTPServer`: raw HTTP/1.1 requests in, parsed responses out.
///
/// Requests are written as bytes, so the server's real HTTP decoder, pipelining handler and encoder run.
/// A response the server holds (a long poll) reads as nil until later events release it: check again with
/// `response()` after driving the server.
public final class EmbeddedHTTPClient {
    /// The server side of the connection.
    public let channel: EmbeddedChannel
    let loop: EmbeddedEventLoop
    /// Outbound bytes not yet parsed into a response (or websocket frames, after an upgrade).
    var received = ByteBuffer()

    init(channel: EmbeddedChannel, loop: EmbeddedEventLoop) {
        self.channel = channel
        self.loop = loop
    }

    /// Sends one request and returns its response, or nil while the server holds it.
    /// `Host` and, with a body, `Content-Length` are added unless given.
    @discardableResult
    public func request(
        method: String, uri: String, headers: [(String, String)] = [], body: ByteBuffer? = nil
    ) throws -> HTTPTestResponse? {
        try send(Self.requestBytes(method: method, uri: uri, headers: headers, body: body))
        return try response()
    }

    /// `request` with a string body.
    @discardableResult
    public func request(_ method: String, _ uri: String, headers: [(String, String)] = [], body: String? = nil) throws -> HTTPTestResponse? {
        try request(method: method, uri: uri, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    /// Writes raw bytes to the server and runs the loop (partial requests are fine).
    public func send(_ bytes: ByteBuffer) throws {
        try channel.writeInbound(bytes)
        loop.run()
    }

    /// The next complete response, if the server has written one by now.
    public func response() throws -> HTTPTestResponse? {
        loop.run()
        try drainOutbound()
        return try HTTPTestResponse.parse(&received)
    }

    /// Whether the server still has the connection open.
    public var isActive: Bool { channel.isActive }

    /// Simulates the client not reading (the socket's send buffer filling up) or catching up again:
    /// sets the server channel's writability and tells its pipeline.
    public func setServerWritable(_ writable: Bool) {
        guard channel.isWritable != writable else { return }
        channel.isWritable = writable
        channel.pipeline.fireChannelWritabilityChanged()
        loop.run()
    }

    /// The client goes away: the server sees the connection close (as after an aborted request).
    public func disconnect() {
        if channel.isActive { channel.close(promise: nil) }
        loop.run()
    }

    func drainOutbound() throws {
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) {
            received.writeBuffer(&chunk)
        }
    }

    static func requestBytes(method: String, uri: String, headers: [(String, String)], body: ByteBuffer?) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("\(method) \(uri) HTTP/1.1\r\n")
        let names = Set(headers.map { $0.0.lowercased() })
        if !names.contains("host") { buffer.writeString("Host: localhost\r\n") }
        if let body, !names.contains("content-length") { buffer.writeString("Content-Length: \(body.readableBytes)\r\n") }
        for (name, value) in headers { buffer.writeString("\(name): \(value)\r\n") }
        buffer.writeString("\r\n")
        if var body { buffer.writeBuffer(&body) }
        return buffer
    }
}
