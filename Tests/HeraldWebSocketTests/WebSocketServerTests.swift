import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Testing
@testable import HeraldWebSocket

@Suite struct WebSocketServerTests {
    static let handshake = """
        GET /chat HTTP/1.1\r
        Host: localhost\r
        Upgrade: websocket\r
        Connection: Upgrade\r
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
        Sec-WebSocket-Version: 13\r
        \r

        """

    /// Splits raw output into the HTTP head (lowercased) and the bytes after it.
    static func split(_ bytes: [UInt8]) -> (head: String, rest: [UInt8])? {
        let marker: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<($0 + 4)]) == marker }) else {
            return nil
        }
        return (String(decoding: bytes[..<end], as: UTF8.self).lowercased(), Array(bytes[(end + 4)...]))
    }

    @Test func upgradeLeavesOnlyTheConnection() throws {
        let channel = EmbeddedChannel()
        try WebSocketServer.configure(channel: channel, configuration: WebSocketConfiguration(), onConnection: { connection, head in
            #expect(head.uri == "/chat")
            connection.delegate = RecordingDelegate(echo: true)
        })
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        // The request and the first frame arrive in one read: the frame must reach the connection.
        var request = ByteBuffer(string: Self.handshake)
        request.writeImmutableBuffer(clientFrame(0x1, Array("Hello".utf8)))
        try channel.writeInbound(request)
        channel.embeddedEventLoop.run()

        var output: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { output += buffer.readableBytesView }
        let (head, rest) = try #require(Self.split(output))
        #expect(head.hasPrefix("http/1.1 101 switching protocols"))
        #expect(head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="))
        #expect(rest == [0x81, 0x05] + Array("Hello".utf8))

        let ops = channel.pipeline.syncOperations
        #expect(throws: (any Error).self) { try ops.handler(type: HTTPFallbackHandler.self) }
        #expect(throws: (any Error).self) { try ops.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) }
        #expect(throws: (any Error).self) { try ops.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self) }
        _ = try ops.handler(type: WebSocketConnection.self)
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    @Test(arguments: [("GET", "426 upgrade required"), ("POST", "404 not found")])
    func plainRequestsAreRefused(method: String, status: String) throws {
        let channel = EmbeddedChannel()
        try WebSocketServer.configure(channel: channel, configuration: WebSocketConfiguration(), onConnection: { _, _ in })
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: "\(method) / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))
        channel.embeddedEventLoop.run()
        var output: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { output += buffer.readableBytesView }
        let (head, _) = try #require(Self.split(output))
        #expect(head.hasPrefix("http/1.1 \(status)"))
        #expect(!channel.isActive)
    }

    /// Real sockets: a hand-written client sends the handshake, a masked text frame and a Close
    /// in one write; the server must echo the text, echo the Close and close TCP.
    @Test func liveEchoOverTCP() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await WebSocketServer.bind(
            host: "127.0.0.1", port: 0, configuration: WebSocketConfiguration(), group: group,
            onConnection: { connection, _ in connection.delegate = RecordingDelegate(echo: true) }
        ).get()
        let port = try #require(server.localAddress?.port)

        let received = group.next().makePromise(of: [UInt8].self)
        let client = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CollectingHandler(done: received))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        // Safety net instead of a sleep: a server that never closes fails the test after 10 s.
        let guardTask = client.eventLoop.scheduleTask(in: .seconds(10)) { client.close(promise: nil) }

        var bytes = ByteBuffer(string: Self.handshake)
        bytes.writeImmutableBuffer(clientFrame(0x1, Array("Hello, ünicode".utf8)))
        bytes.writeImmutableBuffer(clientFrame(0x8, closePayload(1000)))
        try await client.writeAndFlush(bytes).get()

        let output = try await received.futureResult.get()
        guardTask.cancel()
        let (head, rest) = try #require(Self.split(output))
        #expect(head.hasPrefix("http/1.1 101"))
        #expect(head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="))
        let text = Array("Hello, ünicode".utf8)
        #expect(rest == [0x81, UInt8(text.count)] + text + [0x88, 0x02, 0x03, 0xE8])

        try await server.close().get()
        try await group.shutdownGracefully()
    }

    /// Accepted sockets have TCP_NODELAY (inherited from the listening socket, no setsockopt per connection) and
    /// not SO_DEBUG (what `.socketOption(.tcp_nodelay)` used to set).
    @Test func acceptedSocketsHaveNoDelayAndNoDebug() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let options = group.next().makePromise(of: (noDelay: Int, debug: Int).self)
        let server = try await WebSocketServer.bind(
            host: "127.0.0.1", port: 0, configuration: WebSocketConfiguration(), group: group,
            onConnection: { connection, _ in
                guard let channel = connection.channel, let sync = channel.syncOptions else { return }
                do {
                    let noDelay = try sync.getOption(.tcpOption(.tcp_nodelay))
                    let debug = try sync.getOption(.socketOption(.init(rawValue: SO_DEBUG)))
                    options.succeed((noDelay, debug))
                } catch {
                    options.fail(error)
                }
            }
        ).get()
        let port = try #require(server.localAddress?.port)
        let client = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
        try await client.writeAndFlush(ByteBuffer(string: Self.handshake)).get()
        let (noDelay, debug) = try await options.futureResult.get()
        #expect(noDelay != 0)
        #expect(debug == 0)
        try await client.close().get()
        try await server.close().get()
        try await group.shutdownGracefully()
    }

    /// `send` and `close` called from another thread hop to the connection's loop; the server's
    /// Close waits for the client's answer and then closes TCP.
    @Test func liveServerInitiatedCloseFromAnotherThread() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let server = try await WebSocketServer.bind(
            // A long close timeout: the TCP close must come from the client's Close, not the timer.
            host: "127.0.0.1", port: 0, configuration: WebSocketConfiguration(closeTimeout: .seconds(60)), group: loops[0],
            onConnection: { connection, _ in connection.delegate = OffLoopEchoDelegate(otherLoop: loops[1]) }
        ).get()
        let port = try #require(server.localAddress?.port)

        let serverClose: [UInt8] = [0x88, 0x05, 0x03, 0xE9] + Array("bye".utf8)
        let received = loops[1].makePromise(of: [UInt8].self)
        let client = try await ClientBootstrap(group: loops[1])
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CollectingHandler(done: received, onBytes: { bytes in
                        // Answer the server's Close once it has fully arrived.
                        bytes.suffix(serverClose.count).elementsEqual(serverClose) ? clientFrame(0x8, closePayload(1001)) : nil
                    }))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let guardTask = client.eventLoop.scheduleTask(in: .seconds(10)) { client.close(promise: nil) }
        let started = ContinuousClock.now

        var bytes = ByteBuffer(string: Self.handshake)
        bytes.writeImmutableBuffer(clientFrame(0x2, [1, 2, 3]))
        try await client.writeAndFlush(bytes).get()

        let output = try await received.futureResult.get()
        guardTask.cancel()
        let (head, rest) = try #require(Self.split(output))
        #expect(head.hasPrefix("http/1.1 101"))
        #expect(rest == [0x82, 0x03, 1, 2, 3] + serverClose)
        #expect(ContinuousClock.now - started < .seconds(9), "closed by the safety net, not by the server")

        try await server.close().get()
        try await group.shutdownGracefully()
    }
}

/// Echoes from another event loop than the connection's, then closes from there too.
final class OffLoopEchoDelegate: WebSocketConnectionDelegate {
    let otherLoop: any EventLoop
    init(otherLoop: any EventLoop) { self.otherLoop = otherLoop }

    func webSocket(_ connection: WebSocketConnection, didReceive message: WebSocketMessage) {
        otherLoop.execute {
            connection.send(message)
            connection.close(code: .goingAway, reason: "bye")
        }
    }

    func webSocket(_ connection: WebSocketConnection, didCloseWith code: WebSocketCloseCode, reason: String) {}
}

/// Collects everything the server sends until it closes the connection; `onBytes` may answer.
final class CollectingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var bytes: [UInt8] = []
    private let done: EventLoopPromise<[UInt8]>
    private let onBytes: ([UInt8]) -> ByteBuffer?

    init(done: EventLoopPromise<[UInt8]>, onBytes: @escaping ([UInt8]) -> ByteBuffer? = { _ in nil }) {
        self.done = done
        self.onBytes = onBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytes += unwrapInboundIn(data).readableBytesView
        if let reply = onBytes(bytes) {
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.succeed(bytes)
        context.fireChannelInactive()
    }
}

@Suite struct WebSocketServerRefusalTests {
    @Test(arguments: [
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",   // no key
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n",
    ])
    func badHandshakeFallsBackTo426(headers: String) throws {
        let channel = EmbeddedChannel()
        try WebSocketServer.configure(channel: channel, configuration: WebSocketConfiguration(), onConnection: { _, _ in
            Issue.record("must not upgrade")
        })
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        _ = try? channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\(headers)\r\n"))
        channel.embeddedEventLoop.run()
        var output: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { output += buffer.readableBytesView }
        #expect(String(decoding: output, as: UTF8.self).hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"))
        #expect(!channel.isActive)
    }
}
