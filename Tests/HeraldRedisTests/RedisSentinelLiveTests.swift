import Foundation
import HeraldTesting
import NIOCore
import NIOPosix
import Testing
@testable import HeraldRedis

/// A primary, its replica and one sentinel, all started by the test; when the primary dies, the sentinel
/// promotes the replica and the client and the subscriber reach it by themselves.
@Suite(.serialized, .enabled(if: RedisServerProcess.liveTestsEnabled, "redis-server not on PATH (set CI to make this fail)"))
struct RedisSentinelLiveTests {
    let eventLoop = MultiThreadedEventLoopGroup.singleton.any()

    @Test func followsAFailover() async throws {
        let primary = try await RedisServerProcess.start()
        let replica = try await RedisServerProcess.start(["--replicaof", "127.0.0.1", "\(primary.port)"])
        let directory = NSTemporaryDirectory() + "herald-sentinel-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/sentinel.conf"
        try """
            sentinel monitor mymaster 127.0.0.1 \(primary.port) 1
            sentinel down-after-milliseconds mymaster 1000
            sentinel failover-timeout mymaster 5000
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let sentinel = try await RedisServerProcess.start([file, "--sentinel"])
        let sentinelEndpoint = RedisEndpoint(host: "127.0.0.1", port: sentinel.port)
        let locator = RedisSentinel(sentinels: [RedisEndpoint(host: "127.0.0.1", port: 1), sentinelEndpoint],
                                    masterName: "mymaster", configuration: primary.configuration)
        #expect(try await locator.primary(on: eventLoop).get() == RedisEndpoint(host: "127.0.0.1", port: primary.port))

        var configuration = primary.configuration
        configuration.port = 1  // never used: the sentinel says where the primary is
        let got = Inbox<String>()
        let subscriber = RedisSubscriber(configuration: configuration, eventLoop: eventLoop, sentinel: locator) { _, _, payload in
            got.push(String(buffer: payload))
        }
        try await subscriber.connect()
        try await subscriber.subscribe("events")
        let client = RedisClient(configuration: configuration, eventLoop: eventLoop, sentinel: locator)
        try await client.connect()
        #expect(try await client.publish("events", message: ByteBuffer(string: "before")) == 1)
        #expect(try await got.next() == "before")

        // The sentinel must have seen the replica (from the primary's INFO) before it can fail over to it.
        let admin = try await RedisConnection.connect(configuration: sentinel.configuration, eventLoop: eventLoop)
        let deadline = ContinuousClock.now + .seconds(10)
        while (try? await admin.send("SENTINEL", "REPLICAS", "mymaster"))?.elements?.isEmpty != false {
            guard ContinuousClock.now < deadline else { throw TestFailure("the sentinel never saw the replica") }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await admin.close()
        let started = ContinuousClock.now
        primary.kill()

        // Publishes until one reaches the subscriber through the promoted replica.
        var attempt = 0
        var resumed = false
        while !resumed && ContinuousClock.now - started < .seconds(10) {
            attempt += 1
            if let port = try? await client.send("CONFIG", "GET", "port").elements?[1].string, port == "\(replica.port)",
               (try? await client.publish("events", message: ByteBuffer(string: "after \(attempt)"))) == 1 {
                let expected = "after \(attempt)"
                resumed = (try? await got.next(within: .milliseconds(500)) { $0 == expected }) != nil
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(resumed, "client and subscriber did not follow the failover within 10 s")
        print("sentinel failover: publish/subscribe on the new primary \(ContinuousClock.now - started) after the primary was killed")
        await subscriber.close()
        await client.close()
        _ = sentinel
    }
}
