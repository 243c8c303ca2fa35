/// The protocol logic of one session — heartbeat, transport, upgrade — as a value type driven by past-tense events.
/// The session object turns the returned actions into timers and writes; nothing here touches I/O or a clock.
struct EngineIOSessionStateMachine: Sendable {
    enum Transport: Equatable, Sendable { case polling, websocket }
    enum Upgrade: Equatable, Sendable { case none, probing, probed, upgraded }
    enum Heartbeat: Equatable, Sendable { case waitingToPing, awaitingPong }

    private(set) var transport: Transport
    private(set) var upgrade: Upgrade = .none
    private(set) var heartbeat: Heartbeat = .waitingToPing
    private(set) var closed = false

    init(transport: Transport) { self.transport = transport }

    enum HeartbeatAction: Equatable, Sendable {
        /// Send a ping now and arm the timer for pingTimeout.
        case sendPingAndArmTimeout
        /// Arm the timer for pingInterval.
        case armPingInterval
        case close(EngineIOCloseReason)
        case none
    }

    mutating func heartbeatTimerFired() -> HeartbeatAction {
        guard !closed else { return .none }
        switch heartbeat {
        case .waitingToPing:
            heartbeat = .awaitingPong
            return .sendPingAndArmTimeout
        case .awaitingPong:
            return .close(.pingTimeout)
        }
    }

    mutating func pongReceived() -> HeartbeatAction {
        guard !closed, heartbeat == .awaitingPong else { return .none }
        heartbeat = .waitingToPing
        return .armPingInterval
    }

    enum ProbeAction: Equatable, Sendable {
        /// Answer `3probe` and release the pending poll with a noop.
        case answerProbe
        /// The probe transport misbehaved: close it, the session keeps polling.
        case abortProbe
        /// Switch the session onto the websocket and flush what polling had queued.
        case switchToWebSocket
        case ignore
    }

    /// A websocket with this session's id completed its HTTP upgrade.
    mutating func probeTransportOpened() -> Bool {
        guard !closed, transport == .polling, upgrade == .none else { return false }
        upgrade = .probing
        return true
    }

    mutating func probePingReceived(payloadIsProbe: Bool) -> ProbeAction {
        guard !closed, upgrade == .probing, payloadIsProbe else { return abortProbe() }
        upgrade = .probed
        return .answerProbe
    }

    mutating func probeUpgradeReceived() -> ProbeAction {
        guard !closed, upgrade == .probed else { return abortProbe() }
        upgrade = .upgraded
        transport = .websocket
        return .switchToWebSocket
    }

    mutating func probeOtherPacketReceived() -> ProbeAction { abortProbe() }

    mutating func upgradeTimerFired() -> ProbeAction {
        guard upgrade == .probing || upgrade == .probed else { return .ignore }
        return abortProbe()
    }

    mutating func probeTransportClosed() {
        if upgrade == .probing || upgrade == .probed { upgrade = .none }
    }

    private mutating func abortProbe() -> ProbeAction {
        if upgrade == .probing || upgrade == .probed { upgrade = .none }
        return .abortProbe
    }

    /// Whether a polling request may reach this session (it may not once upgraded).
    var acceptsPolling: Bool { transport == .polling && !closed }

    /// Polls during an upgrade get a noop so the client can pause polling.
    var isUpgrading: Bool { upgrade == .probing || upgrade == .probed }

    /// Returns false when the session was already closed.
    mutating func close() -> Bool {
        guard !closed else { return false }
        closed = true
        return true
    }
}
