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

    @Test(arguments: ["transport=websocket", "EIO=3&transport=websocket", "EIO=abc&transport=websocket", "EIO=4&transport=websocket&sid=unknown"])
    func badUpgradeIsRefusedBeforeUpgrading(query: String) throws {
        let fixture = EngineIOFixture()
        do {
            _ = try fixture.server.webSocket(uri: "/engine.io/?" + query)
            Issue.record("upgrade should be refused")
        } catch HTTPTestError.upgradeRefused(let response) {
            #expect(response?.status == 400)
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
