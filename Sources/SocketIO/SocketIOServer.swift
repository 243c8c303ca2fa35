import EngineIO
import Logging
import NIOCore
import NIOPosix
import SocketIOProtocol
import Synchronization

/// A Socket.IO v5 server (`io`): namespaces over an Engine.IO v4 server.
///
/// Lock-protected: the namespace table, created on first use from any thread; the rest is immutable.
public final class SocketIOServer: Sendable {
    public let configuration: SocketIOConfiguration
    public let engine: EngineIOServer
    public let logger: Logger
    private let adapterFactory: @Sendable (String) -> any SocketIOAdapter
    private let namespaces = Mutex<[String: Namespace]>([:])
    /// Traffic totals for the dashboard and metrics.
    public let stats: SocketIOStats
    /// The swift-metrics this server reports (see `reportMetrics()`).
    public let metrics: SocketIOMetrics
    /// Where `run()` listens and how it stops, when the server runs as a `Service`.
    public let service: SocketIOServiceConfiguration
    /// Set once `run()` listens.
    let listening = ListeningAddress()
    /// Each event loop's connect timeouts (see `LoopTimers`), looked up once per connection.
    let connectTimers = LoopTimersByLoop()

    /// `adapterFactory` makes each namespace's adapter (default: in-memory, for one node); `metrics` defaults to
    /// the process-wide swift-metrics factory with the prefix `socketio`.
    public init(
        configuration: SocketIOConfiguration = SocketIOConfiguration(),
        logger: Logger = Logger(label: "socket.io"),
        adapterFactory: @escaping @Sendable (String) -> any SocketIOAdapter = { _ in InMemoryAdapter() },
        metrics: SocketIOMetrics = SocketIOMetrics(),
        service: SocketIOServiceConfiguration = SocketIOServiceConfiguration()
    ) {
        self.configuration = configuration
        self.logger = logger
        self.adapterFactory = adapterFactory
        self.metrics = metrics
        self.stats = SocketIOStats(fanOutTimer: metrics.fanOut)
        self.service = service
        self.engine = EngineIOServer(configuration: configuration.engine, logger: logger)
        engine.onSession { [unowned self] session in open(session) }
        _ = of("/")
    }

    /// Serves a new Engine.IO session (or a test's transport), on its loop: the connection waits for CONNECTs.
    package func open(_ transport: any SocketIOTransport) {
        _ = SocketIOConnection(server: self, transport: transport)
    }

    /// Connections whose connect timeout is armed (opened, no namespace joined yet), on all loops.
    package func armedConnectTimers() async -> Int {
        await connectTimers.armedCount()
    }

    /// Connect timeout entries queued on all loops, stale ones (of connections that joined or closed) included
    /// until they come due.
    public func connectTimerEntries() async -> Int {
        await connectTimers.entryCount()
    }

    /// The namespace with this name, created on first use.
    public func of(_ name: String) -> Namespace {
        let name = name.hasPrefix("/") ? name : "/" + name
        var created = false
        let namespace = namespaces.withLock { namespaces in
            if let existing = namespaces[name] { return existing }
            created = true
            let namespace = Namespace(name: name, server: self, adapter: adapterFactory(name))
            namespaces[name] = namespace
            return namespace
        }
        if created { namespace.adapter.attach(to: namespace) }
        return namespace
    }

    func namespace(named name: String) -> Namespace? { namespaces.withLock { $0[name] } }

    /// The namespace with this name if the server serves it (created by `of` or a handler), without creating one:
    /// for names that come from outside (a publish, a bridge), where an unknown namespace is an error.
    public func existingNamespace(_ name: String) -> Namespace? {
        namespace(named: name.hasPrefix("/") ? name : "/" + name)
    }

    /// Checks a room name from outside against `configuration.maxRoomNameBytes`.
    public func roomName(_ name: String) throws(RoomNameError) -> RoomName {
        try RoomName(name, maxBytes: configuration.maxRoomNameBytes)
    }

    /// Every namespace created so far.
    public var allNamespaces: [Namespace] { namespaces.withLock { Array($0.values) } }

    /// The main namespace `/`.
    public var sockets: Namespace { of("/") }

    public func use(_ middleware: @escaping @Sendable (Socket) async throws -> Void) { sockets.use(middleware) }
    public func onConnection(_ handler: @escaping @Sendable (Socket) -> Void) { sockets.onConnection(handler) }
    public func to(_ rooms: String...) -> BroadcastOperator { sockets.all.to(rooms) }
    public func `in`(_ rooms: String...) -> BroadcastOperator { sockets.all.to(rooms) }
    public func except(_ rooms: String...) -> BroadcastOperator { sockets.all.except(rooms) }
    public var local: BroadcastOperator { sockets.local }
    public var volatile: BroadcastOperator { sockets.volatile }
    public func emit(_ event: String, _ args: JSONValue...) { sockets.all.emit(event, args: args) }
    public func fetchSockets() async throws -> [RemoteSocket] { try await sockets.fetchSockets() }
    public func localSockets() async -> [Socket] { await sockets.localSockets() }
    public func serverSideEmit(_ event: String, _ args: JSONValue...) async throws {
        _ = try await sockets.adapter.serverSideEmit(event, args: args, expectingAcks: false)
    }
    public func onServerSideEmit(_ handler: @escaping @Sendable (SocketIOEvent) -> Void) { sockets.onServerSideEmit(handler) }

    /// Installs the HTTP/Engine.IO handlers on an accepted channel (for callers with their own bootstrap).
    public func configure(channel: any Channel) -> EventLoopFuture<Void> { engine.configure(channel: channel) }

    /// Listens on host:port with the given event loops. `transport`, when given, runs first on each accepted
    /// channel and adds the handlers that go in front of HTTP (a TLS handler, say); without it the pipeline starts
    /// with the HTTP front door.
    public func bind(host: String, port: Int, group: any EventLoopGroup,
                     transport: (@Sendable (any Channel) throws -> Void)? = nil) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // No TCP_NODELAY option here: NIO sets it on the listening socket and accepted sockets inherit it (and
            // `.socketOption(.tcp_nodelay)` is SOL_SOCKET's option 1, SO_DEBUG: a syscall per connection for nothing).
            .childChannelOption(.recvAllocator, value: SocketIOServer.receiveBufferAllocator)
            .childChannelInitializer { [self] channel in
                guard let transport else { return engine.configure(channel: channel) }
                do {
                    try transport(channel)
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
                return engine.configure(channel: channel)
            }
            .bind(host: host, port: port)
            .get()
    }

    /// Sizes each connection's read buffer. NIO keeps a connection's last read buffer for its next read, so an idle
    /// connection holds one whole buffer: NIO's default starts at 2 KiB, a quarter of the memory of an idle Socket.IO
    /// connection. Starting at 256 bytes covers a typical websocket upgrade request and the small frames of an idle
    /// or chatty client; a connection that reads more grows its buffer as before (up to 64 KiB).
    public static let receiveBufferAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65536)

    /// Closes every session at once as "server shutting down", as the reference server's `close()` does: the
    /// transports end without a Socket.IO DISCONNECT (which would tell official clients not to come back), so
    /// clients reconnect and, with connection state recovery, their sessions are kept for them. To throw a
    /// client out for good, use `disconnectSockets` or `Socket.disconnect()` instead.
    public func close() {
        engine.closeAllSessions(reason: .serverShuttingDown)
    }

    /// A graceful close: refuses new sessions, closes the open ones as "server shutting down" in paced batches
    /// over `window` (see `EngineIOServer.drain(over:)`), then waits until the sessions kept for connection
    /// state recovery are stored.
    public func drain(over window: Duration) async {
        await engine.drain(over: window)
        for namespace in allNamespaces { await namespace.adapter.sessionsPersisted() }
    }
}
