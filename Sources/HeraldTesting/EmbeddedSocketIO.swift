import EngineIO
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SocketIO
import SocketIOProtocol
import Synchronization
import Testing

/// A `SocketIOServer` whose connections run on `NIOAsyncTestingEventLoop`s over recording transports: no
/// sockets and no threads of its own, and time moves only when the test says (`advanceTime`), so timeouts are
/// tested without waiting for them. Each client records the exact Engine.IO packets the server sends it.
///
/// Lock-protected (the round robin over the loops); the loops are thread-safe.
public final class EmbeddedSocketIOServer: Sendable {
    public let io: SocketIOServer
    /// Clients are spread over these in turn: with two, sockets of one room live on different room shards.
    public let loops: [NIOAsyncTestingEventLoop]
    private let opened = Mutex(0)

    public init(
        configuration: SocketIOConfiguration = SocketIOConfiguration(),
        adapter: (any SocketIOAdapter)? = nil,
        loops: Int = 1,
        setUp: (SocketIOServer) -> Void = { _ in }
    ) {
        if let adapter {
            io = SocketIOServer(configuration: configuration, adapterFactory: { _ in adapter })
        } else {
            io = SocketIOServer(configuration: configuration)
        }
        self.loops = (0..<max(1, loops)).map { _ in NIOAsyncTestingEventLoop() }
        setUp(io)
    }

    /// A new Engine.IO session served by `io`, as if a client had opened it with this request.
    public func client(
        url: String = "/socket.io/?EIO=4&transport=websocket",
        headers: HTTPHeaders = ["Host": "herald.test"],
        remoteAddress: SocketAddress? = try? SocketAddress(ipAddress: "127.0.0.1", port: 40000),
        kind: EngineIOTransportKind = .websocket
    ) async throws -> EmbeddedSocketIOClient {
        let index = opened.withLock { count in defer { count += 1 }; return count }
        let loop = loops[index % loops.count]
        let transport = EmbeddedSocketIOTransport(
            id: "embedded-\(index)", loop: loop, kind: kind, url: url, headers: headers, remoteAddress: remoteAddress)
        try await loop.submit { [io] in io.open(transport) }.get()
        return EmbeddedSocketIOClient(transport: transport, server: self)
    }

    /// `count` clients connected to `namespace`, each with its socket id; `auth(i)` is client i's CONNECT payload.
    public func connectedClients(
        _ count: Int, namespace: String = "/", auth: (Int) -> String? = { _ in nil }
    ) async throws -> [(client: EmbeddedSocketIOClient, sid: String)] {
        var result: [(client: EmbeddedSocketIOClient, sid: String)] = []
        for index in 0..<count {
            let client = try await client()
            result.append((client, try await client.connect(namespace: namespace, auth: auth(index))))
        }
        return result
    }

    /// Runs every loop until nothing is due now: what the clients sent before has been handled (work the
    /// server does in tasks, such as middleware, may still be under way).
    public func run() async {
        for loop in loops { await loop.run() }
    }

    /// Moves every loop's clock forward, firing the timers that come due.
    public func advanceTime(by duration: Duration) async {
        for loop in loops { await loop.advanceTime(by: TimeAmount(duration)) }
    }

    public func shutdown() async {
        for loop in loops { await loop.shutdownGracefully() }
    }
}

/// Runs `body` against a fresh embedded server and always shuts it down, even when the body throws.
public func withEmbeddedServer(
    configuration: SocketIOConfiguration = SocketIOConfiguration(),
    adapter: (any SocketIOAdapter)? = nil,
    loops: Int = 1,
    setUp: (SocketIOServer) -> Void = { _ in },
    _ body: (EmbeddedSocketIOServer) async throws -> Void
) async throws {
    let server = EmbeddedSocketIOServer(configuration: configuration, adapter: adapter, loops: loops, setUp: setUp)
    do {
        try await body(server)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}

/// The client side of an embedded session: what it sends reaches the server's connection on the loop, and
/// `frames` holds, in order, every packet the server sent (`4…` texts as on a websocket, attachments as
/// binary messages), finished when the session closes.
public final class EmbeddedSocketIOClient: SocketIOWireClient {
    let transport: EmbeddedSocketIOTransport
    public let server: EmbeddedSocketIOServer

    init(transport: EmbeddedSocketIOTransport, server: EmbeddedSocketIOServer) {
        self.transport = transport
        self.server = server
    }

    public var frames: Mailbox<Frame> { transport.frames }
    public var loop: NIOAsyncTestingEventLoop { transport.loop }

    /// Sends an Engine.IO message packet `4…` (a Socket.IO packet): its payload reaches the connection.
    public func send(_ text: String) {
        precondition(text.first == "4", "Socket.IO packets travel in Engine.IO message packets (4…)")
        deliver(.text(ByteBuffer(string: String(text.dropFirst()))))
    }

    public func send(binary bytes: [UInt8]) {
        deliver(.binary(ByteBuffer(bytes: bytes)))
    }

    private func deliver(_ message: EngineIOMessage) {
        let transport = transport
        transport.loop.execute { transport.receive(message) }
    }

    /// Ends the session from the client's side: a vanished client's "transport close" by default, or another
    /// Engine.IO reason (`.pingTimeout`, `.transportError`).
    public func disconnectTransport(reason: EngineIOCloseReason = .transportClose) async {
        let transport = transport
        try? await transport.loop.submit { transport.end(reason) }.get()
    }

    /// Whether the client keeps up with what it is sent; volatile messages are dropped while it does not.
    public func setWritable(_ writable: Bool) async throws {
        let transport = transport
        try await transport.loop.submit { transport.isWritable = writable }.get()
    }

    /// Volatile messages dropped because the client was not writable.
    public func volatileDrops() async throws -> Int {
        let transport = transport
        return try await transport.loop.submit { transport.volatileDrops }.get()
    }

    /// Checks that the server sent nothing more: every loop runs until idle first.
    public func expectNothingSent(sourceLocation: SourceLocation = #_sourceLocation) async {
        await server.run()
        let unexpected = frames.drain()
        #expect(unexpected.isEmpty, "unexpected \(unexpected)", sourceLocation: sourceLocation)
    }
}

/// Records what the server sends instead of writing it anywhere.
///
/// Loop-confined (like every `SocketIOTransport`), but for `frames`, a thread-safe mailbox.
final class EmbeddedSocketIOTransport: SocketIOTransport, @unchecked Sendable {
    let id: String
    let loop: NIOAsyncTestingEventLoop
    let kind: EngineIOTransportKind
    let frames = Mailbox<Frame>("embedded frame")
    private let url: String
    private let headers: HTTPHeaders
    private let remoteAddress: SocketAddress?
    /// nil once closed: like an Engine.IO session, a closed transport writes nothing.
    private var connection: SocketIOConnection?
    private var flushClaimedThisTick = false
    var isWritable = true
    var volatileDrops = 0

    init(id: String, loop: NIOAsyncTestingEventLoop, kind: EngineIOTransportKind, url: String, headers: HTTPHeaders,
         remoteAddress: SocketAddress?) {
        self.id = id
        self.loop = loop
        self.kind = kind
        self.url = url
        self.headers = headers
        self.remoteAddress = remoteAddress
    }

    var eventLoop: any EventLoop { loop }

    func handshake(auth: JSONValue) -> SocketIOHandshake {
        SocketIOHandshake(auth: auth, headers: headers, url: url, remoteAddress: remoteAddress)
    }

    func attach(_ connection: SocketIOConnection) { self.connection = connection }

    func receive(_ message: EngineIOMessage) { connection?.receive(message) }

    func send(_ message: EngineIOPreparedMessage, volatile: Bool) { write(message, volatile: volatile) }

    func write(_ message: EngineIOPreparedMessage, volatile: Bool) {
        loop.preconditionInEventLoop()
        guard connection != nil else { return }
        if volatile && !isWritable {
            volatileDrops += 1
            return
        }
        frames.send(.text(String(buffer: message.textPacket)))
        for attachment in message.attachments { frames.send(.binary(Array(buffer: attachment))) }
    }

    func claimFlush() -> Bool {
        guard !flushClaimedThisTick else { return false }
        flushClaimedThisTick = true
        return true
    }

    func flushClaimed() { flushClaimedThisTick = false }

    func close() { end(.forcedClose) }

    /// Closes once, then tells the connection, as an Engine.IO session does.
    func end(_ reason: EngineIOCloseReason) {
        guard let connection else { return }
        self.connection = nil
        frames.finish()
        connection.transportClosed(reason)
    }
}
