@testable import EngineIO
import Testing

/// The session's protocol logic on its own: events in, actions out, no I/O and no clock.
@Suite struct EngineIOSessionStateMachineTests {
    typealias Machine = EngineIOSessionStateMachine

    // MARK: Heartbeat

    @Test func timerSendsPingThenPongRearmsInterval() {
        var machine = Machine(transport: .polling)
        #expect(machine.heartbeat == .waitingToPing)
        do { let result = machine.heartbeatTimerFired(); #expect(result == .sendPingAndArmTimeout) }
        #expect(machine.heartbeat == .awaitingPong)
        do { let result = machine.pongReceived(); #expect(result == .armPingInterval) }
        #expect(machine.heartbeat == .waitingToPing)
        // The cycle repeats: the next ping is pingInterval after the pong.
        do { let result = machine.heartbeatTimerFired(); #expect(result == .sendPingAndArmTimeout) }
    }

    @Test func timerWhileAwaitingPongIsPingTimeout() {
        var machine = Machine(transport: .websocket)
        _ = machine.heartbeatTimerFired()
        do { let result = machine.heartbeatTimerFired(); #expect(result == .close(.pingTimeout)) }
    }

    @Test func unsolicitedPongIsIgnored() {
        var machine = Machine(transport: .polling)
        do { let result = machine.pongReceived(); #expect(result == .none) }
        #expect(machine.heartbeat == .waitingToPing)
        _ = machine.heartbeatTimerFired()
        _ = machine.pongReceived()
        // A second pong for the same ping changes nothing either.
        do { let result = machine.pongReceived(); #expect(result == .none) }
    }

    @Test func heartbeatEventsAfterCloseDoNothing() {
        var machine = Machine(transport: .polling)
        _ = machine.heartbeatTimerFired()
        do { let result = machine.close(); #expect(result) }
        do { let result = machine.heartbeatTimerFired(); #expect(result == .none) }
        do { let result = machine.pongReceived(); #expect(result == .none) }
    }

    // MARK: Upgrade

    @Test func probeThenUpgradeSwitchesToWebSocket() {
        var machine = Machine(transport: .polling)
        #expect(machine.acceptsPolling)
        do { let result = machine.probeTransportOpened(); #expect(result) }
        #expect(machine.upgrade == .probing)
        #expect(machine.isUpgrading)
        do { let result = machine.probePingReceived(payloadIsProbe: true); #expect(result == .answerProbe) }
        #expect(machine.upgrade == .probed)
        #expect(machine.isUpgrading)
        #expect(machine.acceptsPolling)
        do { let result = machine.probeUpgradeReceived(); #expect(result == .switchToWebSocket) }
        #expect(machine.upgrade == .upgraded)
        #expect(machine.transport == .websocket)
        #expect(!machine.isUpgrading)
        #expect(!machine.acceptsPolling)
    }

    @Test func upgradeBeforeProbeAborts() {
        var machine = Machine(transport: .polling)
        _ = machine.probeTransportOpened()
        do { let result = machine.probeUpgradeReceived(); #expect(result == .abortProbe) }
        #expect(machine.upgrade == .none)
        #expect(machine.transport == .polling)
        // The session may try again with a new websocket.
        do { let result = machine.probeTransportOpened(); #expect(result) }
    }

    @Test func pingWithoutProbePayloadAborts() {
        var machine = Machine(transport: .polling)
        _ = machine.probeTransportOpened()
        do { let result = machine.probePingReceived(payloadIsProbe: false); #expect(result == .abortProbe) }
        #expect(machine.upgrade == .none)
    }

    @Test func otherPacketDuringProbeAborts() {
        for answerProbeFirst in [false, true] {
            var machine = Machine(transport: .polling)
            _ = machine.probeTransportOpened()
            if answerProbeFirst { _ = machine.probePingReceived(payloadIsProbe: true) }
            do { let result = machine.probeOtherPacketReceived(); #expect(result == .abortProbe) }
            #expect(machine.upgrade == .none)
            #expect(machine.transport == .polling)
        }
    }

    @Test func secondProbePingAborts() {
        var machine = Machine(transport: .polling)
        _ = machine.probeTransportOpened()
        _ = machine.probePingReceived(payloadIsProbe: true)
        do { let result = machine.probePingReceived(payloadIsProbe: true); #expect(result == .abortProbe) }
    }

    @Test func upgradeTimerAbortsOnlyAnUnfinishedUpgrade() {
        var machine = Machine(transport: .polling)
        do { let result = machine.upgradeTimerFired(); #expect(result == .ignore) }
        _ = machine.probeTransportOpened()
        do { let result = machine.upgradeTimerFired(); #expect(result == .abortProbe) }
        #expect(machine.upgrade == .none)

        _ = machine.probeTransportOpened()
        _ = machine.probePingReceived(payloadIsProbe: true)
        do { let result = machine.upgradeTimerFired(); #expect(result == .abortProbe) }

        _ = machine.probeTransportOpened()
        _ = machine.probePingReceived(payloadIsProbe: true)
        _ = machine.probeUpgradeReceived()
        do { let result = machine.upgradeTimerFired(); #expect(result == .ignore) }
        #expect(machine.transport == .websocket)
    }

    @Test func onlyOneProbeAtATimeAndNoneAfterUpgrade() {
        var machine = Machine(transport: .polling)
        do { let result = machine.probeTransportOpened(); #expect(result) }
        do { let result = machine.probeTransportOpened(); #expect(!result) }
        _ = machine.probePingReceived(payloadIsProbe: true)
        _ = machine.probeUpgradeReceived()
        do { let result = machine.probeTransportOpened(); #expect(!result) }
        var websocketSession = Machine(transport: .websocket)
        do { let result = websocketSession.probeTransportOpened(); #expect(!result) }
    }

    @Test func closedProbeTransportEndsTheUpgrade() {
        var machine = Machine(transport: .polling)
        _ = machine.probeTransportOpened()
        _ = machine.probePingReceived(payloadIsProbe: true)
        machine.probeTransportClosed()
        #expect(machine.upgrade == .none)
        #expect(!machine.isUpgrading)
        #expect(machine.transport == .polling)
    }

    // MARK: Close

    @Test func closeIsIdempotent() {
        var machine = Machine(transport: .polling)
        do { let result = machine.close(); #expect(result) }
        #expect(machine.closed)
        do { let result = machine.close(); #expect(!result) }
        #expect(!machine.acceptsPolling)
        do { let result = machine.probeTransportOpened(); #expect(!result) }
    }

    @Test func probeEventsAfterCloseAbort() {
        var machine = Machine(transport: .polling)
        _ = machine.probeTransportOpened()
        _ = machine.close()
        do { let result = machine.probePingReceived(payloadIsProbe: true); #expect(result == .abortProbe) }
        do { let result = machine.probeUpgradeReceived(); #expect(result == .abortProbe) }
        #expect(machine.transport == .polling)
    }
}
