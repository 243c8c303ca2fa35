import EngineIO

/// Options of a Socket.IO server. Each default is documented here once, and asserted by a test.
public struct SocketIOConfiguration: Sendable {
    /// The Engine.IO layer's options; the path defaults to `/socket.io/` here.
    public var engine: EngineIOConfiguration
    /// How long a new connection may take to join its first namespace before it is closed. Default 45 s.
    public var connectTimeout: Duration
    /// Default wait for a client's acknowledgement to `emitWithAck`. Default 10 s.
    public var ackTimeout: Duration
    /// Most binary attachments one packet may announce. Default 10. All of one packet's attachments together
    /// are bounded by `engine.maxPayload`.
    public var maxAttachments: Int
    /// How long a binary packet may wait for its attachments; then the connection is closed ("parse error").
    /// Default 30 s.
    public var attachmentTimeout: Duration
    /// Connection state recovery. Default nil (off).
    public var connectionStateRecovery: ConnectionStateRecovery?
    /// Longest room name taken from outside, in UTF-8 bytes (see `RoomName`). Default 256.
    public var maxRoomNameBytes: Int
    /// Most rooms one socket may be in, not counting its own; a join beyond is refused (see `Socket.join`), on
    /// every path: handlers, middleware, recovery, cluster requests. Default 1000.
    public var maxRoomsPerSocket: Int
    /// How long one event loop may spend flushing broadcasts (one `writev` per recipient) before it reads from its
    /// connections again; the rest of the flush follows in a later loop tick. Keeps a loop that flushes many
    /// broadcasts from other loops answering its own clients meanwhile. Zero yields after every few connections.
    /// Default 1 ms.
    public var broadcastFlushSlice: Duration

    public init(
        engine: EngineIOConfiguration = EngineIOConfiguration(path: "/socket.io/"),
        connectTimeout: Duration = .seconds(45),
        ackTimeout: Duration = .seconds(10),
        maxAttachments: Int = 10,
        attachmentTimeout: Duration = .seconds(30),
        connectionStateRecovery: ConnectionStateRecovery? = nil,
        maxRoomNameBytes: Int = RoomName.defaultMaxBytes,
        maxRoomsPerSocket: Int = 1000,
        broadcastFlushSlice: Duration = .milliseconds(1)
    ) {
        self.engine = engine
        self.connectTimeout = connectTimeout
        self.ackTimeout = ackTimeout
        self.maxAttachments = maxAttachments
        self.attachmentTimeout = attachmentTimeout
        self.connectionStateRecovery = connectionStateRecovery
        self.maxRoomNameBytes = maxRoomNameBytes
        self.maxRoomsPerSocket = maxRoomsPerSocket
        self.broadcastFlushSlice = broadcastFlushSlice
    }
}
