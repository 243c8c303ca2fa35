import EngineIO
import EngineIOProtocol
import HeraldTesting
import NIOCore
import Testing

@Suite struct EngineIOWebSocketTests {
    @Test func handshakeOverWebSocket() throws {
        let fixture = EngineIOFixture()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        #expect(ws.upgradeResponse.status == 101)
        let frame = try #require(try ws.readFrame())
        #expect(frame.opcode == .text)
        let open = try EngineIOFixture.openPayload(frame.text)
        let sid = try #require(open["sid"] as? String)
        #expect(frame.text == #"0{"sid":"\#(sid)","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#)
        #expect(fixture.engine.session(id: sid)?.transport == .websocket)
        #expect(fixture.recorder.lastSession?.request.transport == .websocket)
        #expect(try ws.readFrame() == nil)
    }

    @Test func textAndBinaryEcho() throws {
        let fixture = EngineIOFixture()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        _ = try ws.readFrames()
        try ws.send(text: "4hello")
        #expect(try ws.readFrames() == [.text("4hello")])
        try ws.send(binary: [1, 2, 3, 4])
        // No Engine.IO prefix on websocket binary frames.
        #expect(try ws.readFrames() == [.binary([1, 2, 3, 4])])
        #expect(fixture.recorder.messages == [.text(ByteBuffer(string: "hello")), .binary(ByteBuffer(bytes: [1, 2, 3, 4]))])
    }

    @Test func invalidTextClosesWithParseError() throws {
        let fixture = EngineIOFixture()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        _ = try ws.readFrames()
        try ws.send(text: "abc")
        #expect(fixture.recorder.closeReasons == [.parseError])
        #expect(try ws.readFrames().map(\.closeCode) == [1000])
        try ws.sendClose()
        #expect(!ws.isActive)
        #expect(fixture.engine.sessionCount == 0)
    }

    @Test func clientCloseFrameIsTransportClose() throws {
        let fixture = EngineIOFixture()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        _ = try ws.readFrames()
        try ws.sendClose()
        #expect(fixture.recorder.closeReasons == [.transportClose])
        #expect(fixture.engine.sessionCount == 0)
    }

    @Test func closePacketClosesTheSession() throws {
        let fixture = EngineIOFixture()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        _ = try ws.readFrames()
        try ws.send(text: "1")
        #expect(fixture.recorder.closeReasons == [.transportClose])
        #expect(try ws.readFrames().map(\.opcode) == [.close])
    }

    @Test func droppedConnectionIsTransportClose() throws {
        let fixture = EngineIOFixture()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        ws.disconnect()
        fixture.server.run()
        #expect(fixture.recorder.closeReasons == [.transportClose])
        #expect(fixture.engine.sessionCount == 0)
    }

    @Test(arguments: [
        ("transport=websocket", 5), ("EIO=3&transport=websocket", 5), ("EIO=abc&transport=websocket", 5),
        ("EIO=4&transport=websocket&sid=unknown", 1),
    ])
    func badUpgradeIsRefusedBeforeUpgrading(query: String, code: Int) throws {
        let fixture = EngineIOFixture()
        do {
            _ = try fixture.server.webSocket(uri: "/engine.io/?" + query)
            Issue.record("upgrade should be refused")
        } catch HTTPTestError.upgradeRefused(let response) {
            #expect(response?.status == 400)
            #expect(response?.bodyString == EngineIOErrorCode(rawValue: code)!.jsonBody)
        }
        #expect(fixture.engine.sessionCount == 0)
    }

    @Test func serverSendReachesTheWebSocket() throws {
        let fixture = EngineIOFixture(echo: false)
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        _ = try ws.readFrames()
        let session = try #require(fixture.recorder.lastSession)
        session.send(text: "a")
        session.send(packet: .binary(ByteBuffer(bytes: [9])))
        #expect(try ws.readFrames() == [.text("4a"), .binary([9])])
    }
}

@Suite struct EngineIOWebSocketLimitTests {
    @Test func slowWebSocketClientIsClosed() throws {
        var configuration = EngineIOFixture.suiteConfiguration()
        configuration.maxBufferedBytes = 100
        let fixture = EngineIOFixture(configuration, echo: false)
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        _ = try ws.readFrames()
        let session = try #require(fixture.recorder.lastSession)
        ws.setServerWritable(false)
        #expect(!session.isWritable)
        // Volatile messages are dropped while the client is behind, and do not count.
        session.send(EngineIOPreparedMessage(text: String(repeating: "v", count: 200)), volatile: true)
        #expect(fixture.recorder.closeReasons.isEmpty)
        let chunk = String(repeating: "x", count: 30)
        for _ in 0..<3 { session.send(text: chunk) }
        #expect(fixture.recorder.closeReasons.isEmpty)
        session.send(text: chunk)
        #expect(fixture.recorder.closeReasons == [.transportError])
    }

    @Test func catchingUpResetsTheSlowConsumerMeasure() throws {
        var configuration = EngineIOFixture.suiteConfiguration()
        configuration.maxBufferedBytes = 100
        let fixture = EngineIOFixture(configuration, echo: false)
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        _ = try ws.readFrames()
        let session = try #require(fixture.recorder.lastSession)
        let chunk = String(repeating: "x", count: 30)
        ws.setServerWritable(false)
        for _ in 0..<3 { session.send(text: chunk) }
        ws.setServerWritable(true)
        #expect(session.isWritable)
        ws.setServerWritable(false)
        for _ in 0..<3 { session.send(text: chunk) }
        #expect(fixture.recorder.closeReasons.isEmpty)
        #expect(try ws.readTexts().count == 6)
    }

    @Test func messageOverMaxPayloadClosesWith1009() throws {
        var configuration = EngineIOFixture.suiteConfiguration()
        configuration.maxPayload = 10
        let fixture = EngineIOFixture(configuration)
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        _ = try ws.readFrames()
        try ws.send(text: "4" + String(repeating: "x", count: 10))
        #expect(try ws.readFrames().map(\.closeCode) == [1009])
        #expect(fixture.recorder.messages.isEmpty)
        try ws.sendClose()
        #expect(fixture.recorder.closeReasons == [.transportClose])
    }

    @Test func upgradeOnAKeepAliveConnectionAfterPolling() throws {
        let fixture = EngineIOFixture()
        let client = try fixture.server.connect()
        let handshake = try #require(try client.request("GET", EngineIOFixture.handshakeURI))
        let sid = try EngineIOFixture.openPayload(handshake.bodyString)["sid"] as? String ?? ""
        #expect(try client.request("POST", EngineIOFixture.pollURI(sid), body: "4a")?.bodyString == "ok")
        #expect(try client.request("GET", EngineIOFixture.pollURI(sid))?.bodyString == "4a")
        // The same connection now carries the websocket.
        let ws = try EmbeddedWebSocketClient.upgrade(client, uri: EngineIOFixture.webSocketURI(sid))
        try ws.send(text: "2probe")
        try ws.send(text: "5")
        try ws.send(text: "4b")
        #expect(try ws.readTexts() == ["3probe", "4b"])
    }
}

@Suite struct EmbeddedHTTPClientTests {
    @Test func requestDripFedByteByByte() throws {
        let fixture = EngineIOFixture()
        let client = try fixture.server.connect()
        let bytes = Array("GET \(EngineIOFixture.handshakeURI) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        for byte in bytes.dropLast() {
            try client.send(ByteBuffer(bytes: [byte]))
            #expect(try client.response() == nil)
        }
        try client.send(ByteBuffer(bytes: [bytes.last!]))
        #expect(try client.response()?.status == 200)
    }

    @Test func pipelinedRequestWaitsForTheHeldPoll() throws {
        let fixture = EngineIOFixture(echo: false)
        let sid = try fixture.handshake()
        let client = try fixture.server.connect()
        #expect(try client.request("GET", EngineIOFixture.pollURI(sid)) == nil)
        // HTTP/1.1 answers in order: the second request is served only after the first.
        #expect(try client.request("GET", "/other") == nil)
        try #require(fixture.recorder.lastSession).send(text: "x")
        #expect(try client.response()?.bodyString == "4x")
        #expect(try client.response()?.status == 404)
    }

    @Test func connectionCloseRequestClosesAfterTheResponse() throws {
        let fixture = EngineIOFixture()
        let client = try fixture.server.connect()
        let response = try #require(try client.request("GET", EngineIOFixture.handshakeURI, headers: [("Connection", "close")]))
        #expect(response.status == 200)
        #expect(response.header("connection") == "close")
        #expect(!client.isActive)
    }
}
