import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Messages in PostgreSQL through postgres-nio's pooled `PostgresClient`. While the server is away every call
/// throws (after the pool gives up waiting); once it is back the pool reconnects by itself, so callers never
/// need to rebuild the store.
public final class PostgresMessageStore: MessageStore {
    let client: PostgresClient
    let logger: Logger
    private let runner: Mutex<Task<Void, Never>?>
    private let migrated = Mutex(false)

    /// Starts the pool (no connection is made until the first call).
    public init(location: MessageStoreLocation.PostgresLocation, maximumConnections: Int = 8, logger: Logger) throws {
        let tls: PostgresClient.Configuration.TLS
        switch location.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.username,
            password: location.password, database: location.database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        // A chat send waits at most this long for a connection before its ack says the store is unavailable.
        configuration.options.connectTimeout = .seconds(3)
        self.logger = logger
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.runner = Mutex(Task { await client.run() })
    }

    public func migrate() async throws {
        if migrated.withLock({ $0 }) { return }
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            // One node migrates at a time; the lock ends with the transaction. DDL is transactional here,
            // so a failed step leaves the schema as it was.
            _ = try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger).collect()
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS herald_schema_migrations (
                    version INTEGER PRIMARY KEY,
                    applied_at_ms BIGINT NOT NULL
                )
                """, logger: logger)
            var current = 0
            for try await version in try await connection.query(
                "SELECT COALESCE(MAX(version), 0) FROM herald_schema_migrations", logger: logger
            ).decode(Int.self) {
                current = version
            }
            guard current <= messageStoreSchemaVersion else {
                throw MessageStoreError("database schema version \(current) is newer than this herald (\(messageStoreSchemaVersion))")
            }
            for (index, step) in Self.migrations.enumerated() where index + 1 > current {
                for statement in step {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                let version = index + 1
                try await connection.query(
                    "INSERT INTO herald_schema_migrations (version, applied_at_ms) VALUES (\(version), \(wallClockMilliseconds()))",
                    logger: logger)
                logger.info("message store migrated", metadata: ["store": "postgres", "version": "\(version)"])
            }
        }
        migrated.withLock { $0 = true }
    }

    /// An arbitrary constant naming herald's migration lock among the database's advisory locks.
    static let migrationLock: Int64 = 0x4845_5241_4C44  // "HERALD"

    /// Step n (1-based) brings the schema to version n. Never edit a released step: add one.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE herald_messages (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                room TEXT NOT NULL,
                sender TEXT NOT NULL,
                body TEXT NOT NULL,
                client_message_id TEXT,
                created_at_ms BIGINT NOT NULL
            )
            """,
            "CREATE INDEX herald_messages_room_id ON herald_messages (room, id)",
            // NULLs are distinct: messages without a client id never collide.
            "CREATE UNIQUE INDEX herald_messages_client_id ON herald_messages (room, sender, client_message_id)",
        ],
    ]

    public func append(_ message: NewMessage) async throws -> AppendResult {
        // The schema may not exist yet when the server was down at start.
        try await migrate()
        let inserted = try await client.query("""
            INSERT INTO herald_messages (room, sender, body, client_message_id, created_at_ms)
            VALUES (\(message.room), \(message.sender), \(message.text), \(message.clientMessageID), \(message.timeMilliseconds))
            ON CONFLICT (room, sender, client_message_id) DO NOTHING
            RETURNING id
            """, logger: logger).collect()
        if let row = inserted.first {
            return .created(message.stored(id: try row.decode(Int64.self)))
        }
        guard let clientMessageID = message.clientMessageID else {
            throw MessageStoreError("insert returned no id")
        }
        // DO NOTHING waited for a concurrent insert of the same key to commit, so this sees it.
        let rows = try await client.query("""
            SELECT id, room, sender, body, client_message_id, created_at_ms FROM herald_messages
            WHERE room = \(message.room) AND sender = \(message.sender) AND client_message_id = \(clientMessageID)
            """, logger: logger).collect()
        guard let row = rows.first else { throw MessageStoreError("conflicting message not found") }
        return .existing(try Self.decode(row))
    }

    public func page(room: String, before: Int64?, limit: Int) async throws -> MessagePage {
        precondition(limit > 0, "limit must be positive")
        try await migrate()
        // One more than asked tells whether an older page exists, without a COUNT.
        let rows = try await client.query("""
            SELECT id, room, sender, body, client_message_id, created_at_ms FROM herald_messages
            WHERE room = \(room) AND id < \(before ?? Int64.max)
            ORDER BY id DESC LIMIT \(limit + 1)
            """, logger: logger).collect()
        var messages = try rows.prefix(limit).map(Self.decode)
        let next = rows.count > limit ? messages.last?.id : nil
        messages.reverse()
        return MessagePage(messages: messages, next: next)
    }

    public func close() async throws {
        let task = runner.withLock { task in defer { task = nil }; return task }
        task?.cancel()
        await task?.value
    }

    static func decode(_ row: PostgresRow) throws -> StoredMessage {
        let (id, room, sender, body, clientID, time) = try row.decode((Int64, String, String, String, String?, Int64).self)
        return StoredMessage(id: id, room: room, sender: sender, text: body, timeMilliseconds: time, clientMessageID: clientID)
    }
}
