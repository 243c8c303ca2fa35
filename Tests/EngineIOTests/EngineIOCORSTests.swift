import EngineIO
import HeraldTesting
import Testing

@Suite struct EngineIOCORSTests {
    static func fixture(_ cors: CORSConfiguration) -> EngineIOFixture {
        var configuration = EngineIOFixture.suiteConfiguration()
        configuration.cors = cors
        return EngineIOFixture(configuration)
    }

    @Test func preflight() throws {
        let fixture = Self.fixture(CORSConfiguration(origins: .any, maxAge: 600))
        let response = try #require(try fixture.server.request("OPTIONS", EngineIOFixture.handshakeURI, headers: [
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type,x-token"),
        ]))
        #expect(response.status == 204)
        // NIO's encoder drops Content-Length on a 204 (RFC 9110 forbids it there); the body is empty either way.
        #expect(response.body.readableBytes == 0)
        #expect(response.header("access-control-allow-origin") == "*")
        #expect(response.header("access-control-allow-methods") == "GET,POST,OPTIONS")
        #expect(response.header("access-control-allow-headers") == "content-type,x-token")
        #expect(response.header("vary") == "Access-Control-Request-Headers")
        #expect(response.header("access-control-max-age") == "600")
        #expect(fixture.engine.sessionCount == 0)
    }

    @Test func anyOriginOnEveryResponse() throws {
        let fixture = Self.fixture(CORSConfiguration())
        let handshake = try #require(try fixture.server.request("GET", EngineIOFixture.handshakeURI, headers: [("Origin", "https://a.example")]))
        #expect(handshake.header("access-control-allow-origin") == "*")
        #expect(handshake.header("vary") == nil)
        #expect(handshake.header("access-control-allow-credentials") == nil)
        let sid = try EngineIOFixture.openPayload(handshake.bodyString)["sid"] as? String ?? ""
        let post = try fixture.post(sid, "4x", headers: [("Origin", "https://a.example")])
        #expect(post?.header("access-control-allow-origin") == "*")
        // Errors carry it too, so browsers can read them.
        let error = try fixture.server.request("GET", "/engine.io/?EIO=4")
        #expect(error?.status == 400)
        #expect(error?.header("access-control-allow-origin") == "*")
    }

    @Test func listedOriginIsEchoed() throws {
        let fixture = Self.fixture(CORSConfiguration(origins: .list(["https://shop.example.com"]), allowCredentials: true))
        let response = try #require(try fixture.server.request(
            "GET", EngineIOFixture.handshakeURI, headers: [("Origin", "https://shop.example.com")]))
        #expect(response.status == 200)
        #expect(response.header("access-control-allow-origin") == "https://shop.example.com")
        #expect(response.header("vary") == "Origin")
        #expect(response.header("access-control-allow-credentials") == "true")
    }

    @Test func requestWithoutOriginIsAllowed() throws {
        // Non-browser clients send no Origin; the list only restricts browsers.
        let fixture = Self.fixture(CORSConfiguration(origins: .list(["https://shop.example.com"])))
        let response = try #require(try fixture.server.request("GET", EngineIOFixture.handshakeURI))
        #expect(response.status == 200)
        #expect(response.header("access-control-allow-origin") == nil)
    }

    @Test func webSocketFromUnlistedOriginIsRefused() throws {
        let fixture = Self.fixture(CORSConfiguration(origins: .list(["https://shop.example.com"])))
        #expect(throws: HTTPTestError.self) {
            try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(), headers: [("Origin", "https://evil.example.com")])
        }
        _ = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(), headers: [("Origin", "https://shop.example.com")])
        #expect(fixture.engine.sessionCount == 1)
    }

    @Test func noCORSHeadersWhenUnconfigured() throws {
        let fixture = EngineIOFixture()
        let response = try fixture.server.request("GET", EngineIOFixture.handshakeURI, headers: [("Origin", "https://a.example")])
        #expect(response?.status == 200)
        #expect(response?.header("access-control-allow-origin") == nil)
        // Without CORS, OPTIONS is just another request: no transport → code 0.
        #expect(try fixture.server.request("OPTIONS", "/engine.io/")?.status == 400)
    }
}
