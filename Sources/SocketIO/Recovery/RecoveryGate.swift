import SocketIOProtocol

/// Decides whether a returning client may take its saved session back, and with which `data`: the namespace
/// asks it after the adapter found the session and before anything is replayed. nil refuses: the client gets
/// a new session (`recovered` false) that runs the middleware like any connection. A gate may not shrink the
/// rooms (the missed events were chosen by them), so it refuses a session holding a room it would not grant.
public typealias RecoveryGate = @Sendable (_ session: RecoverableSession, _ handshake: SocketIOHandshake) async -> JSONValue?

