import EngineIO
import EngineIOProtocol
import HeraldTesting
import NIOCore
import Testing

/// Going away (a drain): transports end without an Engine.IO close packet, so every official client reconnects,
/// and handshakes are refused with a retryable 503 once the server stops taking sessions.
@Suite struct EngineIODrainTests {
    @Test func goingAwayEndsTheHeldPollWithANoopAndForgetsTheSession() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let poll = try fixture.heldGet(sid)
        #expect(try poll.response() == nil)
        fixture.engine.closeAllSessions(reason: .serverShuttingDown)
        fixture.server.run()
        // Not "1": python-engineio never reconnects after a close packet.
        #expect(try poll.response()?.bodyString == "6")
        #expect(fixture.recorder.closeReasons == [.serverShuttingDown])
        // The client's next request fails, which every client reconnects from.
        EngineIOHandshakeErrorTests.expectError(try fixture.get(sid), .unknownSessionID)
        EngineIOHandshakeErrorTests.expectError(try fixture.post(sid, "4late"), .unknownSessionID)
    }

    @Test func goingAwayBetweenPollsLeavesTheNextGetUnknown() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        fixture.engine.closeAllSessions(reason: .serverShuttingDown)
        fixture.server.run()
        EngineIOHandshakeErrorTests.expectError(try fixture.get(sid), .unknownSessionID)
        #expect(fixture.engine.sessionCount == 0)
    }

    @Test func goingAwayClosesAWebSocketWith1001AndNoClosePacket() throws {
        let fixture = EngineIOFixture()
        let ws = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
        _ = try ws.readFrames()
        fixture.engine.closeAllSessions(reason: .serverShuttingDown)
        let frames = try ws.readFrames()
        #expect(frames.map(\.closeCode) == [1001], "\(frames)")
        #expect(fixture.recorder.closeReasons == [.serverShuttingDown])
        #expect(fixture.engine.sessionCount == 0)
    }

    @Test func refusedHandshakesAreRetryable503sWhileOpenSessionsAreServed() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        fixture.engine.refuseNewSessions()
        #expect(fixture.engine.isRefusingNewSessions)

        let polling = try #require(try fixture.server.request("GET", EngineIOFixture.handshakeURI))
        #expect(polling.status == 503)
        #expect(polling.header("retry-after") == "1")
        #expect(polling.header("content-type") == "application/json")
        #expect(polling.bodyString == #"{"error":"server shutting down","retryAfter":1}"#)

        // A websocket handshake goes past the fast path to the same answer.
        do {
            _ = try fixture.server.webSocket(uri: EngineIOFixture.webSocketURI())
            Issue.record("a websocket handshake was accepted while refusing")
        } catch HTTPTestError.upgradeRefused(let response) {
            #expect(response?.status == 503)
            #expect(response?.header("retry-after") == "1")
        }

        // The open session goes on: its messages arrive and its polls are answered.
        #expect(try fixture.post(sid, "4still")?.bodyString == "ok")
        #expect(try fixture.get(sid)?.bodyString == "4still")
        #expect(fixture.engine.sessionCount == 1)
    }
}
