import HeraldTesting
import NIOCore
import NIOPosix
import Testing
@testable import HeraldRedis

private struct Message: Sendable, Equatable {
    var channel: String
    var pattern: String?
    var payload: String
}

/// Against a real redis-server started per test (see `RedisServerProcess` for the skip rule).
@Suite(.serialized, .enabled(if: RedisServerProcess.liveTestsEnabled, "redis-server not on PATH (set CI to make this fail)"))
struct RedisLiveTests {
    let eventLoop = MultiThreadedEventLoopGroup.singleton.any()

    private func subscriber(
        _ server: RedisServerProcess,
        messages: Inbox<Message>,
        states: Inbox<RedisConnectionState>? = nil
    ) -> RedisSubscriber {
        RedisSubscriber(configuration: server.configuration, eventLoop: eventLoop, onStateChange: { states?.push($0) }) {
            channel, pattern, payload in
            messages.push(Message(channel: channel, pattern: pattern, payload: String(buffer: payload)))
        }
    }

    @Test func publishSubscribeRoundTrip() async throws {
        let server = try await RedisServerProcess.start()
        let messages = Inbox<Message>()
        let sub = subscriber(server, messages: messages)
        try await sub.connect()
        try await sub.subscribe("room:a", "room:b")
        let client = RedisClient(configuration: server.configuration, eventLoop: eventLoop)
        try await client.connect()
        #expect(try await client.publish("room:b", message: ByteBuffer(string: "hello")) == 1)
        #expect(try await messages.next() == Message(channel: "room:b", pattern: nil, payload: "hello"))

        // Reference counted: a second subscribe needs a second unsubscribe.
        try await sub.subscribe("room:a")
        try await sub.unsubscribe("room:a")
        #expect(try await client.publish("room:a", message: ByteBuffer(string: "still")) == 1)
        #expect(try await messages.next() == Message(channel: "room:a", pattern: nil, payload: "still"))
        try await sub.unsubscribe("room:a")
        #expect(try await client.publish("room:a", message: ByteBuffer(string: "gone")) == 0)

        // Binary payloads pass through untouched.
        let binary = ByteBuffer(bytes: [0, 13, 10, 255, 36])
        let got = Inbox<ByteBuffer>()
        let raw = RedisSubscriber(configuration: server.configuration, eventLoop: eventLoop) { _, _, payload in got.push(payload) }
        try await raw.connect()
        try await raw.subscribe("bin")
        #expect(try await client.publish("bin", message: binary) == 1)
        #expect(try await got.next() == binary)

        await raw.close()
        await sub.close()
        await client.close()
    }

    @Test func patternSubscription() async throws {
        let server = try await RedisServerProcess.start()
        let messages = Inbox<Message>()
        let sub = subscriber(server, messages: messages)
        try await sub.connect()
        try await sub.psubscribe("order:*")
        let client = RedisClient(configuration: server.configuration, eventLoop: eventLoop)
        try await client.connect()
        #expect(try await client.publish("order:42", message: ByteBuffer(string: "shipped")) == 1)
        #expect(try await messages.next() == Message(channel: "order:42", pattern: "order:*", payload: "shipped"))
        try await sub.punsubscribe("order:*")
        #expect(try await client.publish("order:43", message: ByteBuffer(string: "x")) == 0)
        await sub.close()
        await client.close()
    }

    @Test func shardedPubSub() async throws {
        let server = try await RedisServerProcess.start()
        let messages = Inbox<Message>()
        let sub = subscriber(server, messages: messages)
        try await sub.connect()
        try await sub.ssubscribe("shard:1", "shard:2")
        let client = RedisClient(configuration: server.configuration, eventLoop: eventLoop)
        try await client.connect()
        #expect(try await client.spublish("shard:2", message: ByteBuffer(string: "s")) == 1)
        #expect(try await messages.next() == Message(channel: "shard:2", pattern: nil, payload: "s"))
        try await sub.sunsubscribe("shard:2")
        #expect(try await client.spublish("shard:2", message: ByteBuffer(string: "t")) == 0)
        await sub.close()
        await client.close()
    }

    @Test func authFromURL() async throws {
        let server = try await RedisServerProcess.start(["--requirepass", "s3cret"], password: "s3cret")
        let good = try RedisConfiguration(url: "redis://:s3cret@127.0.0.1:\(server.port)")
        let client = RedisClient(configuration: good, eventLoop: eventLoop)
        try await client.connect()
        #expect(try await client.send("PING") == .simpleString("PONG"))
        await client.close()

        let bad = try RedisConfiguration(url: "redis://default:wrong@127.0.0.1:\(server.port)")
        do {
            _ = try await RedisConnection.connect(configuration: bad, eventLoop: eventLoop)
            Issue.record("AUTH with a wrong password succeeded")
        } catch let error as RedisServerError {
            #expect(error.code == "WRONGPASS")
        }

        let none = try RedisConfiguration(url: "redis://127.0.0.1:\(server.port)")
        let unauthenticated = try await RedisConnection.connect(configuration: none, eventLoop: eventLoop)
        await #expect(throws: RedisServerError.self) { try await unauthenticated.send("GET", "k") }
        try await unauthenticated.close()

        // The subscriber authenticates too.
        let messages = Inbox<Message>()
        let sub = RedisSubscriber(configuration: good, eventLoop: eventLoop) { c, p, b in
            messages.push(Message(channel: c, pattern: p, payload: String(buffer: b)))
        }
        try await sub.connect()
        try await sub.subscribe("secure")
        let publisher = try await RedisConnection.connect(configuration: good, eventLoop: eventLoop)
        #expect(try await publisher.publish("secure", message: ByteBuffer(string: "ok")) == 1)
        #expect(try await messages.next().payload == "ok")
        try await publisher.close()
        await sub.close()
    }

    @Test func selectDatabaseFromURL() async throws {
        let server = try await RedisServerProcess.start()
        var db3 = try RedisConfiguration(url: "redis://127.0.0.1:\(server.port)/3")
        db3.commandTimeout = .seconds(10)
        let client = RedisClient(configuration: db3, eventLoop: eventLoop)
        try await client.connect()
        #expect(try await client.send("SET", "k", "in-db-3") == .simpleString("OK"))
        #expect(try await client.send("GET", "k").string == "in-db-3")
        let db0 = try await RedisConnection.connect(configuration: server.configuration, eventLoop: eventLoop)
        #expect(try await db0.send("GET", "k") == .bulkString(nil))
        #expect(try await db0.send("SELECT", "3") == .simpleString("OK"))
        #expect(try await db0.send("GET", "k").string == "in-db-3")
        try await db0.close()
        await client.close()
    }

    @Test func tenThousandPipelinedCommandsInOrder() async throws {
        let server = try await RedisServerProcess.start()
        let connection = try await RedisConnection.connect(configuration: server.configuration, eventLoop: eventLoop)
        // Individually sent, all in flight at once: each reply must come back to its own command.
        let futures = (0..<10_000).map { connection.sendFuture(RedisCommand("ECHO", "m\($0)")) }
        for (i, future) in futures.enumerated() {
            #expect(try await future.get().string == "m\(i)")
        }
        // As one batch, with a server error in the middle that must not shift the rest.
        var batch = (0..<10_000).map { _ in RedisCommand("INCR", "counter") }
        batch[5000] = RedisCommand("INCR", "no", "such", "arity")
        let replies = try await connection.send(batch: batch)
        #expect(replies.count == 10_000)
        if case .error(let message) = replies[5000] { #expect(message.hasPrefix("ERR")) } else { Issue.record("no error at 5000") }
        let counts = replies.enumerated().filter { $0.offset != 5000 }.map { $0.element.integer }
        #expect(counts == (1...9_999).map { Int64($0) })
        try await connection.close()
    }

    @Test func redisRestartResubscribesAndPublishFailsClearlyDuringOutage() async throws {
        let server = try await RedisServerProcess.start()
        let messages = Inbox<Message>()
        let subStates = Inbox<RedisConnectionState>()
        let sub = subscriber(server, messages: messages, states: subStates)
        try await sub.connect()
        try await sub.subscribe("before")
        try await sub.psubscribe("p:*")
        try await sub.ssubscribe("s:1")
        let clientStates = Inbox<RedisConnectionState>()
        let client = RedisClient(configuration: server.configuration, eventLoop: eventLoop, onStateChange: { clientStates.push($0) })
        try await client.connect()
        #expect(try await client.publish("before", message: ByteBuffer(string: "1")) == 1)
        #expect(try await messages.next().payload == "1")

        server.kill()
        _ = try await subStates.next { if case .reconnecting = $0 { true } else { false } }
        _ = try await clientStates.next { if case .reconnecting = $0 { true } else { false } }
        await #expect(throws: RedisError.notConnected) {
            try await client.publish("before", message: ByteBuffer(string: "lost"))
        }
        // Subscribing during the outage is recorded and applied by the resubscribe.
        try await sub.subscribe("during")

        try await server.launch()
        _ = try await subStates.next { $0 == .connected }
        _ = try await clientStates.next { $0 == .connected }
        #expect(try await client.publish("before", message: ByteBuffer(string: "2")) == 1)
        #expect(try await messages.next() == Message(channel: "before", pattern: nil, payload: "2"))
        #expect(try await client.publish("during", message: ByteBuffer(string: "3")) == 1)
        #expect(try await messages.next() == Message(channel: "during", pattern: nil, payload: "3"))
        #expect(try await client.publish("p:x", message: ByteBuffer(string: "4")) == 1)
        #expect(try await messages.next() == Message(channel: "p:x", pattern: "p:*", payload: "4"))
        #expect(try await client.spublish("s:1", message: ByteBuffer(string: "5")) == 1)
        #expect(try await messages.next() == Message(channel: "s:1", pattern: nil, payload: "5"))

        await sub.close()
        await client.close()
        #expect(try await sub.state == .closed)
        await #expect(throws: RedisError.notConnected) { try await client.send("PING") }
    }

    @Test func connectionRefusedIsAnErrorNotAHang() async throws {
        let server = try await RedisServerProcess.start()
        let config = server.configuration
        server.kill()
        await #expect(throws: (any Error).self) {
            _ = try await RedisConnection.connect(configuration: config, eventLoop: eventLoop)
        }
    }
}
