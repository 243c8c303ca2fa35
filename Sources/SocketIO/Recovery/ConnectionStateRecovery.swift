import EngineIO
import SocketIOProtocol

/// Connection state recovery: a client that comes back within `maxDisconnectionDuration` gets its socket id,
/// rooms, data and every event it missed; when that is impossible it gets a new session (`recovered` false).
/// Each default is documented here once, and asserted by a test.
public struct ConnectionStateRecovery: Sendable, Hashable {
    /// How long a disconnected session, and the events it may miss, are kept. Default 2 minutes.
    public var maxDisconnectionDuration: Duration
    /// Whether a recovered connection skips the namespace middleware. Default true (it passed them before).
    public var skipMiddlewares: Bool
    /// Most events the in-memory log keeps per namespace, whatever their age. Default 100 000.
    public var maxLoggedEvents: Int

    public init(maxDisconnectionDuration: Duration = .seconds(120), skipMiddlewares: Bool = true, maxLoggedEvents: Int = 100_000) {
        self.maxDisconnectionDuration = maxDisconnectionDuration
        self.skipMiddlewares = skipMiddlewares
        self.maxLoggedEvents = maxLoggedEvents
    }
}

/// What a disconnected socket leaves behind for its client to come back to.
public struct RecoverableSession: Sendable, Hashable {
    public var id: String
    /// The private session id the client proves itself with.
    public var pid: String
    /// Rooms besides the socket's own.
    public var rooms: [String]
    public var data: JSONValue
    /// The log position when the socket connected: where replay starts for a client that never got an offset.
    public var connectOffset: String

    public init(id: String, pid: String, rooms: [String], data: JSONValue, connectOffset: String) {
        self.id = id
        self.pid = pid
        self.rooms = rooms
        self.data = data
        self.connectOffset = connectOffset
    }
}

/// The outcome of a recovery attempt.
public enum RecoveryOutcome: Sendable {
    /// The session and, in order, the events it missed (each already carrying its offset).
    case recovered(RecoverableSession, missed: [EngineIOPreparedMessage])
    /// No such session, or it expired, or the events it missed are no longer all kept.
    case unavailable
}

/// Disconnect reasons after which a session is kept for recovery, as in Socket.IO.
let recoverableReasons: Set<DisconnectReason> = [
    .transportError, .transportClose, .forcedClose, .pingTimeout, .serverShuttingDown, .forcedServerClose,
]

extension EngineIOPreparedMessage {
    /// The offset a logged event carries as its last argument (`…,"OFFSET"]`, see the adapters' `prepare`); nil
    /// for a message without one. Offsets hold no quotes, so the last quoted string is the whole offset.
    var recoveryOffset: String? {
        let bytes = textPacket.readableBytesView
        guard bytes.count >= 5, bytes.last == UInt8(ascii: "]") else { return nil }
        let closingQuote = bytes.index(bytes.endIndex, offsetBy: -2)
        guard bytes[closingQuote] == UInt8(ascii: "\""),
              let openingQuote = bytes[..<closingQuote].lastIndex(of: UInt8(ascii: "\"")),
              openingQuote > bytes.startIndex, bytes[bytes.index(before: openingQuote)] == UInt8(ascii: ",")
        else { return nil }
        return String(decoding: bytes[bytes.index(after: openingQuote)..<closingQuote], as: UTF8.self)
    }
}
