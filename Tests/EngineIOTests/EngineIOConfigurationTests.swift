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
