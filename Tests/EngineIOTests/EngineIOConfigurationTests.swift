@testable import EngineIO
import Testing

@Suite struct EngineIOConfigurationTests {
    @Test func documentedDefaults() {
        let configuration = EngineIOConfiguration()
        #expect(configuration.path == "/engine.io/")
        #expect(configuration.pingInterval == .seconds(25))
        #expect(configuration.pingTimeout == .seconds(20))
        #expect(configuration.maxPayload == 1_000_000)
        #expect(configuration.upgradeTimeout == .seconds(10))
        #expect(configuration.transports == [.polling, .websocket])
        #expect(configuration.allowUpgrades)
        #expect(configuration.cors == nil)
        #expect(configuration.maxBufferedBytes == 4 * 1024 * 1024)
        #expect(configuration.maxHTTPBodySize == 1024 * 1024)
        #expect(configuration.connectionLimits.requestHeadTimeout == .seconds(10))
        #expect(configuration.connectionLimits.keepAliveTimeout == .seconds(65))
        #expect(configuration.connectionLimits.maxRequestHeadSize == 16 * 1024)
        #expect(configuration.connectionLimits.maxUnsentResponseBytes == 4 * 1024 * 1024)
        #expect(configuration.webSocketCloseTimeout == .seconds(5))
        #expect(configuration.maxConnections == nil)
        #expect(configuration.maxConnectionsPerAddress == nil)
        #expect(configuration.maxHandshakesPerSecond == nil)
    }

    /// Durations come from configuration: converting any of them is never a trap.
    @Test func extremeDurationsSaturate() {
        #expect(Duration.seconds(Int64.max).milliseconds == Int64.max)
        #expect(Duration.seconds(Int64.min).milliseconds == Int64.min)
        #expect(Duration.milliseconds(Int64.max).milliseconds == Int64.max)
        #expect(Duration.milliseconds(1500).milliseconds == 1500)
    }

    /// A configured interval too long for nanoseconds used to trap when the heartbeat was armed.
    @Test func hugeConfiguredTimeoutsServeAHandshake() throws {
        let fixture = EngineIOFixture(EngineIOConfiguration(
            pingInterval: .seconds(Int64.max), pingTimeout: .seconds(Int64.max), upgradeTimeout: .seconds(Int64.max),
            connectionLimits: HTTPConnectionLimits(requestHeadTimeout: .seconds(Int64.max), keepAliveTimeout: .seconds(Int64.max)),
            webSocketCloseTimeout: .seconds(Int64.max)))
        let sid = try fixture.handshake()
        #expect(fixture.engine.session(id: sid) != nil)
        fixture.server.advanceTime(by: .hours(24))
        #expect(fixture.engine.session(id: sid)?.isClosed == false)
    }

    @Test func tokenBucketAdmitsOneSecondsWorthThenTheRate() {
        var bucket = EngineIOTokenBucket()
        let start = ContinuousClock.now
        let burst = (0..<10).filter { _ in bucket.take(rate: 5, now: start) }.count
        #expect(burst == 5)
        let early = bucket.take(rate: 5, now: start + .milliseconds(100))
        let refilled = bucket.take(rate: 5, now: start + .milliseconds(200))
        let again = bucket.take(rate: 5, now: start + .milliseconds(200))
        #expect(!early && refilled && !again)
    }

    @Test func corsDefaults() {
        let cors = CORSConfiguration()
        #expect(cors.origins == .any)
        #expect(!cors.allowCredentials)
        #expect(cors.maxAge == nil)
    }

    @Test(arguments: [("/engine.io/", "/engine.io/"), ("/socket.io", "/socket.io/"), ("/x//", "/x/")])
    func pathIsNormalizedToOneTrailingSlash(path: String, normalized: String) {
        #expect(EngineIOConfiguration(path: path).normalizedPath == normalized)
    }

    @Test func customPathIsServed() throws {
        let fixture = EngineIOFixture(EngineIOConfiguration(path: "/socket.io"))
        #expect(try fixture.server.request("GET", "/socket.io/?EIO=4&transport=polling")?.status == 200)
        #expect(try fixture.server.request("GET", EngineIOFixture.handshakeURI)?.status == 404)
    }
}
