import NIOCore
import NIOPosix
import SocketIOClient
import SocketIOProtocol
import Synchronization
import Testing
import HeraldWebSocket

/// A scripted Engine.IO-over-websocket server: every text frame a client sends lands in `received`, tagged with
/// its connection number; the test answers through `send(_:on:)` and can drop a connection.
final class FakeServer: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let received: AsyncStream<(connection: Int, text: String)>
    private let continuation: AsyncStream<(connection: Int, text: String)>.Continuation
    private let connections = Mutex<[WebSocketConnection]>([])
    private let channel = Mutex<(any Channel)?>(nil)

    init() {
        (received, continuation) = AsyncStream.makeStream(of: (connection: Int, text: String).self)
    }

    /// Starts listening; each new connection gets `open` (the Engine.IO open packet) at once.
    func start(pingInterval: Int = 25000, pingTimeout: Int = 20000) async throws -> Int {
        let open = #"0{"sid":"fake","upgrades":[],"pingInterval":\#(pingInterval),"pingTimeout":\#(pingTimeout),"maxPayload":1000000}"#
        let listener = try await WebSocketServer.bind(
            host: "127.0.0.1", port: 0, configuration: WebSocketConfiguration(), group: group
        ) { [self] connection, _ in
            let number = connections.withLock { list in
                list.append(connection)
                return list.count - 1
            }
            connection.delegate = Recorder(number: number, continuation: continuation)
            connection.send(.text(open))
        }.get()
        channel.withLock { $0 = listener }
        return listener.localAddress!.port!
    }

    func send(_ text: String, on connection: Int) {
        connections.withLock { $0[connection] }.send(.text(text))
    }

    func send(binary bytes: [UInt8], on connection: Int) {
        connections.withLock { $0[connection] }.send(.binary(ByteBuffer(bytes: bytes)))
    }

    /// Drops TCP without a close handshake, as a crashed server would.
    func drop(_ connection: Int) {
        let target = connections.withLock { $0[connection] }
        target.eventLoop.execute { target.channel?.close(promise: nil) }
    }

    func shutdown() async {
        try? await channel.withLock { $0 }?.close()
        try? await group.shutdownGracefully()
    }

    private final class Recorder: WebSocketConnectionDelegate {
        let number: Int
        let continuation: AsyncStream<(connection: Int, text: String)>.Continuation
        init(number: Int, continuation: AsyncStream<(connection: Int, text: String)>.Continuation) {
            self.number = number
            self.continuation = continuation
        }
        func webSocket(_ connection: WebSocketConnection, didReceive message: WebSocketMessage) {
            continuation.yield((number, String(buffer: message.payload)))
        }
        func webSocket(_ connection: WebSocketConnection, didCloseWith code: WebSocketCloseCode, reason: String) {}
    }
}

@Suite struct FakeServerTests {
    private func client(port: Int, reconnection: Bool = true, maxAttachments: Int = 10, maxAttachmentBytes: Int = 1_000_000) -> TestClient {
        var configuration = SocketIOClientConfiguration(
            transports: [.websocket], maxAttachments: maxAttachments, maxAttachmentBytes: maxAttachmentBytes)
        configuration.reconnection = reconnection
        configuration.reconnectionDelay = .milliseconds(10)
        configuration.reconnectionDelayMax = .milliseconds(20)
        return TestClient(port: port, configuration: configuration)
    }

    @Test func recoveryResendsPidAndOffset() async throws {
        let server = FakeServer()
        let port = try await server.start()
        let client = client(port: port)
        let socket = client.manager.socket(auth: ["token": "t"])
        let events = socket.events()
        async let connected: Void = socket.connect()

        var frames = server.received.makeAsyncIterator()
        let first = await frames.next()
        #expect(first?.connection == 0 && first?.text == #"40{"token":"t"}"#)
        server.send(#"40{"sid":"a","pid":"p1"}"#, on: 0)
        try await connected
        #expect(socket.recovered == false)
        server.send(#"42["news","hello","off-1"]"#, on: 0)
        // The offset stays the event's last argument, as in socket.io-client.
        #expect(await events.next(named: "news")?.args == ["hello", "off-1"])

        let states = socket.stateUpdates()
        server.drop(0)
        let second = await frames.next()
        #expect(second?.connection == 1 && second?.text == #"40{"pid":"p1","offset":"off-1","token":"t"}"#)
        server.send(#"40{"sid":"b","pid":"p1"}"#, on: 1)
        _ = await states.first { $0 == .connected }
        #expect(socket.recovered)
        #expect(socket.id == "b")
        await client.shutdown()
        await server.shutdown()
    }

    /// A server that announces more attachments than `maxAttachments`, or sends more attachment bytes than
    /// `maxAttachmentBytes` for one packet, has the connection closed (`parse error`); within both the event
    /// arrives whole.
    @Test func attachmentsBeyondTheLimitsCloseTheConnection() async throws {
        // (announced attachments, bytes of each sent, the state or event that follows)
        for (announced, size, closes) in [(2, 400, false), (3, 1, true), (2, 600, true)] {
            let server = FakeServer()
            let port = try await server.start()
            let client = client(port: port, reconnection: false, maxAttachments: 2, maxAttachmentBytes: 1000)
            let socket = client.manager.socket()
            let events = socket.events()
            let states = socket.stateUpdates()
            async let connected: Void = socket.connect()
            var frames = server.received.makeAsyncIterator()
            #expect(await frames.next()?.text == "40")
            server.send(#"40{"sid":"a"}"#, on: 0)
            try await connected
            let placeholders = (0..<announced).map { #"{"_placeholder":true,"num":\#($0)}"# }.joined(separator: ",")
            server.send("45\(announced)-[\"blob\",\(placeholders)]", on: 0)
            for _ in 0..<announced { server.send(binary: [UInt8](repeating: 7, count: size), on: 0) }
            if closes {
                let state = await states.first { if case .disconnected = $0 { true } else { false } }
                #expect(state == .disconnected(.parseError), "\(announced) × \(size) bytes")
            } else {
                let args = await events.next(named: "blob")?.args
                #expect(args?.count == announced, "\(String(describing: args))")
            }
            await client.shutdown()
            await server.shutdown()
        }
    }

    @Test func answersPingsWithPongs() async throws {
        let server = FakeServer()
        let port = try await server.start()
        let client = client(port: port)
        let socket = client.manager.socket()
        async let connected: Void = socket.connect()
        var frames = server.received.makeAsyncIterator()
        #expect(await frames.next()?.text == "40")
        server.send(#"40{"sid":"a"}"#, on: 0)
        try await connected
        for _ in 0..<3 {
            server.send("2", on: 0)
            #expect(await frames.next()?.text == "3")
        }
        await client.shutdown()
        await server.shutdown()
    }

    @Test func missedPingsCloseTheConnection() async throws {
        let server = FakeServer()
        let port = try await server.start(pingInterval: 20, pingTimeout: 20)
        let client = client(port: port, reconnection: false)
        let socket = client.manager.socket()
        let states = socket.stateUpdates()
        // The fake server never pings; whether the CONNECT reply beats the timeout does not matter here.
        async let connected: Void = socket.connect()
        var frames = server.received.makeAsyncIterator()
        _ = await frames.next()
        server.send(#"40{"sid":"a"}"#, on: 0)
        _ = try? await connected
        let state = await states.first { if case .disconnected = $0 { true } else { false } }
        #expect(state == .disconnected(.pingTimeout))
        await client.shutdown()
        await server.shutdown()
    }
}
