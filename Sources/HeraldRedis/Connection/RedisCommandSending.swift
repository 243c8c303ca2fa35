import NIOCore

/// What `RedisConnection` and `RedisClient` share: the two primitives, and the commands built on them.
public protocol RedisCommandSending: Sendable {
    var eventLoop: EventLoop { get }
    /// Sends one command (pipelined with everything else in flight); the future is its reply.
    /// A server error reply fails the future with `RedisServerError`.
    func sendFuture(_ command: RedisCommand) -> EventLoopFuture<RESPValue>
    /// Sends all commands in one write; replies in order, server errors as `.error` values.
    func sendBatchFuture(_ commands: [RedisCommand]) -> EventLoopFuture<[RESPValue]>
}

extension RedisCommandSending {
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try await sendFuture(command).get()
    }

    public func send(_ name: String, _ arguments: String...) async throws -> RESPValue {
        try await sendFuture(RedisCommand(name, arguments: arguments)).get()
    }

    public func send(batch commands: [RedisCommand]) async throws -> [RESPValue] {
        try await sendBatchFuture(commands).get()
    }

    /// `PUBLISH`; returns how many subscribers (on this node of a cluster) received it.
    public func publish(_ channel: String, message: ByteBuffer) async throws -> Int {
        try await publishFuture(channel, message: message).get()
    }

    /// `SPUBLISH` (Redis 7): sharded pub/sub.
    public func spublish(_ channel: String, message: ByteBuffer) async throws -> Int {
        try await spublishFuture(channel, message: message).get()
    }

    /// Fire-and-forget `SPUBLISH`, like `publishFuture`.
    @discardableResult
    public func spublishFuture(_ channel: String, message: ByteBuffer) -> EventLoopFuture<Int> {
        Self.receiverCount(sendFuture(RedisCommand.publish("SPUBLISH", channel: channel, message: message)))
    }

    /// Fire-and-forget `PUBLISH` for high rates: no suspension, no task; the returned future
    /// (which may be ignored) reports the receiver count or the failure.
    @discardableResult
    public func publishFuture(_ channel: String, message: ByteBuffer) -> EventLoopFuture<Int> {
        Self.receiverCount(sendFuture(RedisCommand.publish("PUBLISH", channel: channel, message: message)))
    }

    /// Many `PUBLISH`es in one write and one await; receiver counts in order. Throws on the
    /// first failure (connection, timeout, or a server error reply).
    public func publish(batch messages: [(channel: String, message: ByteBuffer)]) async throws -> [Int] {
        let commands = messages.map { RedisCommand.publish("PUBLISH", channel: $0.channel, message: $0.message) }
        let replies = try await sendBatchFuture(commands).get()
        return try replies.map { reply in
            if case .error(let message) = reply { throw RedisServerError(message: message) }
            guard let count = reply.integer else { throw RedisError.unexpectedReply(reply) }
            return Int(count)
        }
    }

    /// `PING`, useful as a barrier: its reply arrives after every earlier command's.
    public func ping() async throws {
        _ = try await sendFuture(RedisCommand("PING")).get()
    }

    private static func receiverCount(_ reply: EventLoopFuture<RESPValue>) -> EventLoopFuture<Int> {
        reply.flatMapThrowing { value in
            guard let count = value.integer else { throw RedisError.unexpectedReply(value) }
            return Int(count)
        }
    }
}
