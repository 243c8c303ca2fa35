import EngineIO
import HeraldTesting
import NIOCore
import Testing

/// Timers run on the embedded loop's clock: `advanceTime` fires them exactly when due.
@Suite struct EngineIOHeartbeatTests {
    @Test func pingArrivesAfterPingInterval() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let poll = try fixture.heldGet(sid)
        fixture.server.advanceTime(by: .milliseconds(299))
        #expect(try poll.response() == nil)
        fixture.server.advanceTime(by: .milliseconds(1))
        #expect(try poll.response()?.bodyString == "2")
    }

    @Test func pongRestartsTheInterval() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        for _ in 0..<3 {
            let poll = try fixture.heldGet(sid)
            fixture.server.advanceTime(by: .milliseconds(300))
            #expect(try poll.response()?.bodyString == "2")
            // Answer late in the timeout window: the next ping is a full interval after the pong.
            fixture.server.advanceTime(by: .milliseconds(150))
            #expect(try fixture.post(sid, "3")?.bodyString == "ok")
        }
        let poll = try fixture.heldGet(sid)
        fixture.server.advanceTime(by: .milliseconds(299))
        #expect(try poll.response() == nil)
        fixture.server.advanceTime(by: .milliseconds(1))
        #expect(try poll.response()?.bodyString == "2")
        #expect(fixture.recorder.closeReasons.isEmpty)
    }

    @Test func noPongWithinPingTimeoutClosesTheSession() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        fixture.server.advanceTime(by: .milliseconds(499))
        #expect(fixture.engine.session(id: sid) != nil)
        #expect(fixture.recorder.closeReasons.isEmpty)
        fixture.server.advanceTime(by: .milliseconds(1))
        #expect(fixture.recorder.closeReasons == [.pingTimeout])
        // Not the queued ping: the session is gone.
        EngineIOHandshakeErrorTests.expectError(try fixture.get(sid), .unknownSessionID)
    }

    @Test func heldPollGetsCloseOnPingTimeout() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let first = try fixture.heldGet(sid)
        fixture.server.advanceTime(by: .milliseconds(300))
        #expect(try first.response()?.bodyString == "2")
        let second = try fixture.heldGet(sid)
        fixture.server.advanceTime(by: .milliseconds(200))
        #expect(try second.response()?.bodyString == "1")
        #expect(fixture.recorder.closeReasons == [.pingTimeout])
    }

    @Test func unsolicitedPongChangesNothing() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        fixture.server.advanceTime(by: .milliseconds(100))
        #expect(try fixture.post(sid, "3")?.bodyString == "ok")
        // The ping still goes out on the original schedule.
        let poll = try fixture.heldGet(sid)
        fixture.server.advanceTime(by: .milliseconds(200))
        #expect(try poll.response()?.bodyString == "2")
    }

    @Test func webSocketHeartbeat() throws {
        let fixture = EngineIOFixture()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        #expect(try ws.readTexts().first?.hasPrefix("0") == true)
        for _ in 0..<3 {
            fixture.server.advanceTime(by: .milliseconds(300))
            #expect(try ws.readTexts() == ["2"])
            try ws.send(text: "3")
        }
        fixture.server.advanceTime(by: .milliseconds(300))
        #expect(try ws.readTexts() == ["2"])
        fixture.server.advanceTime(by: .milliseconds(200))
        #expect(fixture.recorder.closeReasons == [.pingTimeout])
        #expect(try ws.readFrames().map(\.opcode) == [.close])
    }
}
