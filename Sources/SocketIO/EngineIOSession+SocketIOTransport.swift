import EngineIO
import SocketIOProtocol

/// An Engine.IO session is Socket.IO's transport in a server; it reports to its connection as its delegate.
extension EngineIOSession: SocketIOTransport {
    package var kind: EngineIOTransportKind { transport }

    package func handshake(auth: JSONValue) -> SocketIOHandshake {
        SocketIOHandshake(auth: auth, request: request)
    }

    package func attach(_ connection: SocketIOConnection) { delegate = connection }
}

extension SocketIOConnection: EngineIOSessionDelegate {
    package func session(_ session: EngineIOSession, didReceive message: EngineIOMessage) { receive(message) }

    package func session(_ session: EngineIOSession, didCloseWith reason: EngineIOCloseReason) { transportClosed(reason) }
}
