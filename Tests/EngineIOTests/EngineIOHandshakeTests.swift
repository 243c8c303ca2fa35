import EngineIO
import EngineIOProtocol
import HeraldTesting
import NIOCore
import Testing

@Suite struct EngineIOHandshakeTests {
    @Test func pollingHandshake() throws {
        let fixture = EngineIOFixture()
        let response = try #require(try fixture.server.request("GET", EngineIOFixture.handshakeURI))
        #expect(response.status == 200)
        #expect(response.header("content-type") == "text/plain; charset=UTF-8")
        #expect(response.header("content-length") == String(response.body.readableBytes))
        #expect(response.header("access-control-allow-origin") == nil)
        let body = response.bodyString
        #expect(body.hasPrefix("0"))
        let open = try EngineIOFixture.openPayload(body)
        #expect(Set(open.keys) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"])
        let sid = try #require(open["sid"] as? String)
        #expect(sid.count == 20)
        // Exact bytes, in the reference server's key order; nothing else in the first response.
        #expect(body == #"0{"sid":"\#(sid)","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#)
        #expect(fixture.engine.sessionCount == 1)
        #expect(fixture.engine.session(id: sid)?.transport == .polling)
        #expect(fixture.recorder.sessions.map(\.id) == [sid])
    }

    @Test func eachHandshakeGetsANewSession() throws {
        let fixture = EngineIOFixture()
        let first = try fixture.handshake()
        let second = try fixture.handshake()
        #expect(first != second)
        #expect(fixture.engine.sessionCount == 2)
    }

    @Test func noUpgradesOfferedWhenDisabled() throws {
        var configuration = EngineIOFixture.suiteConfiguration()
        configuration.allowUpgrades = false
        let fixture = EngineIOFixture(configuration)
        let response = try #require(try fixture.server.request("GET", EngineIOFixture.handshakeURI))
        #expect(try EngineIOFixture.openPayload(response.bodyString)["upgrades"] as? [String] == [])
    }

    @Test func sessionKnowsItsRequest() throws {
        let fixture = EngineIOFixture()
        _ = try fixture.server.request("GET", EngineIOFixture.handshakeURI + "&token=abc", headers: [("X-Test", "1")])
        let session = try #require(fixture.recorder.lastSession)
        #expect(session.request.query["token"] == "abc")
        #expect(session.request.headers.first(name: "x-test") == "1")
        #expect(session.request.transport == .polling)
    }

    @Test func requestOutsideThePathIs404WithoutRoutes() throws {
        let fixture = EngineIOFixture()
        let response = try #require(try fixture.server.request("GET", "/other"))
        #expect(response.status == 404)
        #expect(fixture.engine.sessionCount == 0)
    }
}

/// Every request is checked in the reference server's order; the first failure wins.
@Suite struct EngineIOHandshakeErrorTests {
    static func expectError(_ response: HTTPTestResponse?, _ code: EngineIOErrorCode, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response?.status == code.httpStatus, sourceLocation: sourceLocation)
        #expect(response?.header("content-type") == "application/json", sourceLocation: sourceLocation)
        #expect(response?.bodyString == code.jsonBody, sourceLocation: sourceLocation)
    }

    static let cases: [(method: String, query: String, code: EngineIOErrorCode)] = [
        ("GET", "EIO=4", .unknownTransport),
        ("GET", "EIO=4&transport=abc", .unknownTransport),
        ("GET", "EIO=4&transport=webtransport", .unknownTransport),
        ("POST", "EIO=4&transport=abc", .unknownTransport),
        ("GET", "EIO=4&transport=polling&sid=unknown", .unknownSessionID),
        // A request with a sid is never checked for EIO.
        ("GET", "transport=polling&sid=unknown", .unknownSessionID),
        ("POST", "EIO=4&transport=polling", .badHandshakeMethod),
        ("PUT", "EIO=4&transport=polling", .badHandshakeMethod),
        ("POST", "EIO=3&transport=polling", .badHandshakeMethod),
        ("GET", "EIO=4&transport=websocket", .badRequest),
        ("GET", "transport=polling", .unsupportedProtocolVersion),
        ("GET", "EIO=3&transport=polling", .unsupportedProtocolVersion),
        ("GET", "EIO=abc&transport=polling", .unsupportedProtocolVersion),
        ("GET", "EIO=&transport=polling", .unsupportedProtocolVersion),
    ]

    @Test(arguments: 0..<cases.count)
    func errorResponse(index: Int) throws {
        let (method, query, code) = Self.cases[index]
        let fixture = EngineIOFixture()
        Self.expectError(try fixture.server.request(method, "/engine.io/?" + query), code)
        #expect(fixture.engine.sessionCount == 0)
    }

    @Test func pathWithoutTrailingSlashIsStillEngineIO() throws {
        let fixture = EngineIOFixture()
        Self.expectError(try fixture.server.request("GET", "/engine.io?EIO=4"), .unknownTransport)
    }

    @Test func disabledTransportIsUnknown() throws {
        var configuration = EngineIOFixture.suiteConfiguration()
        configuration.transports = [.websocket]
        let fixture = EngineIOFixture(configuration)
        Self.expectError(try fixture.server.request("GET", EngineIOFixture.handshakeURI), .unknownTransport)
    }

    @Test func allowRequestFalseIsForbidden() throws {
        let fixture = EngineIOFixture()
        fixture.engine.allowRequest { request in request.query["token"] == "good" }
        Self.expectError(try fixture.server.request("GET", EngineIOFixture.handshakeURI + "&token=bad"), .forbidden)
        #expect(try fixture.server.request("GET", EngineIOFixture.handshakeURI + "&token=good")?.status == 200)
    }

    @Test func allowRequestRunsBeforeTheVersionCheck() throws {
        let fixture = EngineIOFixture()
        fixture.engine.allowRequest { _ in false }
        Self.expectError(try fixture.server.request("GET", "/engine.io/?EIO=3&transport=polling"), .forbidden)
    }

    @Test func originNotInCORSListIsForbidden() throws {
        var configuration = EngineIOFixture.suiteConfiguration()
        configuration.cors = CORSConfiguration(origins: .list(["https://shop.example.com"]))
        let fixture = EngineIOFixture(configuration)
        let response = try fixture.server.request("GET", EngineIOFixture.handshakeURI, headers: [("Origin", "https://evil.example.com")])
        Self.expectError(response, .forbidden)
        #expect(response?.header("access-control-allow-origin") == nil)
        #expect(fixture.engine.sessionCount == 0)
    }
}
