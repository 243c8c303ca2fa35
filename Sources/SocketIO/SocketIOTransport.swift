import EngineIO
import NIOCore
import SocketIOProtocol

/// What Socket.IO needs of an Engine.IO session, and nothing more: an `EngineIOSession` in a server
/// (`EngineIOSession+SocketIOTransport.swift`), a recording transport on an embedded loop in tests.
///
/// Loop-confined: every requirement is called on `eventLoop`, and the transport calls its connection's
/// `receive(_:)` and `transportClosed(_:)` there too.
package protocol SocketIOTransport: AnyObject, Sendable {
    /// The Engine.IO session id (for logs).
    var id: String { get }
    var eventLoop: any EventLoop { get }
    /// The transport the session uses now.
    var kind: EngineIOTransportKind { get }
    /// The handshake of a CONNECT carrying `auth`, with the request that opened the session.
    func handshake(auth: JSONValue) -> SocketIOHandshake
    /// From now on the transport hands its messages and its close to `connection` (and keeps it alive).
    func attach(_ connection: SocketIOConnection)
    /// Queues or writes a message and flushes it within this loop tick; a volatile one is dropped while the
    /// client is not keeping up.
    func send(_ message: EngineIOPreparedMessage, volatile: Bool)
    /// Writes without flushing: the caller flushes (see `claimFlush`).
    func write(_ message: EngineIOPreparedMessage, volatile: Bool)
    /// True when no flush is pending this loop tick: the flush is then the caller's, with `flushClaimed()`
    /// (a broadcast writes to every member, then flushes each once).
    func claimFlush() -> Bool
    func flushClaimed()
    /// Closes the session ("forced close"); the close reaches the connection through `transportClosed`.
    func close()
}

extension SocketIOTransport {
    func send(_ message: EngineIOPreparedMessage) { send(message, volatile: false) }
}
