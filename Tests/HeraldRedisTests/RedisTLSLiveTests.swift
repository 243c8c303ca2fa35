import HeraldTesting
import NIOCore
import NIOPosix
import Testing
@testable import HeraldRedis

/// Redis over TLS against a redis-server started with certificates this suite generates with `openssl`.
@Suite(.serialized, .enabled(if: RedisServerProcess.liveTestsEnabled, "redis-server not on PATH (set CI to make this fail)"))
struct RedisTLSLiveTests {
    let eventLoop = MultiThreadedEventLoopGroup.singleton.any()

    @Test func commandsAndPubSubOverTLS() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let server = try await RedisServerProcess.start(certificates: certificates)
        let got = Inbox<String>()
        let subscriber = RedisSubscriber(configuration: server.configuration, eventLoop: eventLoop) { _, _, payload in
            got.push(String(buffer: payload))
        }
        try await subscriber.connect()
        try await subscriber.subscribe("room")
        let client = RedisClient(configuration: server.configuration, eventLoop: eventLoop)
        try await client.connect()
        _ = try await client.send("SET", "k", "v")
        #expect(try await client.send("GET", "k").string == "v")
        #expect(try await client.publish("room", message: ByteBuffer(string: "over tls")) == 1)
        #expect(try await got.next() == "over tls")
        // The same URL form a deployment uses.
        var fromURL = try RedisConfiguration(url: "rediss://localhost:\(server.port)")
        fromURL.tls?.caFile = certificates.caFile
        let named = try await RedisConnection.connect(configuration: fromURL, eventLoop: eventLoop)
        #expect(try await named.send("PING") == .simpleString("PONG"))
        try await named.close()
        await subscriber.close()
        await client.close()
    }

    @Test func refusesAServerItCannotVerify() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let server = try await RedisServerProcess.start(certificates: certificates)
        var config = server.configuration
        config.tls = RedisTLSConfiguration()  // system roots: the test CA is unknown
        await #expect(throws: (any Error).self) { _ = try await RedisConnection.connect(configuration: config, eventLoop: eventLoop) }
        // A certificate from the trusted CA passes with a server name it carries.
        config.tls = RedisTLSConfiguration(caFile: certificates.caFile, serverName: "localhost")
        let named = try await RedisConnection.connect(configuration: config, eventLoop: eventLoop)
        #expect(try await named.send("PING") == .simpleString("PONG"))
        try await named.close()
        // Plain RESP to a TLS port never gets a reply it could take for one.
        config.tls = nil
        config.commandTimeout = .milliseconds(500)
        await #expect(throws: (any Error).self) {
            let connection = try await RedisConnection.connect(configuration: config, eventLoop: eventLoop)
            _ = try await connection.send("PING")
        }
    }

    @Test func clientCertificateWhenTheServerRequiresOne() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let server = try await RedisServerProcess.start(certificates: certificates)
        // A second server on the same certificates that requires client certificates.
        let strict = try await RedisServerProcess.start(["--tls-auth-clients", "yes"], certificates: certificates)
        _ = server
        var config = strict.configuration
        config.commandTimeout = .seconds(2)
        await #expect(throws: (any Error).self) {
            let connection = try await RedisConnection.connect(configuration: config, eventLoop: eventLoop)
            _ = try await connection.send("PING")
        }
        config.tls?.certificateFile = certificates.clientCertificateFile
        config.tls?.keyFile = certificates.clientKeyFile
        let connection = try await RedisConnection.connect(configuration: config, eventLoop: eventLoop)
        #expect(try await connection.send("PING") == .simpleString("PONG"))
        try await connection.close()
        config.tls?.keyFile = nil
        await #expect(throws: RedisConfigurationError.tlsIncomplete) {
            _ = try await RedisConnection.connect(configuration: config, eventLoop: eventLoop)
        }
    }
}
