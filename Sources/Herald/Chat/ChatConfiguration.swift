import Store

/// Chat with history (see docs/chat.md). Every default is documented here once and asserted by ChatConfigurationTests.
public struct ChatConfiguration: Sendable {
    /// Where messages are stored (`HERALD_DATABASE_URL`). Default `:memory:` (SQLite in memory): every node,
    /// and every node a test starts, gets its own empty history and writes no file; a deployment that keeps
    /// history sets a file or PostgreSQL URL (the node logs a warning while history is in memory).
    public var database: MessageStoreLocation
    /// Longest accepted `text`, in characters (`HERALD_CHAT_MAX_LENGTH`). Default 4000.
    public var maxMessageLength: Int
    /// Messages sent as `chat:history` when a socket joins a chat room (`HERALD_CHAT_HISTORY`). Default 50; 0 sends none.
    public var historyOnJoin: Int
    /// How long a send or history read waits for the store before answering `storage_unavailable`
    /// (`HERALD_CHAT_STORE_TIMEOUT`, ms). Default 5 s.
    public var storeTimeout: Duration

    public static let defaultDatabase = MessageStoreLocation.sqliteMemory

    public init(
        database: MessageStoreLocation = ChatConfiguration.defaultDatabase,
        maxMessageLength: Int = 4000,
        historyOnJoin: Int = 50,
        storeTimeout: Duration = .seconds(5)
    ) {
        self.database = database
        self.maxMessageLength = maxMessageLength
        self.historyOnJoin = historyOnJoin
        self.storeTimeout = storeTimeout
    }

    /// Rooms whose names start with this are chat rooms: only they take `chat:send` and have history.
    public static let roomPrefix = "chat:"
    /// Longest accepted `clientMessageId`, in characters.
    public static let maxClientMessageIDLength = 128
    /// History API page size when `limit` is absent, and the largest `limit` accepted.
    public static let defaultPageLimit = 50
    public static let maxPageLimit = 200

    /// Applies the `HERALD_DATABASE_URL` and `HERALD_CHAT_*` settings present in `settings`.
    public mutating func apply(_ settings: [String: String]) throws {
        func int(_ name: String) throws -> Int? { try HeraldConfiguration.integer(name, in: settings) }
        if let url = settings["HERALD_DATABASE_URL"], !url.isEmpty {
            do {
                database = try MessageStoreLocation(url: url)
            } catch {
                throw HeraldConfiguration.SettingError(description: "HERALD_DATABASE_URL: \(error)")
            }
        }
        if let length = try int("HERALD_CHAT_MAX_LENGTH") {
            guard length > 0 else { throw HeraldConfiguration.SettingError(description: "HERALD_CHAT_MAX_LENGTH must be at least 1") }
            maxMessageLength = length
        }
        if let count = try int("HERALD_CHAT_HISTORY") { historyOnJoin = min(count, Self.maxPageLimit) }
        if let ms = try int("HERALD_CHAT_STORE_TIMEOUT") {
            guard ms > 0 else { throw HeraldConfiguration.SettingError(description: "HERALD_CHAT_STORE_TIMEOUT must be at least 1 ms") }
            storeTimeout = .milliseconds(ms)
        }
    }
}
