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

extension ConnectionStateRecovery {
    /// Whether `pid` has the shape of a private session id this server issues (`EngineIOServer.makeSessionID`:
    /// 20 base64url characters). Anything else names no session: it is never looked up (a Redis key, say) and
    /// the client gets a new session, as the reference server does for an unknown pid.
    public static func isIssuedPid(_ pid: String) -> Bool {
        pid.utf8.count == 20 && pid.utf8.allSatisfy(isBase64URL)
    }

    /// Longest offset any log issues: `EPOCH-SEQ` in memory, `EPOCH:MILLISECONDS-SEQ` on Redis (at most 55).
    static let maxOffsetBytes = 64

    /// Whether `offset` could be one a log issued: at most `maxOffsetBytes` of base64url characters and `:`.
    /// Anything else is never looked up: the client gets a new session, as for an offset not in the log.
    public static func isPlausibleOffset(_ offset: String) -> Bool {
        let bytes = offset.utf8
        return !bytes.isEmpty && bytes.count <= maxOffsetBytes && bytes.allSatisfy { isBase64URL($0) || $0 == UInt8(ascii: ":") }
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"): true
        default: false
        }
    }
}
