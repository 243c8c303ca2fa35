import EngineIO
import NIOCore
import NIOEmbedded

/// A server pipeline (for example `EngineIOServer.configure(channel:)`) served over in-memory connections.
///
/// Every connection is an `EmbeddedChannel` on one shared `EmbeddedEventLoop`, so sessions, timers and all
/// connections run on the test's thread and time moves only through `advanceTime(by:)`. Use it from one
/// thread only (a synchronous test function), as `EmbeddedEventLoop` requires.
public final class EmbeddedHTTPServer {
    /// The loop every connection and session runs on; it is also the test clock.
    public let loop: EmbeddedEventLoop
    private let configure: (any Channel) -> EventLoopFuture<Void>
    private var nextPort = 40000

    /// Serves connections set up by `configure`, e.g. `{ socketIOServer.configure(channel: $0) }`.
    public init(loop: EmbeddedEventLoop = EmbeddedEventLoop(), configure: @escaping (any Channel) -> EventLoopFuture<Void>) {
        self.loop = loop
        self.configure = configure
    }

    /// Serves an Engine.IO server's HTTP pipeline.
    public convenience init(engine: EngineIOServer, loop: EmbeddedEventLoop = EmbeddedEventLoop()) {
        self.init(loop: loop) { engine.configure(channel: $0) }
    }

    /// Opens a new client connection (an accepted, active channel with its own remote port).
    public func connect() throws -> EmbeddedHTTPClient {
        let channel = EmbeddedChannel(loop: loop)
        try configure(channel).wait()
        nextPort += 1
        // Connecting makes the channel active and gives it a remote address, as an accepted socket has.
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: nextPort)).wait()
        loop.run()
        return EmbeddedHTTPClient(channel: channel, loop: loop)
    }

    /// Shorthand: one request on a fresh connection.
    public func request(
        _ method: String, _ uri: String, headers: [(String, String)] = [], body: String? = nil
    ) throws -> HTTPTestResponse? {
        try connect().request(method: method, uri: uri, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    /// Opens a connection and upgrades it to a websocket. Throws `HTTPTestError.upgradeRefused` with the
    /// server's answer when it is not a 101.
    public func webSocket(uri: String, headers: [(String, String)] = []) throws -> EmbeddedWebSocketClient {
        try EmbeddedWebSocketClient.upgrade(try connect(), uri: uri, headers: headers)
    }

    /// Runs every task that is due now (hops between sessions and connections, scheduled flushes).
    public func run() { loop.run() }

    /// Moves the test clock forward, firing every timer that comes due, in order.
    public func advanceTime(by amount: TimeAmount) { loop.advanceTime(by: amount) }

    /// `advanceTime(by:)` with a Swift `Duration`, to reuse configuration values.
    public func advanceTime(by duration: Duration) { loop.advanceTime(by: timeAmount(duration)) }
}

/// Nanosecond-precision conversion; kept private so it cannot clash with the modules' own internal ones.
func timeAmount(_ duration: Duration) -> TimeAmount {
    let (seconds, attoseconds) = duration.components
    return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
}
