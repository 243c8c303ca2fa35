import HeraldTesting
import NIOCore
import NIOEmbedded
import Testing
@testable import HeraldRedis

/// Counts flushes reaching the socket, to check that a burst of writes leaves in one flush.
private final class FlushCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var flushes = 0
    func flush(context: ChannelHandlerContext) {
        flushes += 1
        context.flush()
    }
}

@Suite struct RedisChannelHandlerTests {
    private func makeChannel(
        timeout: TimeAmount = .seconds(5),
        onMessage: RedisChannelHandler.MessageHandler? = nil
    ) throws -> (EmbeddedChannel, FlushCounter) {
        let counter = FlushCounter()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder()))
        try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(commandTimeout: timeout, onMessage: onMessage))
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 6379)).wait()
        return (channel, counter)
    }

    private func send(_ channel: EmbeddedChannel, _ command: RedisCommand) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        channel.write(RedisRequest(command: command, promise: promise), promise: nil)
        return promise.futureResult
    }

    private func outbound(_ channel: EmbeddedChannel) throws -> String {
        var all = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { all += String(buffer: buffer) }
        return all
    }

    @Test func pipelinedRepliesMatchInOrderAndShareOneFlush() throws {
        let (channel, counter) = try makeChannel()
        let a = send(channel, RedisCommand("GET", "a"))
        let b = send(channel, RedisCommand("INCR", "b"))
        let c = send(channel, RedisCommand("PING"))
        #expect(try outbound(channel) == "")  // nothing flushed until the loop tick ends
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == 1)
        #expect(try outbound(channel)
                == "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$4\r\nINCR\r\n$1\r\nb\r\n*1\r\n$4\r\nPING\r\n")
        // All three replies in one read, the last split across two reads.
        try channel.writeInbound(ByteBuffer(string: "$1\r\nx\r\n:7\r\n+PO"))
        #expect(try a.wait() == .bulkString("x"))
        #expect(try b.wait() == .integer(7))
        try channel.writeInbound(ByteBuffer(string: "NG\r\n"))
        #expect(try c.wait() == .simpleString("PONG"))
        _ = try channel.finish()
    }

    @Test func errorReplyFailsOnlyItsCommand() throws {
        let (channel, _) = try makeChannel()
        let a = send(channel, RedisCommand("INCR", "s"))
        let b = send(channel, RedisCommand("PING"))
        channel.embeddedEventLoop.run()
        try channel.writeInbound(ByteBuffer(string: "-ERR value is not an integer or out of range\r\n+PONG\r\n"))
        #expect(throws: RedisServerError(message: "ERR value is not an integer or out of range")) { try a.wait() }
        do { _ = try a.wait() } catch let error as RedisServerError { #expect(error.code == "ERR") }
        #expect(try b.wait() == .simpleString("PONG"))
        _ = try channel.finish()
    }

    @Test func closeFailsEverythingInFlight() throws {
        let (channel, _) = try makeChannel()
        let a = send(channel, RedisCommand("PING"))
        channel.embeddedEventLoop.run()
        try channel.close().wait()
        #expect(throws: RedisError.connectionClosed) { try a.wait() }
        let late = RedisConnection(channel: channel).sendFuture(RedisCommand("PING"))
        #expect(throws: RedisError.connectionClosed) { try late.wait() }
    }

    @Test func timeoutFailsPendingAndClosesTheConnection() throws {
        let (channel, _) = try makeChannel(timeout: .seconds(2))
        let a = send(channel, RedisCommand("PING"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        let b = send(channel, RedisCommand("PING"))
        try channel.writeInbound(ByteBuffer(string: "+PONG\r\n"))
        #expect(try a.wait() == .simpleString("PONG"))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1500))  // a's deadline passed, b's not yet
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(throws: RedisError.commandTimeout) { try b.wait() }
        #expect(!channel.isActive)
    }

    @Test func malformedReplyFailsPendingWithTheDecodingError() throws {
        let (channel, _) = try makeChannel()
        let a = send(channel, RedisCommand("PING"))
        channel.embeddedEventLoop.run()
        _ = try? channel.writeInbound(ByteBuffer(string: "?\r\n"))
        #expect(throws: RESPDecodingError.invalidTypeByte(UInt8(ascii: "?"))) { try a.wait() }
        #expect(!channel.isActive)
    }

    @Test func subscriberModeRoutesMessagesAndCountsConfirmations() throws {
        final class Box: @unchecked Sendable { var messages: [String] = []; var confirmed = false }
        let box = Box()
        let (channel, _) = try makeChannel(onMessage: { ch, pattern, payload in
            box.messages.append("\(ch)|\(pattern ?? "-")|\(String(buffer: payload))")
        })
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        channel.write(RedisRequest(command: RedisCommand("SUBSCRIBE", "a", "b"), promise: promise,
                                   confirmationKind: "subscribe", expectedReplies: 2), promise: nil)
        promise.futureResult.whenComplete { _ in box.confirmed = true }
        channel.embeddedEventLoop.run()
        var replies = ByteBuffer()
        RESPEncoder.write(.array(["subscribe", "a", 1]), into: &replies)
        RESPEncoder.write(.array(["message", "a", "early"]), into: &replies)
        try channel.writeInbound(replies)
        #expect(!box.confirmed)  // one of two confirmations so far
        replies.clear()
        RESPEncoder.write(.array(["subscribe", "b", 2]), into: &replies)
        RESPEncoder.write(.array(["pmessage", "r*", "room1", "hi"]), into: &replies)
        RESPEncoder.write(.array(["smessage", "s", "sharded"]), into: &replies)
        try channel.writeInbound(replies)
        #expect(try promise.futureResult.wait() == .array(["subscribe", "b", 2]))
        #expect(box.messages == ["a|-|early", "room1|r*|hi", "s|-|sharded"])
        _ = try channel.finish()
    }
}
