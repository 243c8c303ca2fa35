import HeraldTesting
import Testing
@testable import HeraldRedis

@Suite struct RedisConfigurationTests {
    @Test func documentedDefaults() {
        let c = RedisConfiguration()
        #expect(c.host == "127.0.0.1")
        #expect(c.port == 6379)
        #expect(c.username == nil)
        #expect(c.password == nil)
        #expect(c.database == 0)
        #expect(c.connectTimeout == .seconds(5))
        #expect(c.commandTimeout == .seconds(5))
        #expect(c.reconnectInitialDelay == .milliseconds(100))
        #expect(c.reconnectMaxDelay == .seconds(10))
        #expect(c.reconnectJitter == 0.2)
        #expect(c.decoderLimits == RESPDecoderLimits())
        #expect(c.tls == nil)
    }

    @Test func fullURL() throws {
        let c = try RedisConfiguration(url: "redis://alice:s3cr%40t@redis.example:6380/4")
        #expect(c.host == "redis.example")
        #expect(c.port == 6380)
        #expect(c.username == "alice")
        #expect(c.password == "s3cr@t")
        #expect(c.database == 4)
    }

    @Test func minimalURL() throws {
        let c = try RedisConfiguration(url: "redis://localhost")
        #expect(c.host == "localhost")
        #expect(c.port == 6379)
        #expect(c.password == nil)
        #expect(c.database == 0)
    }

    @Test func passwordOnly() throws {
        let a = try RedisConfiguration(url: "redis://:pw@h:1/")
        #expect(a.username == nil)
        #expect(a.password == "pw")
        #expect(a.port == 1)
        #expect(a.database == 0)
        let b = try RedisConfiguration(url: "redis://pw@h")
        #expect(b.username == nil)
        #expect(b.password == "pw")
    }

    @Test func ipv6() throws {
        let c = try RedisConfiguration(url: "redis://[::1]:7000/2")
        #expect(c.host == "::1")
        #expect(c.port == 7000)
        #expect(c.database == 2)
    }

    @Test func redissTurnsOnTLS() throws {
        let c = try RedisConfiguration(url: "rediss://:pw@h:6380")
        #expect(c.tls == RedisTLSConfiguration())
        #expect(c.port == 6380)
        #expect(try RedisConfiguration(url: "redis://h").tls == nil)
        #expect(RedisTLSConfiguration().verifiedName(host: "redis.example") == "redis.example")
        #expect(RedisTLSConfiguration().verifiedName(host: "127.0.0.1") == nil)
        #expect(RedisTLSConfiguration().verifiedName(host: "::1") == nil)
        #expect(RedisTLSConfiguration(serverName: "n").verifiedName(host: "127.0.0.1") == "n")
    }

    @Test(arguments: [("a:1,b:2", ["a:1", "b:2"]), ("[::1]:7000", ["[::1]:7000"]), (" a:1, b:2 ", ["a:1", "b:2"])])
    func endpointLists(_ text: String, _ expected: [String]) {
        #expect(RedisEndpoint.list(text)?.map(\.description) == expected)
    }

    @Test(arguments: ["", "a", "a:0", "a:65536", "a:x", ":1", "a:99999999999999999999999"])
    func invalidEndpointLists(_ text: String) {
        #expect(RedisEndpoint.list(text) == nil)
    }

    @Test func endpointListIsBounded() {
        #expect(RedisEndpoint.list(Array(repeating: "h:1", count: 65).joined(separator: ",")) == nil)
        #expect(RedisEndpoint.list(Array(repeating: "h:1", count: 64).joined(separator: ","))?.count == 64)
    }

    @Test(arguments: ["http://h", "redis//h", "redis://", "redis://h:0", "redis://h:70000", "redis://h:x",
                      "redis://h/-1", "redis://h/db", "redis://h?db=1", "redis://u:%zz@h"])
    func invalidURLs(_ url: String) {
        #expect(throws: RedisConfigurationError.self) { try RedisConfiguration(url: url) }
    }

    @Test func errorsNeverEchoThePassword() {
        do {
            _ = try RedisConfiguration(url: "redis://u:topsecret@h:bad")
            Issue.record("expected an error")
        } catch {
            #expect(!"\(error)".contains("topsecret"))
        }
    }

    @Test func backoffDoublesCapsAndJitters() {
        var c = RedisConfiguration()
        c.reconnectInitialDelay = .milliseconds(100)
        c.reconnectMaxDelay = .seconds(1)
        c.reconnectJitter = 0.5
        let b = RedisBackoff(configuration: c)
        #expect(b.delay(attempt: 1, random: 0) == .milliseconds(100))
        #expect(b.delay(attempt: 2, random: 0) == .milliseconds(200))
        #expect(b.delay(attempt: 4, random: 0) == .milliseconds(800))
        #expect(b.delay(attempt: 5, random: 0) == .seconds(1))
        #expect(b.delay(attempt: 500, random: 0) == .seconds(1))
        #expect(b.delay(attempt: 2, random: 1) == .milliseconds(100))
        #expect(b.delay(attempt: 5, random: 0.5) == .milliseconds(750))
    }
}
