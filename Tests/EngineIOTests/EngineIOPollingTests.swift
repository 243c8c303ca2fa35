import EngineIO
import EngineIOProtocol
import HeraldTesting
import NIOCore
import Testing

@Suite struct EngineIOPollingTests {
    @Test func postAnswersOKAsHTML() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let response = try #require(try fixture.post(sid, "4hello"))
        #expect(response.status == 200)
        #expect(response.bodyString == "ok")
        #expect(response.header("content-type") == "text/html")
        #expect(response.header("content-length") == "2")
        #expect(fixture.recorder.messages == [.text(ByteBuffer(string: "hello"))])
        #expect(try fixture.get(sid)?.bodyString == "4hello")
    }

    @Test func queuedPacketsAreBatchedIntoOnePoll() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        #expect(try fixture.post(sid, "4test1\u{1e}4test2\u{1e}4test3")?.bodyString == "ok")
        let response = try #require(try fixture.get(sid))
        #expect(response.status == 200)
        #expect(response.header("content-type") == "text/plain; charset=UTF-8")
        #expect(response.bodyString == "4test1\u{1e}4test2\u{1e}4test3")
    }

    @Test func binaryIsEchoedAsBase64() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        #expect(try fixture.post(sid, "4hello\u{1e}bAQIDBA==")?.bodyString == "ok")
        #expect(fixture.recorder.messages == [.text(ByteBuffer(string: "hello")), .binary(ByteBuffer(bytes: [1, 2, 3, 4]))])
        #expect(try fixture.get(sid)?.bodyString == "4hello\u{1e}bAQIDBA==")
    }

    @Test func preparedMessageAttachmentsFollowTheirText() throws {
        let fixture = EngineIOFixture(echo: false)
        let sid = try fixture.handshake()
        let session = try #require(fixture.recorder.lastSession)
        session.send(EngineIOPreparedMessage { buffer in
            buffer.writeString("51-[\"x\"]")
            return [ByteBuffer(bytes: [0xFF])]
        })
        #expect(try fixture.get(sid)?.bodyString == "451-[\"x\"]\u{1e}b/w==")
    }

    @Test func heldPollIsAnsweredByALaterSend() throws {
        let fixture = EngineIOFixture(echo: false)
        let sid = try fixture.handshake()
        let poll = try fixture.heldGet(sid)
        #expect(try poll.response() == nil)
        let session = try #require(fixture.recorder.lastSession)
        session.send(text: "hi")
        session.send(text: "there")
        // Both sends land in the same loop tick, so the poll carries both.
        let response = try #require(try poll.response())
        #expect(response.status == 200)
        #expect(response.bodyString == "4hi\u{1e}4there")
    }

    @Test func heldPollIsAnsweredByAPostedMessageEcho() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let poll = try fixture.heldGet(sid)
        #expect(try poll.response() == nil)
        #expect(try fixture.post(sid, "4echo")?.bodyString == "ok")
        #expect(try poll.response()?.bodyString == "4echo")
    }

    @Test func keepAliveConnectionCarriesSeveralPolls() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let client = try fixture.server.connect()
        #expect(try client.request("POST", EngineIOFixture.pollURI(sid), body: "4a")?.bodyString == "ok")
        #expect(try client.request("GET", EngineIOFixture.pollURI(sid))?.bodyString == "4a")
        #expect(try client.request("GET", EngineIOFixture.pollURI(sid)) == nil)
    }

    @Test func duplicateGetClosesTheSession() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let first = try fixture.heldGet(sid)
        #expect(try first.response() == nil)
        let second = try #require(try fixture.get(sid))
        #expect(second.status == 400)
        #expect(second.body.readableBytes == 0)
        #expect(try first.response()?.bodyString == "1")
        #expect(fixture.recorder.closeReasons == [.transportError])
        EngineIOHandshakeErrorTests.expectError(try fixture.get(sid), .unknownSessionID)
    }

    @Test func droppedHeldPollClosesTheSession() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let poll = try fixture.heldGet(sid)
        #expect(try poll.response() == nil)
        poll.disconnect()
        #expect(fixture.recorder.closeReasons == [.transportError])
        #expect(fixture.engine.session(id: sid) == nil)
        EngineIOHandshakeErrorTests.expectError(try fixture.get(sid), .unknownSessionID)
    }

    @Test func droppedConnectionAfterAnsweredPollKeepsTheSession() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let client = try fixture.server.connect()
        #expect(try client.request("POST", EngineIOFixture.pollURI(sid), body: "4a")?.bodyString == "ok")
        #expect(try client.request("GET", EngineIOFixture.pollURI(sid))?.bodyString == "4a")
        client.disconnect()
        #expect(fixture.recorder.closeReasons.isEmpty)
        #expect(fixture.engine.session(id: sid) != nil)
    }

    @Test func postOverMaxPayloadIs413AndTheSessionSurvives() throws {
        var configuration = EngineIOFixture.suiteConfiguration()
        configuration.maxPayload = 10
        let fixture = EngineIOFixture(configuration)
        let sid = try fixture.handshake()
        let response = try #require(try fixture.post(sid, "4" + String(repeating: "x", count: 10)))
        #expect(response.status == 413)
        #expect(response.body.readableBytes == 0)
        #expect(fixture.recorder.messages.isEmpty)
        #expect(fixture.recorder.closeReasons.isEmpty)
        // Exactly maxPayload bytes is still fine.
        #expect(try fixture.post(sid, "4" + String(repeating: "y", count: 9))?.bodyString == "ok")
        #expect(try fixture.get(sid)?.bodyString == "4yyyyyyyyy")
    }

    @Test func chunkedPostOverMaxPayloadIs413() throws {
        var configuration = EngineIOFixture.suiteConfiguration()
        configuration.maxPayload = 10
        let fixture = EngineIOFixture(configuration)
        let sid = try fixture.handshake()
        let client = try fixture.server.connect()
        // No Content-Length: the limit must hold while the chunks arrive.
        var bytes = ByteBuffer(string: "POST \(EngineIOFixture.pollURI(sid)) HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        bytes.writeString("6\r\n4aaaaa\r\n6\r\nbbbbbb\r\n0\r\n\r\n")
        try client.send(bytes)
        #expect(try client.response()?.status == 413)
        #expect(fixture.engine.session(id: sid) != nil)
    }

    @Test func invalidPostBodyIsAParseError() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let response = try #require(try fixture.post(sid, "abc"))
        #expect(response.status == 400)
        #expect(fixture.recorder.closeReasons == [.parseError])
        EngineIOHandshakeErrorTests.expectError(try fixture.get(sid), .unknownSessionID)
    }

    @Test func packetsBeforeAnInvalidSegmentAreNotDelivered() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        #expect(try fixture.post(sid, "4good\u{1e}bA")?.status == 400)
        #expect(fixture.recorder.messages.isEmpty)
        #expect(fixture.recorder.closeReasons == [.parseError])
    }

    @Test func binaryContentTypeIsRejected() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let response = try fixture.post(sid, "4a", headers: [("Content-Type", "application/octet-stream")])
        #expect(response?.status == 400)
        #expect(fixture.recorder.closeReasons == [.transportError])
    }

    @Test func clientCloseAnswersTheConcurrentPollWithNoop() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let poll = try fixture.heldGet(sid)
        #expect(try poll.response() == nil)
        #expect(try fixture.post(sid, "1")?.bodyString == "ok")
        #expect(try poll.response()?.bodyString == "6")
        #expect(fixture.recorder.closeReasons == [.transportClose])
        EngineIOHandshakeErrorTests.expectError(try fixture.get(sid), .unknownSessionID)
    }

    @Test func clientCloseWithoutAPollLetsTheLastGetThroughOnce() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        #expect(try fixture.post(sid, "1")?.bodyString == "ok")
        #expect(fixture.recorder.closeReasons == [.transportClose])
        // The client's last GET may still be in flight: it gets the noop, the next one the error.
        #expect(try fixture.get(sid)?.bodyString == "6")
        EngineIOHandshakeErrorTests.expectError(try fixture.get(sid), .unknownSessionID)
    }

    @Test func postAfterClientCloseIsAnUnknownSession() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        #expect(try fixture.post(sid, "1")?.bodyString == "ok")
        EngineIOHandshakeErrorTests.expectError(try fixture.post(sid, "4late"), .unknownSessionID)
        #expect(fixture.recorder.messages.isEmpty)
    }

    @Test func lingeringClosedSessionIsForgottenAfterASecond() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        #expect(try fixture.post(sid, "1")?.bodyString == "ok")
        fixture.server.advanceTime(by: .seconds(1))
        #expect(fixture.engine.session(id: sid) == nil)
        EngineIOHandshakeErrorTests.expectError(try fixture.get(sid), .unknownSessionID)
    }

    @Test func clientPingIsATransportError() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        #expect(try fixture.post(sid, "2")?.bodyString == "ok")
        #expect(fixture.recorder.closeReasons == [.transportError])
    }

    @Test func serverCloseAnswersTheHeldPollWithClose() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        let poll = try fixture.heldGet(sid)
        try #require(fixture.recorder.lastSession).close()
        #expect(try poll.response()?.bodyString == "1")
        #expect(fixture.recorder.closeReasons == [.forcedClose])
        #expect(fixture.engine.sessionCount == 0)
    }

    @Test func closeAllSessionsForcesEveryClose() throws {
        let fixture = EngineIOFixture()
        _ = try fixture.handshake()
        _ = try fixture.handshake()
        fixture.engine.closeAllSessions()
        fixture.server.run()
        #expect(fixture.recorder.closeReasons == [.forcedClose, .forcedClose])
        #expect(fixture.engine.sessionCount == 0)
    }

    @Test func slowPollingClientIsClosed() throws {
        var configuration = EngineIOFixture.suiteConfiguration()
        configuration.maxBufferedBytes = 100
        let fixture = EngineIOFixture(configuration, echo: false)
        let sid = try fixture.handshake()
        let session = try #require(fixture.recorder.lastSession)
        let chunk = String(repeating: "x", count: 30)
        session.send(text: chunk)
        session.send(text: chunk)
        #expect(session.isWritable == false)
        #expect(fixture.recorder.closeReasons.isEmpty)
        session.send(text: chunk)
        session.send(text: chunk)
        #expect(fixture.recorder.closeReasons == [.transportError])
        #expect(session.isClosed)
        EngineIOHandshakeErrorTests.expectError(try fixture.get(sid), .unknownSessionID)
    }

    @Test func otherMethodOnASessionIsBadRequest() throws {
        let fixture = EngineIOFixture()
        let sid = try fixture.handshake()
        EngineIOHandshakeErrorTests.expectError(try fixture.server.request("PUT", EngineIOFixture.pollURI(sid)), .badRequest)
        #expect(fixture.engine.session(id: sid) != nil)
    }
}
