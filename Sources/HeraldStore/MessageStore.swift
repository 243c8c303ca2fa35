/// Where chat messages live. Implementations: `SQLiteMessageStore` (embedded default) and
/// `PostgresMessageStore`; both pass the same conformance suite (Tests/HeraldStoreTests).
public protocol MessageStore: Sendable {
    /// Creates the schema or brings it to the current version. Safe to call again and from several nodes at once.
    func migrate() async throws
    /// Stores a message, or returns the earlier one with the same (room, sender, client id).
    func append(_ message: NewMessage) async throws -> AppendResult
    /// The newest `limit` messages of `room` older than the message `before` (all when nil), oldest first.
    func page(room: String, before: Int64?, limit: Int) async throws -> MessagePage
    /// Releases connections; the store is unusable afterwards.
    func close() async throws
}

/// The schema version this code writes; `migrate()` applies every step up to it.
public let messageStoreSchemaVersion = 1

/// Thrown by the stores for problems of their own (bad URL, a store used after close, unexpected rows).
public struct MessageStoreError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
