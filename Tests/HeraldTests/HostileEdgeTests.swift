import EngineIO
import Foundation
import Herald
import HeraldTesting
import Logging
import NIOCore
import NIOPosix
import SocketIOProtocol
import Synchronization
import Testing
import HeraldWebSocket

/// Attacks on the listeners' edge (issue 9 items 4–5, issue 10 item 2) against a live node on real sockets, with
/// small configured limits. Each test checks the node stays up and a fresh client still connects.
@Suite(.serialized) struct HostileEdgeTests {
    static let handshake = "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    static let upgrade = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

    @Test func silentConnectionsAndHalfHeadsAreClosedAfterTheHeadTimeout() async throws {
        try await withEdgeNode({ $0.socketIO.engine.connectionLimits.requestHeadTimeout = .milliseconds(300) }) { node, port in
            let engine = node.io.engine
            var connections: [RawTCP] = []
            for index in 0..<300 {
                let connection = try await RawTCP.connect(port: port)
                if index % 2 == 1 { try await connection.write(Self.handshake) }   // no blank line: half a head
                connections.append(connection)
            }
            for (index, connection) in connections.enumerated() {
                try await connection.waitClosed(timeout: .seconds(10))
                // A half head gets 408; a silent connection is just closed.
                #expect(connection.received.hasPrefix(index % 2 == 1 ? "HTTP/1.1 408 " : ""), "\(connection.received)")
                if index % 2 == 0 { #expect(connection.received.isEmpty) }
            }
            #expect(engine.edgeStats.requestHeadTimeouts == 300)
            try await expectFreshClientConnects(port: port)
        }
    }

    @Test func theTimeoutsHoldOnThePublishAPIListenerToo() async throws {
        try await withEdgeNode({
            $0.socketIO.engine.connectionLimits.requestHeadTimeout = .milliseconds(300)
            $0.socketIO.engine.connectionLimits.keepAliveTimeout = .milliseconds(300)
            $0.publishing.apiHost = "127.0.0.1"
            $0.publishing.apiPort = 0
            $0.publishing.apiKey = "edge-test-key"
        }) { node, port in
            let apiPort = try #require(node.apiListeningAddress?.port)
            let silent = try await RawTCP.connect(port: apiPort)
            let half = try await RawTCP.connect(port: apiPort)
            try await half.write("POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            let idle = try await RawTCP.connect(port: apiPort)
            try await idle.write("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            try await silent.waitClosed(timeout: .seconds(10))
            try await half.waitClosed(timeout: .seconds(10))
            try await idle.waitClosed(timeout: .seconds(10))
            #expect(silent.received.isEmpty)
            #expect(half.received.hasPrefix("HTTP/1.1 408 "), "\(half.received)")
            #expect(idle.received.hasPrefix("HTTP/1.1 "), "\(idle.received)")
            let big = try await tcpExchange(
                "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(String(repeating: "a", count: 17_000))\r\n\r\n", port: apiPort)
            #expect(big.hasPrefix("HTTP/1.1 431 "), "\(big.prefix(200))")
            try await expectFreshClientConnects(port: port)
        }
    }

    @Test func idleKeepAliveConnectionIsClosed() async throws {
        try await withEdgeNode({ $0.socketIO.engine.connectionLimits.keepAliveTimeout = .milliseconds(300) }) { node, port in
            let connection = try await RawTCP.connect(port: port)
            try await connection.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            try await connection.waitClosed(timeout: .seconds(10))
            #expect(connection.received.hasPrefix("HTTP/1.1 200 "), "\(connection.received)")
            #expect(!connection.received.lowercased().contains("connection: close"))
            #expect(node.io.engine.edgeStats.keepAliveTimeouts == 1)
            try await expectFreshClientConnects(port: port)
        }
    }

    /// A client that sends requests and never reads the answers: its unsent responses are bounded (the connection
    /// closes past `maxUnsentResponseBytes`), while reads are never withheld (a held poll's connection must read).
    @Test func requestsWhoseAnswersAreNeverReadEndTheConnection() async throws {
        try await withEdgeNode({ $0.socketIO.engine.connectionLimits.maxUnsentResponseBytes = 64 * 1024 }) { node, port in
            let engine = node.io.engine
            let flooder = try await RawTCP.connect(port: port, autoRead: false)
            // Pipelined requests for /metrics (kilobytes each), far more than the socket buffers take.
            let request = ByteBuffer(string: String(repeating: "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", count: 100))
            for _ in 0..<100 { flooder.channel.write(request, promise: nil) }
            flooder.channel.flush()
            var waited = 0
            while engine.edgeStats.openConnections > 0 && waited < 2_000 {
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            #expect(engine.edgeStats.openConnections == 0, "the connection that reads nothing is still open")
            try? await flooder.channel.close()
            try await expectFreshClientConnects(port: port)
        }
    }

    @Test func unansweredCloseHandshakeIsEnded() async throws {
        try await withEdgeNode({ $0.socketIO.engine.webSocketCloseTimeout = .milliseconds(300) }) { _, port in
            let connection = try await RawTCP.connect(port: port)
            try await connection.write(Self.upgrade + "\r\n")
            try await connection.waitForReceived { $0.contains("0{\"sid\"") }
            // Not an Engine.IO packet: the server closes the session and sends Close; the client never answers.
            try await connection.write(bytes: Self.maskedFrame(opcode: 0x1, payload: Array("abc".utf8)))
            try await connection.waitClosed(timeout: .seconds(10))
            #expect(connection.receivedBytes.contains(0x88), "a Close frame was sent")
            try await expectFreshClientConnects(port: port)
        }
    }

    @Test func pingFloodFromAClientThatNeverReadsStaysBounded() async throws {
        // What the server may queue: the channel's high-water mark (NIO's default, 64 KiB) plus one read's worth of
        // pongs (a read is up to maxMessagesPerRead = 4 socket reads of 64 KiB, and a pong is smaller than its ping).
        let bound = 64 * 1024 + 4 * 64 * 1024
        try await withEdgeNode({
            $0.socketIO.engine.pingInterval = .milliseconds(400)
            $0.socketIO.engine.pingTimeout = .milliseconds(400)
            $0.socketIO.engine.webSocketCloseTimeout = .milliseconds(300)
        }) { node, port in
            let engine = node.io.engine
            let flooder = try await RawTCP.connect(port: port, autoRead: false)
            try await flooder.write(Self.upgrade + "\r\n")
            flooder.channel.read()
            try await flooder.waitForReceived { $0.contains("0{\"sid\"") }
            let sid = try #require(flooder.received.firstMatch(of: /"sid":"([^"]+)"/)?.output.1)
            let session = try #require(engine.session(id: String(sid)))
            // 16 MiB of pings (125-byte payloads), written without reading a byte back.
            var chunk = ByteBuffer()
            let payload = [UInt8](repeating: 0x61, count: 125)
            while chunk.readableBytes < 64 * 1024 { chunk.writeBytes(Self.maskedFrame(opcode: 0x9, payload: payload)) }
            for _ in 0..<256 { flooder.channel.write(chunk, promise: nil) }
            flooder.channel.flush()
            // Sample what the server queues for this client until it drops it (the client answers no heartbeat).
            var largest = 0
            while !session.isClosed || engine.edgeStats.openConnections > 0 {
                let queued = try await session.eventLoop.submit { session.outboundBufferedBytes }.get()
                largest = max(largest, queued)
                try await Task.sleep(for: .milliseconds(5))
                if largest > bound { break }
            }
            #expect(largest <= bound, "the server queued \(largest) bytes for a client that does not read")
            #expect(engine.edgeStats.openConnections == 0)
            try? await flooder.channel.close()
            try await expectFreshClientConnects(port: port)
        }
    }

    @Test func bigRequestHeadsAre431AndKeepNothing() async throws {
        try await withEdgeNode({ _ in }) { node, port in
            let engine = node.io.engine
            let header = "X-Big: " + String(repeating: "b", count: 17_000) + "\r\n"
            try await withThrowingTaskGroup(of: String.self) { group in
                for start in stride(from: 0, to: 1000, by: 50) {
                    for _ in start..<(start + 50) {
                        group.addTask { try await tcpExchange(Self.handshake + header + "\r\n", port: port) }
                    }
                    for _ in 0..<50 {
                        let answer = try await group.next() ?? ""
                        #expect(answer.hasPrefix("HTTP/1.1 431 "), "\(answer.prefix(200))")
                    }
                }
            }
            #expect(engine.sessionCount == 0)
            // The websocket fast path hands a big head to the same decoder.
            let upgrade = try await tcpExchange(Self.upgrade + header + "\r\n", port: port)
            #expect(upgrade.hasPrefix("HTTP/1.1 431 "), "\(upgrade.prefix(200))")
            // A head under the limit is served, and its session keeps at most that many header bytes.
            let fits = try await RawHTTP.exchange(
                Self.handshake + "X-Fits: " + String(repeating: "c", count: 12_000) + "\r\nConnection: close\r\n\r\n", port: port)
            #expect(fits.status == 200, "\(fits.raw.prefix(200))")
            try await expectFreshClientConnects(port: port)
        }
    }

    @Test func connectionsOverTheCapAreRefusedWith503() async throws {
        try await withEdgeNode({ $0.socketIO.engine.maxConnections = 4 }) { node, port in
            let engine = node.io.engine
            var held: [RawTCP] = []
            for _ in 0..<4 { held.append(try await RawTCP.connect(port: port)) }
            #expect(await eventually { engine.edgeStats.openConnections == 4 }, "4 connections counted")
            let refused = try await RawHTTP.exchange(Self.handshake + "\r\n", port: port)
            Self.expectRefusal(refused)
            #expect(engine.edgeStats.connectionsRefused == 1)
            for connection in held { try await connection.channel.close() }
            #expect(await eventually { engine.edgeStats.openConnections == 0 }, "held connections uncounted")
            // /metrics counts the refusal from the dashboard's next tick on.
            let counted = await eventually {
                let metrics = try? await RawHTTP.get("/metrics", port: port)
                return metrics?.body.contains(#"herald_edge_refusals_total{limit="connections"} 1"#) == true
            }
            #expect(counted)
            try await expectFreshClientConnects(port: port)
        }
    }

    /// The refusal is retryable for a client nobody here wrote: python-socketio retries with its backoff and gets in.
    @Test(.enabled(if: TestEnvironment.python != nil || TestEnvironment.isCI, "HERALD_TEST_PYTHON is unset"),
          arguments: ["polling", "websocket"])
    func pythonSocketIORetriesARefusalAndGetsIn(transport: String) async throws {
        let python = try #require(TestEnvironment.python, "HERALD_TEST_PYTHON is unset")
        try await withEdgeNode({ $0.socketIO.engine.maxConnections = 2 }) { node, port in
            let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/python/refused_retry.py").path
            let run = try await runProcess(python, [script, "http://127.0.0.1:\(port)", transport, "2"], timeout: .seconds(60))
            #expect(run.status == 0, "refused_retry.py exited \(run.status)\nstdout: \(run.stdout)\nstderr: \(run.stderr)")
            #expect(run.stdout.contains(#""ok": true"#), "stdout: \(run.stdout)")
            #expect(node.io.engine.edgeStats.connectionsRefused >= 1)
        }
    }

    @Test func connectionsOverThePerAddressCapAreRefused() async throws {
        try await withEdgeNode({ $0.socketIO.engine.maxConnectionsPerAddress = 2 }) { node, port in
            let engine = node.io.engine
            let held = [try await RawTCP.connect(port: port), try await RawTCP.connect(port: port)]
            #expect(await eventually { engine.edgeStats.openConnections == 2 }, "2 connections counted")
            Self.expectRefusal(try await RawHTTP.exchange(Self.handshake + "\r\n", port: port))
            // Another address is not affected.
            let other = try await RawTCP.connect(port: port, from: "127.0.0.2")
            try await other.write(Self.handshake + "Connection: close\r\n\r\n")
            try await other.waitClosed(timeout: .seconds(10))
            #expect(other.received.hasPrefix("HTTP/1.1 200 "), "\(other.received)")
            for connection in held { try await connection.channel.close() }
            #expect(await eventually { engine.edgeStats.openConnections == 0 }, "held connections uncounted")
            try await expectFreshClientConnects(port: port)
        }
    }

    @Test func aHandshakeStormIsRefusedRetryablyWhileConnectedClientsKeepTheirHeartbeat() async throws {
        try await withEdgeNode({
            $0.socketIO.engine.maxHandshakesPerSecond = 5
            $0.socketIO.engine.pingInterval = .milliseconds(200)
            $0.socketIO.engine.pingTimeout = .milliseconds(400)
        }) { node, port in
            let engine = node.io.engine
            let group = MultiThreadedEventLoopGroup.singleton
            let connected = try await RawSocketIOClient.open(port: port, group: group)
            try await connected.connect()
            // Let the bucket refill after the connected client's handshake.
            try await Task.sleep(for: .milliseconds(250))
            let answers = try await withThrowingTaskGroup(of: String.self) { tasks in
                for index in 0..<60 {
                    let request = (index % 2 == 0 ? Self.handshake : Self.upgrade) + "Connection: close\r\n\r\n"
                    tasks.addTask {
                        // An admitted websocket stays open: read the answer's head, then hang up.
                        let connection = try await RawTCP.connect(port: port)
                        try await connection.write(request)
                        try await connection.waitForReceived { $0.contains("\r\n\r\n") }
                        try? await connection.channel.close()
                        return connection.received
                    }
                }
                var answers: [String] = []
                for try await answer in tasks { answers.append(answer) }
                return answers
            }
            let refused = answers.filter { $0.hasPrefix("HTTP/1.1 503 ") }
            let admitted = answers.filter { $0.hasPrefix("HTTP/1.1 200 ") || $0.hasPrefix("HTTP/1.1 101 ") }
            #expect(refused.count + admitted.count == 60)
            #expect(admitted.count >= 1 && admitted.count <= 7, "admitted \(admitted.count)")
            for answer in refused {
                // The body may still have been on its way when the client hung up.
                let response = try RawHTTP.parse(answer)
                #expect(response.header("retry-after") == "1", "\(answer)")
            }
            #expect(engine.edgeStats.handshakesRefused == refused.count)
            // The connected client is still pinged, and answers.
            #expect(try await connected.next(skipPings: false) == .text("2"))
            #expect(try await connected.next(skipPings: false) == .text("2"))
            #expect(engine.session(id: connected.engineID)?.isClosed == false)
            await connected.disconnectTransport()
            // A client that retries after Retry-After gets in.
            try await Task.sleep(for: .seconds(1))
            try await expectFreshClientConnects(port: port)
        }
    }

    // MARK: Support

    static func expectRefusal(_ response: RawHTTP.Response, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == 503, "\(response.raw)", sourceLocation: sourceLocation)
        #expect(response.header("retry-after") == "1", "\(response.raw)", sourceLocation: sourceLocation)
        #expect(response.header("content-type") == "application/json", sourceLocation: sourceLocation)
        #expect((try? JSONValue(parsing: response.body))?["error"] != nil, "\(response.body)", sourceLocation: sourceLocation)
    }

    static func maskedFrame(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
        var buffer = ByteBuffer()
        payload.withUnsafeBytes { WebSocketFrameBuilder.writeMaskedFrame(opcode: opcode, payload: $0, maskKey: 0x1234_5678, into: &buffer) }
        return Array(buffer.readableBytesView)
    }

    func expectFreshClientConnects(port: Int) async throws {
        let client = try await RawSocketIOClient.open(port: port, group: MultiThreadedEventLoopGroup.singleton)
        try await client.connect()
        await client.disconnectTransport()
    }

    func withEdgeNode(_ configure: (inout HeraldConfiguration) -> Void, _ body: (HeraldNode, Int) async throws -> Void) async throws {
        var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, drainTimeout: .seconds(1))
        configure(&configuration)
        var logger = Logger(label: "hostile-edge")
        logger.logLevel = .error
        try await withRunningNode(HeraldNode(configuration: configuration, logger: logger), body)
    }
}

/// A raw TCP client: keeps every byte the server sends; its channel closes when the server closes.
final class RawTCP: Sendable {
    let channel: any Channel
    private let collector: ByteCollector

    private init(channel: any Channel, collector: ByteCollector) {
        self.channel = channel
        self.collector = collector
    }

    /// - Parameters:
    ///   - from: local address to connect from (any 127.x.y.z reaches the loopback listener).
    ///   - autoRead: false for a client that reads only when told (`channel.read()`).
    static func connect(port: Int, from local: String? = nil, autoRead: Bool = true) async throws -> RawTCP {
        let collector = ByteCollector()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: autoRead)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
        if let local { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: local, port: 0)) }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        return RawTCP(channel: channel, collector: collector)
    }

    func write(_ text: String) async throws { try await channel.writeAndFlush(ByteBuffer(string: text)) }
    func write(bytes: [UInt8]) async throws { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)) }

    var receivedBytes: [UInt8] { collector.bytes.withLock { $0 } }
    var received: String { String(decoding: receivedBytes, as: UTF8.self) }

    func waitClosed(timeout: Duration) async throws {
        let channel = self.channel
        try await withTimeout(timeout) { try await channel.closeFuture.get() }
    }

    func waitForReceived(timeout: Duration = .seconds(5), _ condition: @escaping @Sendable (String) -> Bool) async throws {
        let collector = self.collector
        try await withTimeout(timeout) {
            for await _ in collector.updates where condition(String(decoding: collector.bytes.withLock { $0 }, as: UTF8.self)) { return }
        }
    }

    final class ByteCollector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let bytes = Mutex<[UInt8]>([])
        let updates: AsyncStream<Void>
        private let continuation: AsyncStream<Void>.Continuation

        init() { (updates, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1)) }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            bytes.withLock { $0.append(contentsOf: buffer.readableBytesView) }
            continuation.yield()
        }

        func channelInactive(context: ChannelHandlerContext) {
            continuation.finish()
            context.fireChannelInactive()
        }
    }
}
