import HeraldStore

/// Chat with history (see docs/chat.md). Every default is documented here once and asserted by ChatConfigurationTests.
public struct ChatConfiguration: Sendable {
    /// Where messages are stored (`HERALD_DATABASE_URL`). Default `:memory:` (SQLite in memory): every node,
    /// and every node a test starts, gets its own empty history and writes no file; a deployment that keeps
    /// history sets a file or PostgreSQL URL (the node logs a warning while history is in memory).
    public var database: MessageStoreLocation
    /// Longest accepted `text`, in characters (`HERALD_CHAT_MAX_LENGTH`). Default 4000.
    public var maxMessageLength: Int
    /// Longest accepted `text`, in UTF-8 bytes (`HERALD_CHAT_MAX_BYTES`). Default 16 384: one character may be
    /// a letter with thousands of combining marks, so characters alone bound nothing.
    public var maxMessageBytes: Int
    /// Messages sent as `chat:history` when a socket joins a chat room (`HERALD_CHAT_HISTORY`). Default 50; 0 sends none.
    public var historyOnJoin: Int
    /// How long a send or history read waits for the store before answering `storage_unavailable`
    /// (`HERALD_CHAT_STORE_TIMEOUT`, ms). Default 5 s.
    public var storeTimeout: Duration
    /// Largest history page in bytes (the messages' JSON), for `chat:history` on join and the history API
    /// (`HERALD_CHAT_HISTORY_MAX_BYTES`). Older messages beyond it are left to the next page; a page always
    /// holds at least one message. Default 262 144.
    public var historyMaxBytes: Int
    /// Chat rooms one socket may be in at once through `chat:join` (`HERALD_CHAT_MAX_ROOMS`). Default 100.
    public var maxRooms: Int

    public static let defaultDatabase = MessageStoreLocation.sqliteMemory

    public init(
        database: MessageStoreLocation = ChatConfiguration.defaultDatabase,
        maxMessageLength: Int = 4000,
        historyOnJoin: Int = 50,
        storeTimeout: Duration = .seconds(5),
        maxMessageBytes: Int = 16_384,
        historyMaxBytes: Int = 262_144,
        maxRooms: Int = 100
    ) {
        self.database = database
        self.maxMessageLength = maxMessageLength
        self.historyOnJoin = historyOnJoin
        self.storeTimeout = storeTimeout
        self.maxMessageBytes = maxMessageBytes
        self.historyMaxBytes = historyMaxBytes
        self.maxRooms = maxRooms
    }

    /// Rooms whose names start with this are chat rooms: only they take `chat:send` and have history.
    public static let roomPrefix = "chat:"
    /// Longest accepted `clientMessageId`, in characters.
    public static let maxClientMessageIDLength = 128
    /// History API page size when `limit` is absent, and the largest `limit` accepted.
    public static let defaultPageLimit = 50
    public static let maxPageLimit = 200
}
