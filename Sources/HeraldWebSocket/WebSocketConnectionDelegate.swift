/// Receives a connection's events. Every call happens on the connection's event loop.
public protocol WebSocketConnectionDelegate: AnyObject {
    /// A complete data message (fragments already reassembled; text already UTF-8 validated).
    func webSocket(_ connection: WebSocketConnection, didReceive message: WebSocketMessage)
    /// Called exactly once, when the channel is gone. `code` is the code from the peer's Close
    /// frame (1005 if it carried none), or 1006 when no Close frame was received.
    func webSocket(_ connection: WebSocketConnection, didCloseWith code: WebSocketCloseCode, reason: String)
    /// The channel's writability changed (outbound buffer crossed a watermark).
    func webSocket(_ connection: WebSocketConnection, writabilityChanged isWritable: Bool)
}

extension WebSocketConnectionDelegate {
    public func webSocket(_ connection: WebSocketConnection, writabilityChanged isWritable: Bool) {}
}
