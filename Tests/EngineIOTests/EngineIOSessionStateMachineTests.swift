@testable import EngineIO
import EngineIOProtocol
import HeraldWebSocket
import NIOCore
import Testing

/// The session's protocol rules on their own: events in, actions out, no channel, no timer, no clock.
@Suite struct EngineIOSessionStateMachineTests {
    struct Poll: Identifiable, Equatable { let id: Int }
    final class Connection: Equatable {
        static func == (lhs: Connection, rhs: Connection) -> Bool { lhs === rhs }
    }
    typealias Machine = EngineIOSessionStateMachine<Poll, Connection>

    static let maxBufferedBytes = 100

    static func polling() -> Machine { Machine(webSocket: nil, onSessionLoop: false, maxBufferedBytes: maxBufferedBytes) }
    static func websocket(_ connection: Connection = Connection(), onSessionLoop: Bool = true) -> Machine {
        Machine(webSocket: connection, onSessionLoop: onSessionLoop, maxBufferedBytes: maxBufferedBytes)
    }

    /// A polling machine whose probe answered `3probe`.
    static func probed(_ probe: Connection) -> Machine {
        var machine = polling()
        _ = machine.probeOpened(probe, onSessionLoop: true)
        _ = machine.webSocketMessageReceived(.text("2probe"), from: probe)
        return machine
    }

    static func payload(_ string: String) -> EngineIOPollResponse { .payload(ByteBuffer(string: string)) }
    static func message(_ text: String) -> EngineIOPreparedMessage { EngineIOPreparedMessage(text: text) }

    /// The close an action carries, or nil.
    static func closeAction(_ action: Machine.ReceiveAction) -> Machine.CloseAction? {
        if case .close(let close) = action { return close }
        return nil
    }

    // MARK: Heartbeat

    @Test func pollingPingIsQueuedAndPongRearmsInterval() {
        var machine = Self.polling()
        do { let result = machine.heartbeatTimerFired(); #expect(result == .pingQueued) }
        #expect(machine.queuedBytes == 2)
        do { let result = machine.getReceived(Poll(id: 1)); #expect(result == .respond(Self.payload("2"))) }
        do { let result = machine.packetReceived(.pong()); #expect(result == .armPingInterval) }
        // The cycle repeats: the next ping is pingInterval after the pong.
        do { let result = machine.heartbeatTimerFired(); #expect(result == .pingQueued) }
    }

    @Test func websocketPingIsSentOnTheWebSocket() {
        let connection = Connection()
        var machine = Self.websocket(connection)
        do { let result = machine.heartbeatTimerFired(); #expect(result == .sendPing(connection, .text("2"))) }
        do {
            let result = machine.webSocketMessageReceived(.text("3"), from: connection)
            #expect(result == .armPingInterval)
        }
    }

    @Test func timerWhileAwaitingPongIsPingTimeoutAndTheHeldPollGetsTheClosePacket() {
        var machine = Self.polling()
        _ = machine.heartbeatTimerFired()
        _ = machine.getReceived(Poll(id: 1))   // takes the ping
        do { let result = machine.getReceived(Poll(id: 2)); #expect(result == .hold) }
        guard case .close(let close) = machine.heartbeatTimerFired() else {
            Issue.record("expected a close")
            return
        }
        #expect(close.reason == .pingTimeout)
        #expect(close.answer == Machine.PollAnswer(poll: Poll(id: 2), response: .closePacket))
        #expect(close.answer?.response == Self.payload("1"))
        #expect(!close.lingers)
        #expect(machine.isClosed)
    }

    @Test func unsolicitedPongsAreIgnored() {
        var machine = Self.polling()
        do { let result = machine.packetReceived(.pong()); #expect(result == .ignore) }
        _ = machine.heartbeatTimerFired()
        _ = machine.packetReceived(.pong())
        // A second pong for the same ping changes nothing either.
        do { let result = machine.packetReceived(.pong()); #expect(result == .ignore) }
    }

    @Test func heartbeatSurvivesTheUpgrade() {
        let probe = Connection()
        var machine = Self.probed(probe)
        // A ping while probing still goes to the poll queue, then over the new websocket.
        do { let result = machine.heartbeatTimerFired(); #expect(result == .pingQueued) }
        guard case .upgraded(_, let queued) = machine.webSocketMessageReceived(.text("5"), from: probe) else {
            Issue.record("expected the upgrade")
            return
        }
        #expect(queued == [.packet(.ping(ByteBuffer()))])
        do { let result = machine.webSocketMessageReceived(.text("3"), from: probe); #expect(result == .armPingInterval) }
    }

    @Test func heartbeatEventsAfterCloseDoNothing() {
        var machine = Self.polling()
        _ = machine.heartbeatTimerFired()
        #expect(machine.closeRequested(reason: .forcedClose) != nil)
        do { let result = machine.heartbeatTimerFired(); #expect(result == .ignore) }
        do { let result = machine.packetReceived(.pong()); #expect(result == .ignore) }
    }

    // MARK: Poll queue and the held GET

    @Test func heldGetTakesTheQueueAtFlush() {
        var machine = Self.polling()
        do { let result = machine.getReceived(Poll(id: 1)); #expect(result == .hold) }
        // Nothing queued: a flush has nothing to send.
        do { let result = machine.flushRequested(); #expect(result == .ignore) }
        do { let result = machine.messageWritten(Self.message("a"), volatile: false); #expect(result == .queued) }
        do { let result = machine.packetSent(.binary(ByteBuffer(bytes: [1, 2, 3]))); #expect(result == .queued) }
        do {
            let result = machine.flushRequested()
            #expect(result == .answerPoll(Machine.PollAnswer(poll: Poll(id: 1), response: Self.payload("4a\u{1e}bAQID"))))
        }
        #expect(machine.queuedBytes == 0)
        do { let result = machine.flushRequested(); #expect(result == .ignore) }
    }

    @Test func getWithAQueueIsAnsweredAtOnceWithAttachmentsAfterTheirMessage() {
        var machine = Self.polling()
        let withAttachment = EngineIOPreparedMessage { buffer in
            buffer.writeString("x")
            return [ByteBuffer(bytes: [0xFF])]
        }
        _ = machine.messageWritten(withAttachment, volatile: false)
        _ = machine.messageWritten(Self.message("y"), volatile: false)
        do { let result = machine.getReceived(Poll(id: 1)); #expect(result == .respond(Self.payload("4x\u{1e}b/w==\u{1e}4y"))) }
        do { let result = machine.getReceived(Poll(id: 2)); #expect(result == .hold) }
    }

    @Test func secondGetWhileOneIsHeldClosesTheSession() {
        var machine = Self.polling()
        _ = machine.getReceived(Poll(id: 1))
        guard case .refuseAndClose(let response, let close) = machine.getReceived(Poll(id: 2)) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(response == .status(.badRequest))
        #expect(close.reason == .transportError)
        // The first poll gets the close packet.
        #expect(close.answer == Machine.PollAnswer(poll: Poll(id: 1), response: .closePacket))
        #expect(machine.isClosed)
    }

    @Test func heldPollClosedPrematurelyEndsTheSessionButAnAnsweredOneDoesNot() {
        var machine = Self.polling()
        _ = machine.getReceived(Poll(id: 1))
        _ = machine.messageWritten(Self.message("a"), volatile: false)
        _ = machine.flushRequested()
        // Poll 1 was answered: its connection closing later means nothing.
        #expect(machine.pollClosedPrematurely(Poll(id: 1)) == nil)
        _ = machine.getReceived(Poll(id: 2))
        let close = machine.pollClosedPrematurely(Poll(id: 2))
        #expect(close?.reason == .transportError)
        #expect(close?.answer == nil)
        #expect(close?.lingers == false)
        #expect(machine.isClosed)
    }

    @Test func getsAfterUpgradeOrCloseAreRefused() {
        var upgraded = Self.websocket()
        do { let result = upgraded.getReceived(Poll(id: 1)); #expect(result == .respond(.error(.badRequest))) }
        do {
            let result = upgraded.postReceived(body: ByteBuffer(string: "4a"), bodyTooLarge: false, isBinary: false)
            #expect(result == .respond(.error(.badRequest)))
        }
        var closed = Self.polling()
        _ = closed.closeRequested(reason: .forcedClose)
        do { let result = closed.getReceived(Poll(id: 1)); #expect(result == .respond(.error(.unknownSessionID))) }
        #expect(closed.otherMethodReceived() == .error(.unknownSessionID))
        #expect(Self.polling().otherMethodReceived() == .error(.badRequest))
    }

    // MARK: POST and linger

    @Test func postPassesItsPacketsOn() {
        var machine = Self.polling()
        let result = machine.postReceived(body: ByteBuffer(string: "4a\u{1e}bAQ=="), bodyTooLarge: false, isBinary: false)
        #expect(result == .accept([.message("a"), .binary(ByteBuffer(bytes: [1]))]))
        do { let result = machine.packetReceived(.message("a")); #expect(result == .deliver(.text(ByteBuffer(string: "a")))) }
    }

    @Test func badPostsAreRefused() {
        var tooLarge = Self.polling()
        do {
            let result = tooLarge.postReceived(body: nil, bodyTooLarge: true, isBinary: false)
            #expect(result == .respond(.status(.payloadTooLarge)))
        }
        #expect(!tooLarge.isClosed)

        var binary = Self.polling()
        guard case .refuseAndClose(.status(.badRequest), let binaryClose) =
            binary.postReceived(body: ByteBuffer(bytes: [1]), bodyTooLarge: false, isBinary: true)
        else {
            Issue.record("expected a refusal")
            return
        }
        #expect(binaryClose.reason == .transportError)

        var undecodable = Self.polling()
        guard case .refuseAndClose(.error(.badRequest), let parseClose) =
            undecodable.postReceived(body: ByteBuffer(string: "9"), bodyTooLarge: false, isBinary: false)
        else {
            Issue.record("expected a refusal")
            return
        }
        #expect(parseClose.reason == .parseError)
    }

    @Test func clientCloseInAPostLingersForTheLastGet() {
        var machine = Self.polling()
        guard let close = Self.closeAction(machine.packetReceived(.close)) else {
            Issue.record("expected a close")
            return
        }
        #expect(close.reason == .transportClose)
        #expect(close.lingers)
        #expect(close.answer == nil)
        #expect(machine.isClosed)
        #expect(machine.transport == .polling)
        // Anything but a GET meets a gone session; a websocket probe is refused.
        do {
            let result = machine.postReceived(body: ByteBuffer(string: "4a"), bodyTooLarge: false, isBinary: false)
            #expect(result == .respond(.error(.unknownSessionID)))
        }
        do { let result = machine.probeOpened(Connection(), onSessionLoop: true); #expect(result == .refuse) }
        do { let result = machine.packetReceived(.message("late")); #expect(result == .ignore) }
        do { let result = machine.messageWritten(Self.message("late"), volatile: false); #expect(result == .ignore) }
        // The last GET gets the noop, once; the linger timer then has nothing to do.
        do { let result = machine.getReceived(Poll(id: 1)); #expect(result == .endLinger(Self.payload("6"))) }
        do { let result = machine.getReceived(Poll(id: 2)); #expect(result == .respond(.error(.unknownSessionID))) }
        do { let result = machine.lingerTimerFired(); #expect(result == .ignore) }
    }

    @Test func lingerTimerForgetsASessionWhoseLastGetNeverCame() {
        var machine = Self.polling()
        _ = machine.packetReceived(.close)
        do { let result = machine.lingerTimerFired(); #expect(result == .forget) }
        do { let result = machine.getReceived(Poll(id: 1)); #expect(result == .respond(.error(.unknownSessionID))) }
    }

    @Test func clientCloseWithAHeldPollAnswersItWithANoop() {
        var machine = Self.polling()
        _ = machine.getReceived(Poll(id: 1))
        let close = Self.closeAction(machine.packetReceived(.close))
        #expect(close?.answer == Machine.PollAnswer(poll: Poll(id: 1), response: Self.payload("6")))
        #expect(close?.lingers == false)
    }

    // MARK: Receiving

    @Test func packetsFromTheClient() {
        var machine = Self.polling()
        do { let result = machine.packetReceived(.binary(ByteBuffer(bytes: [7]))); #expect(result == .deliver(.binary(ByteBuffer(bytes: [7])))) }
        do { let result = machine.packetReceived(.upgrade); #expect(result == .ignore) }
        do { let result = machine.packetReceived(.noop); #expect(result == .ignore) }
        // v4 heartbeats go server → client only.
        #expect(Self.closeAction(machine.packetReceived(.ping()))?.reason == .transportError)

        var opened = Self.polling()
        #expect(Self.closeAction(opened.packetReceived(.open(ByteBuffer())))?.reason == .parseError)
    }

    @Test func undecodableTextOnTheWebSocketIsAParseError() {
        let connection = Connection()
        var machine = Self.websocket(connection)
        guard case .close(let close) = machine.webSocketMessageReceived(.text("x"), from: connection) else {
            Issue.record("expected a close")
            return
        }
        #expect(close.reason == .parseError)
        #expect(close.webSocket === connection)
        #expect(close.webSocketCloseCode == .normalClosure)
        // Frames still queued behind the close change nothing.
        do { let result = machine.webSocketMessageReceived(.text("4a"), from: connection); #expect(result == .ignore) }
    }

    // MARK: Closing

    @Test func closeIsIdempotentAndTellsEachTransportHowToEnd() {
        let connection = Connection()
        var websocket = Self.websocket(connection)
        let close = websocket.closeRequested(reason: .serverShuttingDown)
        #expect(close?.webSocket === connection)
        #expect(close?.webSocketCloseCode == .goingAway)
        #expect(close?.lingers == false)
        #expect(websocket.closeRequested(reason: .forcedClose) == nil)
        #expect(websocket.transport == .websocket)

        // A draining server ends the held poll with a noop; a forced close with the close packet.
        var draining = Self.polling()
        _ = draining.getReceived(Poll(id: 1))
        #expect(draining.closeRequested(reason: .serverShuttingDown)?.answer?.response == Self.payload("6"))
        var forced = Self.polling()
        _ = forced.getReceived(Poll(id: 1))
        #expect(forced.closeRequested(reason: .forcedClose)?.answer?.response == Self.payload("1"))
        #expect(forced.isWritable)
        #expect(forced.queuedBytes == 0)
    }

    @Test func websocketClosedByTheClientDoesNotLinger() {
        let connection = Connection()
        var machine = Self.websocket(connection)
        do { let result = machine.webSocketClosed(Connection()); #expect(result == .ignore) }
        guard case .close(let close) = machine.webSocketClosed(connection) else {
            Issue.record("expected a close")
            return
        }
        #expect(close.reason == .transportClose)
        #expect(!close.lingers)
        do { let result = machine.webSocketClosed(connection); #expect(result == .ignore) }
    }

    // MARK: Backpressure

    @Test func pollQueueOverTheBoundClosesTheSlowClient() {
        var machine = Self.polling()
        let message = Self.message(String(repeating: "x", count: 40))   // 40 + "4" + a 2-byte frame header
        #expect(message.wireSize == 43)
        do { let result = machine.messageWritten(message, volatile: false); #expect(result == .queued) }
        #expect(machine.isWritable)
        do { let result = machine.messageWritten(message, volatile: false); #expect(result == .queued) }
        // Half the bound is reached: volatile messages are dropped, others still queued.
        #expect(!machine.isWritable)
        do { let result = machine.messageWritten(message, volatile: true); #expect(result == .droppedVolatile) }
        #expect(machine.queuedBytes == 86)
        guard case .close(let close) = machine.messageWritten(message, volatile: false) else {
            Issue.record("expected a close")
            return
        }
        #expect(close.reason == .transportError)
        #expect(close.slowClientBytes == 129)
        #expect(close.transport == .polling)
    }

    @Test func unwritableWebSocketCountsItsWritesAgainstTheBound() {
        let connection = Connection()
        var machine = Self.websocket(connection, onSessionLoop: false)
        let message = Self.message(String(repeating: "x", count: 40))
        // Writable: nothing is counted.
        for _ in 0..<5 {
            let result = machine.messageWritten(message, volatile: false)
            #expect(result == .writeFrames(connection, onSessionLoop: false))
        }
        machine.webSocketWritabilityChanged(connection, isWritable: false)
        #expect(!machine.isWritable)
        do { let result = machine.messageWritten(message, volatile: true); #expect(result == .droppedVolatile) }
        do { let result = machine.messageWritten(message, volatile: false); #expect(result == .writeFrames(connection, onSessionLoop: false)) }
        // A single packet counts its payload plus 10 bytes of framing.
        do { let result = machine.packetSent(.message("a")); #expect(result == .send(connection, .text("4a"))) }
        // Writable again: the count starts over.
        machine.webSocketWritabilityChanged(connection, isWritable: true)
        machine.webSocketWritabilityChanged(connection, isWritable: false)
        do { let result = machine.messageWritten(message, volatile: false); #expect(result == .writeFrames(connection, onSessionLoop: false)) }
        do { let result = machine.messageWritten(message, volatile: false); #expect(result == .writeFrames(connection, onSessionLoop: false)) }
        guard case .close(let close) = machine.messageWritten(message, volatile: false) else {
            Issue.record("expected a close")
            return
        }
        #expect(close.slowClientBytes == 129)
        #expect(close.transport == .websocket)
        #expect(close.webSocket === connection)
    }

    @Test func writabilityOfAnotherConnectionIsIgnored() {
        let connection = Connection()
        var machine = Self.websocket(connection)
        machine.webSocketWritabilityChanged(Connection(), isWritable: false)
        #expect(machine.isWritable)
    }

    // MARK: Upgrade

    @Test func probeThenUpgradeSwitchesToTheWebSocket() {
        let probe = Connection()
        var machine = Self.polling()
        _ = machine.getReceived(Poll(id: 1))
        do { let result = machine.probeOpened(probe, onSessionLoop: false); #expect(result == .armUpgradeTimer) }
        #expect(machine.transport == .polling)
        _ = machine.messageWritten(Self.message("queued"), volatile: false)
        // The probe is answered and the held poll released with a noop, so that the client pauses polling.
        do {
            let result = machine.webSocketMessageReceived(.text("2probe"), from: probe)
            #expect(result == .answerProbe(probe, .text("3probe"), releasing: Machine.PollAnswer(poll: Poll(id: 1), response: Self.payload("6"))))
        }
        // A GET meanwhile gets what is queued, or a noop.
        do { let result = machine.getReceived(Poll(id: 2)); #expect(result == .respond(Self.payload("4queued"))) }
        do { let result = machine.getReceived(Poll(id: 3)); #expect(result == .respond(Self.payload("6"))) }
        _ = machine.messageWritten(Self.message("later"), volatile: false)
        do {
            let result = machine.webSocketMessageReceived(.text("5"), from: probe)
            #expect(result == .upgraded(releasing: nil, queued: [.prepared(Self.message("later"))]))
        }
        #expect(machine.transport == .websocket)
        #expect(machine.webSocket === probe)
        #expect(machine.queuedBytes == 0)
        do { let result = machine.upgradeTimerFired(); #expect(result == .ignore) }
        do { let result = machine.messageWritten(Self.message("a"), volatile: false); #expect(result == .writeFrames(probe, onSessionLoop: false)) }
        do { let result = machine.flushRequested(); #expect(result == .flushWebSocket(probe, onSessionLoop: false)) }
        // No second upgrade.
        do { let result = machine.probeOpened(Connection(), onSessionLoop: true); #expect(result == .refuse) }
    }

    @Test func misbehavingProbesAreClosedAndTheSessionKeepsPolling() {
        let messages: [WebSocketMessage] = [.text("2other"), .text("5"), .text("4a"), .binary(ByteBuffer(bytes: [1])), .text("x")]
        for message in messages {
            let probe = Connection()
            var machine = Self.polling()
            _ = machine.probeOpened(probe, onSessionLoop: true)
            do { let result = machine.webSocketMessageReceived(message, from: probe); #expect(result == .closeProbe(probe)) }
            #expect(machine.transport == .polling)
            // Its later frames are ignored, and another probe may try.
            do { let result = machine.webSocketMessageReceived(.text("2probe"), from: probe); #expect(result == .ignore) }
            do { let result = machine.probeOpened(Connection(), onSessionLoop: true); #expect(result == .armUpgradeTimer) }
        }
        // After the answer, only `5` upgrades: a second ping aborts.
        let probe = Connection()
        var machine = Self.probed(probe)
        do { let result = machine.webSocketMessageReceived(.text("2probe"), from: probe); #expect(result == .closeProbe(probe)) }
    }

    @Test func onlyOneProbeAtATime() {
        let probe = Connection()
        var machine = Self.polling()
        _ = machine.probeOpened(probe, onSessionLoop: true)
        do { let result = machine.probeOpened(Connection(), onSessionLoop: true); #expect(result == .refuse) }
        var websocket = Self.websocket()
        do { let result = websocket.probeOpened(Connection(), onSessionLoop: true); #expect(result == .refuse) }
    }

    @Test func upgradeTimerAbortsAnUnfinishedUpgrade() {
        var machine = Self.polling()
        do { let result = machine.upgradeTimerFired(); #expect(result == .ignore) }
        let probing = Connection()
        _ = machine.probeOpened(probing, onSessionLoop: true)
        do { let result = machine.upgradeTimerFired(); #expect(result == .closeProbe(probing)) }
        let probed = Connection()
        machine = Self.probed(probed)
        do { let result = machine.upgradeTimerFired(); #expect(result == .closeProbe(probed)) }
        #expect(machine.transport == .polling)
    }

    @Test func closedProbeEndsTheUpgrade() {
        let probe = Connection()
        var machine = Self.probed(probe)
        do { let result = machine.webSocketClosed(probe); #expect(result == .probeClosed) }
        #expect(machine.transport == .polling)
        #expect(!machine.isClosed)
        do { let result = machine.upgradeTimerFired(); #expect(result == .ignore) }
    }

    @Test func closeDuringAnUpgradeClosesTheProbe() {
        let probe = Connection()
        var machine = Self.probed(probe)
        let close = machine.closeRequested(reason: .forcedClose)
        #expect(close?.probe === probe)
        #expect(close?.webSocket == nil)
        do { let result = machine.webSocketMessageReceived(.text("5"), from: probe); #expect(result == .ignore) }
        do { let result = machine.webSocketClosed(probe); #expect(result == .ignore) }
    }
}
