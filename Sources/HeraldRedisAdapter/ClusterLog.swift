import NIOCore

/// The cluster-wide event log behind connection state recovery: Redis streams in production, memory in tests.
///
/// Offsets are opaque strings, totally ordered by the log. Appending and publishing happen in one step so
/// every node receives the event together with its offset: the published message is the text
/// `H2<offset>\n` followed by the entry.
public protocol ClusterLog: Sendable {
    /// Appends `entry`, keeps no more than `maxAge` of history, publishes `H2<offset>\n<entry>` on `channel`,
    /// and completes with the offset. Not async on purpose: calls made one after another take effect in that
    /// order (pipelined on one connection), so a node's broadcasts keep their order in the log and on the wire.
    func appendAndPublish(log: String, entry: ByteBuffer, channel: String, maxAge: Duration) -> EventLoopFuture<String>
    /// The entries after `offset`, oldest first; nil when the log no longer holds all of them or does not
    /// know the offset (another epoch: the log was lost and started again).
    func entries(log: String, after offset: String) async throws -> [(offset: String, entry: ByteBuffer)]?
    /// The entries after `offset`, oldest first, when `offset` is `floor` or an entry the log issued after `floor`
    /// (recovery honours only an offset from the session's own life); nil otherwise, or when the log no longer
    /// holds all of them. Reads only what follows `offset`, however long ago `floor` was.
    func entries(log: String, after offset: String, issuedSince floor: String) async throws -> [(offset: String, entry: ByteBuffer)]?
    /// The offset of the newest entry (or the empty log's start).
    func currentOffset(log: String) async throws -> String
    func saveSession(log: String, pid: String, session: ByteBuffer, ttl: Duration) async throws
    /// Returns the session and forgets it (a session is recovered once).
    func takeSession(log: String, pid: String) async throws -> ByteBuffer?
}

extension ClusterLog {
    /// Reads everything after `floor` and looks for `offset` in it: right for any log, costly for a long one.
    public func entries(log: String, after offset: String, issuedSince floor: String) async throws -> [(offset: String, entry: ByteBuffer)]? {
        guard let since = try await entries(log: log, after: floor) else { return nil }
        if offset == floor { return since }
        guard let seen = since.firstIndex(where: { $0.offset == offset }) else { return nil }
        return Array(since[(seen + 1)...])
    }
}
