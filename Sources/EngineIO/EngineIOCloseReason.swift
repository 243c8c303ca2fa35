/// Why a session closed; the description is the reference server's wire-compatible string.
public enum EngineIOCloseReason: String, Sendable, Hashable, CustomStringConvertible {
    /// The client closed the connection or sent a close packet.
    case transportClose = "transport close"
    /// A transport failed: a dropped poll, overlapping requests, an oversized or slow client.
    case transportError = "transport error"
    /// No pong within pingTimeout.
    case pingTimeout = "ping timeout"
    /// The client sent a packet that does not decode.
    case parseError = "parse error"
    /// The server closed the session.
    case forcedClose = "forced close"
    /// The server is going away (a drain): the transport ends without an Engine.IO close packet and the session
    /// is forgotten, so that clients reconnect, to another node if there is one.
    case serverShuttingDown = "server shutting down"

    public var description: String { rawValue }
}
