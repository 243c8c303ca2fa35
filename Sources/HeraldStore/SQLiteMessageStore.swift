import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import Synchronization

/// Messages in an SQLite file (or in memory), through sqlite-nio. One connection: SQLite serialises writers
/// anyway, and sqlite-nio opens it in serialized (full mutex) mode, so concurrent callers are safe.
public final class SQLiteMessageStore: MessageStore {
    let connection: SQLiteConnection
    let logger: Logger
    private let migrated = Mutex(false)

    private init(connection: SQLiteConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Opens (creating when missing) the database; call `migrate()` before use.
    public static func open(memory: Bool = false, path: String? = nil, logger: Logger) async throws -> SQLiteMessageStore {
        let storage: SQLiteConnection.Storage = memory || path == nil ? .memory : .file(path: path!)
        let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        do {
            // First: another process (a second node on the same file) may hold the lock the pragmas below need.
            _ = try await connection.query("PRAGMA busy_timeout=5000")
            if case .file = storage {
                // WAL lets history reads run while a message is written; FULL syncs each commit, so an
                // acknowledged message survives a power loss too (NORMAL would only survive a crash).
                _ = try await connection.query("PRAGMA journal_mode=WAL")
                _ = try await connection.query("PRAGMA synchronous=FULL")
            }
        } catch {
            try? await connection.close()
            throw error
        }
        return SQLiteMessageStore(connection: connection, logger: logger)
    }

    public func migrate() async throws {
        if migrated.withLock({ $0 }) { return }
        _ = try await connection.query("""
            CREATE TABLE IF NOT EXISTS herald_schema_migrations (
                version INTEGER PRIMARY KEY,
                applied_at_ms INTEGER NOT NULL
            )
            """)
        // IMMEDIATE takes the write lock first, so two processes cannot both apply the same step.
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            let rows = try await connection.query("SELECT COALESCE(MAX(version), 0) AS version FROM herald_schema_migrations")
            let current = Int(rows.first?.column("version")?.integer ?? 0)
            guard current <= messageStoreSchemaVersion else {
                throw MessageStoreError("database schema version \(current) is newer than this herald (\(messageStoreSchemaVersion))")
            }
            for (index, step) in Self.migrations.enumerated() where index + 1 > current {
                for statement in step { _ = try await connection.query(statement) }
                _ = try await connection.query(
                    "INSERT INTO herald_schema_migrations (version, applied_at_ms) VALUES (?, ?)",
                    [.integer(index + 1), .integer(Int(wallClockMilliseconds()))])
                logger.info("message store migrated", metadata: ["store": "sqlite", "version": "\(index + 1)"])
            }
            _ = try await connection.query("COMMIT")
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
        migrated.withLock { $0 = true }
    }

    /// Step n (1-based) brings the schema to version n. Never edit a released step: add one.
    static let migrations: [[String]] = [
        [
            // AUTOINCREMENT: ids are never reused, even after deletes, because they are paging cursors.
            """
            CREATE TABLE herald_messages (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                room TEXT NOT NULL,
                sender TEXT NOT NULL,
                body TEXT NOT NULL,
                client_message_id TEXT,
                created_at_ms INTEGER NOT NULL
            )
            """,
            "CREATE INDEX herald_messages_room_id ON herald_messages (room, id)",
            // NULLs are distinct: messages without a client id never collide.
            "CREATE UNIQUE INDEX herald_messages_client_id ON herald_messages (room, sender, client_message_id)",
        ],
    ]

    public func append(_ message: NewMessage) async throws -> AppendResult {
        let clientID: SQLiteData = message.clientMessageID.map { .text($0) } ?? .null
        let inserted = try await connection.query("""
            INSERT INTO herald_messages (room, sender, body, client_message_id, created_at_ms)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (room, sender, client_message_id) DO NOTHING
            RETURNING id
            """,
            [.text(message.room), .text(message.sender), .text(message.text), clientID, .integer(Int(message.timeMilliseconds))])
        if let id = inserted.first?.column("id")?.integer {
            return .created(message.stored(id: Int64(id)))
        }
        guard let clientMessageID = message.clientMessageID else {
            throw MessageStoreError("insert returned no id")
        }
        let rows = try await connection.query("""
            SELECT id, room, sender, body, client_message_id, created_at_ms FROM herald_messages
            WHERE room = ? AND sender = ? AND client_message_id = ?
            """, [.text(message.room), .text(message.sender), .text(clientMessageID)])
        guard let row = rows.first else { throw MessageStoreError("conflicting message not found") }
        return .existing(try Self.decode(row))
    }

    public func page(room: String, before: Int64?, limit: Int) async throws -> MessagePage {
        precondition(limit > 0, "limit must be positive")
        // One more than asked tells whether an older page exists, without a COUNT.
        let rows = try await connection.query("""
            SELECT id, room, sender, body, client_message_id, created_at_ms FROM herald_messages
            WHERE room = ? AND id < ?
            ORDER BY id DESC LIMIT ?
            """, [.text(room), .integer(Int(before ?? Int64.max)), .integer(limit + 1)])
        var messages = try rows.prefix(limit).map(Self.decode)
        let next = rows.count > limit ? messages.last?.id : nil
        messages.reverse()
        return MessagePage(messages: messages, next: next)
    }

    public func close() async throws {
        try await connection.close()
    }

    static func decode(_ row: SQLiteRow) throws -> StoredMessage {
        guard let id = row.column("id")?.integer,
              let room = row.column("room")?.string,
              let sender = row.column("sender")?.string,
              let body = row.column("body")?.string,
              let time = row.column("created_at_ms")?.integer
        else { throw MessageStoreError("unexpected row \(row)") }
        let clientID = row.column("client_message_id").flatMap { $0.isNull ? nil : $0.string }
        return StoredMessage(id: Int64(id), room: room, sender: sender, text: body,
                             timeMilliseconds: Int64(time), clientMessageID: clientID)
    }
}

