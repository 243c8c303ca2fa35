import EngineIO

/// Why a socket left its namespace; the description is Socket.IO's reason string.
public enum DisconnectReason: String, Sendable, Hashable, CustomStringConvertible {
    case transportClose = "transport close"
    case transportError = "transport error"
    case pingTimeout = "ping timeout"
    case parseError = "parse error"
    case forcedClose = "forced close"
    /// The server called `disconnect()` on the socket.
    case serverNamespaceDisconnect = "server namespace disconnect"
    /// The client sent a DISCONNECT for the namespace.
    case clientNamespaceDisconnect = "client namespace disconnect"
    /// The server is closing.
    case serverShuttingDown = "server shutting down"
    /// The server closed the whole connection (`disconnect(close: true)`, connect timeout, a protocol violation).
    case forcedServerClose = "forced server close"

    public var description: String { rawValue }

    init(_ reason: EngineIOCloseReason) {
        switch reason {
        case .transportClose: self = .transportClose
        case .transportError: self = .transportError
        case .pingTimeout: self = .pingTimeout
        case .parseError: self = .parseError
        case .forcedClose: self = .forcedClose
        case .serverShuttingDown: self = .serverShuttingDown
        }
    }
}
