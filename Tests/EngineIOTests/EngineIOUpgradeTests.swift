import EngineIO
import EngineIOProtocol
import HeraldTesting
import NIOCore
import Testing

/// Polling → websocket: `2probe` / `3probe`, the held poll released with a noop, then `5` switches.
@Suite struct EngineIOUpgradeTests {
    @Test func fullUpgradeSequence() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let poll = try fixture.heldGet(sid)
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        // The probe gets no open packet: the session already exists.
        #expect(try ws.readFrames().isEmpty)

        try ws.send(text: "2probe")
        #expect(try ws.readFrames() == [.text("3probe")])
        #expect(try poll.response()?.bodyString == "6")
        // Polls during the upgrade are answered at once with a noop.
        #expect(try fixture.get(sid)?.bodyString == "6")

        try ws.send(text: "5")
        #expect(fixture.engine.session(id: sid)?.transport == .websocket)
        EngineIOHandshakeErrorTests.expectError(try fixture.get(sid), .badRequest)

        try ws.send(text: "4hello")
        #expect(try ws.readFrames() == [.text("4hello")])
        #expect(fixture.recorder.closeReasons.isEmpty)
    }

    @Test func packetsQueuedDuringTheUpgradeAreFlushedToTheWebSocket() throws {
        let fixture = EngineIOFixture(echo: false)
        let sid = try fixture.handshake()
        let session = try #require(fixture.recorder.lastSession)
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        try ws.send(text: "2probe")
        #expect(try ws.readFrames() == [.text("3probe")])
        session.send(text: "queued")
        session.send(packet: .binary(ByteBuffer(bytes: [7])))
        fixture.server.run()
        #expect(try ws.readFrames().isEmpty)
        try ws.send(text: "5")
        #expect(try ws.readFrames() == [.text("4queued"), .binary([7])])
    }

    @Test func secondWebSocketAfterUpgradeIsClosed() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        try ws.send(text: "2probe")
        try ws.send(text: "5")
        _ = try ws.readFrames()

        let second = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        #expect(try second.readFrames().map(\.opcode) == [.close])
        try ws.send(text: "4still here")
        #expect(try ws.readFrames() == [.text("4still here")])
        #expect(fixture.recorder.closeReasons.isEmpty)
    }

    @Test func upgradeBeforeProbeAbortsAndPollingContinues() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        try ws.send(text: "5")
        #expect(try ws.readFrames().map(\.opcode) == [.close])
        #expect(fixture.engine.session(id: sid)?.transport == .polling)
        #expect(try fixture.post(sid, "4a")?.bodyString == "ok")
        #expect(try fixture.get(sid)?.bodyString == "4a")
    }

    @Test(arguments: ["4hello", "2", "2other", "abc"])
    func otherPacketDuringProbeAborts(text: String) throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        try ws.send(text: text)
        #expect(try ws.readFrames().map(\.opcode) == [.close])
        #expect(fixture.recorder.messages.isEmpty)
        #expect(fixture.recorder.closeReasons.isEmpty)
        // The session keeps polling, and a fresh probe may try again.
        let retry = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        try retry.send(text: "2probe")
        #expect(try retry.readFrames() == [.text("3probe")])
    }

    @Test func otherPacketAfterProbeAnswerAborts() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        try ws.send(text: "2probe")
        _ = try ws.readFrames()
        try ws.send(text: "4early")
        #expect(try ws.readFrames().map(\.opcode) == [.close])
        #expect(fixture.engine.session(id: sid)?.transport == .polling)
        #expect(try fixture.post(sid, "4a")?.bodyString == "ok")
    }

    @Test func upgradeTimeoutAbortsTheProbe() throws {
        var configuration = EngineIOFixture.suiteConfiguration(pingInterval: .seconds(60), pingTimeout: .seconds(60))
        configuration.upgradeTimeout = .seconds(10)
        let fixture = EngineIOFixture(configuration)
        let sid = try fixture.handshake()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        try ws.send(text: "2probe")
        #expect(try ws.readFrames() == [.text("3probe")])
        fixture.server.advanceTime(by: .milliseconds(9_999))
        #expect(try ws.readFrames().isEmpty)
        fixture.server.advanceTime(by: .milliseconds(1))
        #expect(try ws.readFrames().map(\.opcode) == [.close])
        #expect(fixture.engine.session(id: sid)?.transport == .polling)
        // Polls are no longer answered with a noop: the upgrade is over.
        #expect(try fixture.get(sid) == nil)
    }

    @Test func droppedProbeLeavesTheSessionPolling() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        try ws.send(text: "2probe")
        ws.disconnect()
        fixture.server.run()
        #expect(fixture.recorder.closeReasons.isEmpty)
        #expect(try fixture.get(sid) == nil)
    }

    @Test func upgradeRefusedWhenDisabled() throws {
        var configuration = EngineIOFixture.suiteConfiguration()
        configuration.allowUpgrades = false
        let fixture = EngineIOFixture(configuration)
        let sid = try fixture.handshake()
        #expect(throws: HTTPTestError.self) { try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid)) }
    }

    @Test func closingTheUpgradedWebSocketClosesTheSession() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        try ws.send(text: "2probe")
        try ws.send(text: "5")
        try ws.sendClose()
        #expect(fixture.recorder.closeReasons == [.transportClose])
        #expect(fixture.engine.session(id: sid) == nil)
    }
}

/// A websocket the session refused or dropped may still deliver frames until its close handshake ends (RFC 6455
/// allows data after a Close). Those frames must not reach the session.
@Suite struct EngineIOStaleWebSocketTests {
    @Test func invalidTextOnARefusedSecondWebSocketLeavesTheSessionAlone() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        try ws.send(text: "2probe")
        try ws.send(text: "5")
        _ = try ws.readFrames()
        let second = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        #expect(try second.readFrames().map(\.opcode) == [.close])
        try second.send(text: "abc")
        try second.send(text: "4ignored")
        #expect(fixture.recorder.closeReasons.isEmpty)
        #expect(fixture.recorder.messages.isEmpty)
        try ws.send(text: "4hello")
        #expect(try ws.readTexts() == ["4hello"])
    }

    @Test func invalidTextOnAnAbortedProbeLeavesTheSessionAlone() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI(sid))
        try ws.send(text: "5")
        #expect(try ws.readFrames().map(\.opcode) == [.close])
        try ws.send(text: "abc")
        #expect(fixture.recorder.closeReasons.isEmpty)
        #expect(try fixture.post(sid, "4a")?.bodyString == "ok")
    }
}
