import Crypto
import HeraldRedis
import NIOCore

/// A Lua script run by `EVALSHA` (its SHA-1 computed here), so that a call sends 40 bytes instead of the source and
/// Redis does not hash the source again. When Redis answers `NOSCRIPT` (it restarted or failed over, or its script
/// cache was flushed), the call is sent again as `EVAL`, which runs the script and caches it for the next `EVALSHA`.
/// Immutable.
public struct RedisScript: Sendable {
    public let source: String
    /// Lowercase hex SHA-1 of `source`, as `SCRIPT LOAD` names it.
    public let sha: String

    public init(_ source: String) {
        self.source = source
        sha = WebhookSignature.hex(Insecure.SHA1.hash(data: Array(source.utf8)))
    }

    /// The script's reply, and whether it had to be sent whole. Commands sent after this one may have run before
    /// the resent one then, so a caller that depends on order puts its state right afterwards (see
    /// `PresenceTracker`).
    public func run(on client: any RedisCommandSending, keys: [String], arguments: [String]) -> EventLoopFuture<(reply: RESPValue, reloaded: Bool)> {
        let rest = [String(keys.count)] + keys + arguments
        return client.sendFuture(RedisCommand("EVALSHA", arguments: [sha] + rest)).map { (reply: $0, reloaded: false) }
            .flatMapError { error in
                guard let refused = error as? RedisServerError, refused.code == "NOSCRIPT" else {
                    return client.eventLoop.makeFailedFuture(error)
                }
                return client.sendFuture(RedisCommand("EVAL", arguments: [source] + rest)).map { (reply: $0, reloaded: true) }
            }
    }

    public func run(on client: any RedisCommandSending, keys: [String], arguments: [String]) async throws -> RESPValue {
        try await run(on: client, keys: keys, arguments: arguments).get().reply
    }
}
