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

    /// A primary, a replica and one sentinel that already saw the replica (it must have, to fail over to it).
    struct Setup {
        let primary: RedisServerProcess
        let replica: RedisServerProcess
        let sentinel: RedisServerProcess
        let directory: String
        let certificates: TestCertificates?
        var locator: RedisSentinel {
            RedisSentinel(sentinels: [RedisEndpoint(host: "127.0.0.1", port: 1), RedisEndpoint(host: "127.0.0.1", port: sentinel.port)],
                          masterName: "mymaster", configuration: primary.configuration)
        }
        /// Never used for connecting: the sentinel says where the primary is.
        var configuration: RedisConfiguration {
            var configuration = primary.configuration
            configuration.port = 1
            return configuration
        }
    }

    /// With `certificates`, everything speaks TLS only: clients, replication, and the sentinel to the servers and
    /// to its clients (outgoing connections present the client certificate; the server one is for serverAuth only).
    func setUp(eventLoop: any EventLoop, certificates: TestCertificates? = nil) async throws -> Setup {
        let outgoing = certificates.map { ["--tls-replication", "yes", "--tls-client-cert-file", $0.clientCertificateFile,
                                           "--tls-client-key-file", $0.clientKeyFile] } ?? []
        let primary = try await RedisServerProcess.start(outgoing, certificates: certificates)
        let replica = try await RedisServerProcess.start(["--replicaof", "127.0.0.1", "\(primary.port)"] + outgoing, certificates: certificates)
        // The sentinel reads a replica's INFO every 10 s: it must first see this one in sync, or it finds no
        // replica good enough to promote until its next look.
        let replicaConnection = try await RedisConnection.connect(configuration: replica.configuration, eventLoop: eventLoop)
        let synced = ContinuousClock.now + .seconds(10)
        while try await replicaConnection.send("ROLE").elements?[3].string != "connected" {
            guard ContinuousClock.now < synced else { throw TestFailure("the replica never synced") }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await replicaConnection.close()
        let directory = NSTemporaryDirectory() + "herald-sentinel-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/sentinel.conf"
        try """
            sentinel monitor mymaster 127.0.0.1 \(primary.port) 1
            sentinel down-after-milliseconds mymaster 1000
            sentinel failover-timeout mymaster 5000
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let sentinel = try await RedisServerProcess.start([file, "--sentinel"] + outgoing, certificates: certificates)
        let admin = try await RedisConnection.connect(configuration: sentinel.configuration, eventLoop: eventLoop)
        let deadline = ContinuousClock.now + .seconds(10)
        while (try? await admin.send("SENTINEL", "REPLICAS", "mymaster"))?.elements?.isEmpty != false {
            guard ContinuousClock.now < deadline else { throw TestFailure("the sentinel never saw the replica") }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await admin.close()
        return Setup(primary: primary, replica: replica, sentinel: sentinel, directory: directory, certificates: certificates)
    }

    @Test func followsAFailover() async throws {
        let setup = try await setUp(eventLoop: eventLoop)
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        let (primary, replica, locator) = (setup.primary, setup.replica, setup.locator)
        #expect(try await locator.primary(on: eventLoop).get() == RedisEndpoint(host: "127.0.0.1", port: primary.port))

        let configuration = setup.configuration
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
        withExtendedLifetime(setup) {}  // the servers stop when it goes
    }

    /// `SENTINEL FAILOVER` leaves the old primary running and answering as a primary (Sentinel demotes it some
    /// 10 s later): two nodes' clients and subscribers move to the promoted replica on `+switch-master`, and
    /// every message published after the move reaches both. All on TLS.
    @Test func followsAForcedFailoverWithTheOldPrimaryUpOverTLS() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let setup = try await setUp(eventLoop: eventLoop, certificates: certificates)
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        struct Node {
            let client: RedisClient
            let subscriber: RedisSubscriber
            let got: Inbox<String>
        }
        var nodes: [Node] = []
        for _ in 0..<2 {
            let locator = setup.locator  // one monitor per node, as each node makes its own
            let got = Inbox<String>()
            let subscriber = RedisSubscriber(configuration: setup.configuration, eventLoop: eventLoop, sentinel: locator) { _, _, payload in
                got.push(String(buffer: payload))
            }
            try await subscriber.connect()
            try await subscriber.subscribe("events")
            let client = RedisClient(configuration: setup.configuration, eventLoop: eventLoop, sentinel: locator)
            try await client.connect()
            nodes.append(Node(client: client, subscriber: subscriber, got: got))
        }
        let admin = try await RedisConnection.connect(configuration: setup.sentinel.configuration, eventLoop: eventLoop)
        var started = ContinuousClock.now
        // Sentinel answers NOGOODSLAVE until its periodic INFO has seen the replica's link up: ask again until then.
        var reply: RESPValue?
        while reply == nil {
            do {
                reply = try await admin.send("SENTINEL", "FAILOVER", "mymaster")
            } catch where "\(error)".contains("NOGOODSLAVE") && ContinuousClock.now - started < .seconds(15) {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(reply == .simpleString("OK"))
        started = ContinuousClock.now
        try await admin.close()

        // Resumed once each node's publish reaches the other through the promoted replica.
        var attempt = 0
        var resumed = false
        while !resumed && ContinuousClock.now - started < .seconds(8) {
            attempt += 1
            var both = true
            for (index, node) in nodes.enumerated() {
                let probe = "probe \(attempt) from \(index)"
                guard (try? await node.client.send("CONFIG", "GET", "tls-port").elements?[1].string) == "\(setup.replica.port)",
                      (try? await node.client.publish("events", message: ByteBuffer(string: probe))) == 2,
                      (try? await nodes[1 - index].got.next(within: .milliseconds(300)) { $0 == probe }) != nil
                else { both = false; break }
            }
            resumed = both
            if !resumed { try await Task.sleep(for: .milliseconds(50)) }
        }
        let gap = ContinuousClock.now - started
        #expect(resumed, "the nodes did not follow the forced failover within 8 s")
        print("sentinel forced failover: both nodes on the new primary \(gap) after SENTINEL FAILOVER")
        // The old primary is still up and still a primary: only the sentinel's event moved the nodes.
        let old = try await RedisConnection.connect(configuration: setup.primary.configuration, eventLoop: eventLoop)
        #expect(try await old.send("ROLE").elements?.first?.string == "master")
        try await old.close()

        for number in 0..<50 {
            for (index, node) in nodes.enumerated() {
                #expect(try await node.client.publish("events", message: ByteBuffer(string: "after \(number) from \(index)")) == 2)
            }
        }
        for node in nodes {
            for number in 0..<50 {
                for index in 0..<2 {
                    let expected = "after \(number) from \(index)"
                    _ = try await node.got.next(within: .seconds(2)) { $0 == expected }
                }
            }
        }
        for node in nodes {
            await node.subscriber.close()
            await node.client.close()
        }
        withExtendedLifetime(setup) {}
    }
}

/// The `+switch-master` event is read from a server: anything but this master's well-formed event is ignored.
struct RedisSentinelEventTests {
    @Test func readsOnlyThisMastersWellFormedSwitch() {
        func switched(_ text: String) -> RedisEndpoint? {
            RedisSentinelMonitor.switched(ByteBuffer(string: text), masterName: "mymaster")
        }
        #expect(switched("mymaster 127.0.0.1 6379 10.0.0.2 6380") == RedisEndpoint(host: "10.0.0.2", port: 6380))
        #expect(switched("other 127.0.0.1 6379 10.0.0.2 6380") == nil)
        #expect(switched("mymaster 127.0.0.1 6379 10.0.0.2 70000") == nil)
        #expect(switched("mymaster 127.0.0.1 6379 10.0.0.2 99999999999999999999") == nil)
        #expect(switched("mymaster 127.0.0.1 6379 10.0.0.2") == nil)
        #expect(switched("mymaster 127.0.0.1 6379 10.0.0.2 6380 extra") == nil)
        #expect(switched("mymaster 1 2 " + String(repeating: "h", count: 256) + " 6380") == nil)
        #expect(switched("mymaster 1 2 h " + String(repeating: "1", count: 2000)) == nil)
    }
}
