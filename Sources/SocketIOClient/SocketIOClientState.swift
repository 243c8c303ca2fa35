/// Why a client socket is disconnected; `description` is socket.io-client's reason string.
public enum SocketIOClientDisconnectReason: String, Sendable, Hashable, CustomStringConvertible {
    /// The server disconnected this socket (DISCONNECT packet); no automatic reconnection.
    case ioServerDisconnect = "io server disconnect"
    /// `disconnect()` was called.
    case ioClientDisconnect = "io client disconnect"
    /// No ping from the server within pingInterval + pingTimeout.
    case pingTimeout = "ping timeout"
    /// The connection was closed (by the server, or the network).
    case transportClose = "transport close"
    /// A transport failed (refused connection, HTTP error, broken socket).
    case transportError = "transport error"
    /// The server sent something that does not decode.
    case parseError = "parse error"
    /// The server refused the namespace (CONNECT_ERROR).
    case connectError = "connect error"
    /// Reconnection gave up after the configured number of attempts.
    case reconnectFailed = "reconnect failed"

    public var description: String { rawValue }
}

/// The lifecycle of a client socket.
public enum SocketIOClientState: Sendable, Hashable {
    case connecting
    case connected
    /// Waiting for (or running) reconnection attempt `attempt`, counted from 1.
    case reconnecting(attempt: Int)
    case disconnected(SocketIOClientDisconnectReason)
}
