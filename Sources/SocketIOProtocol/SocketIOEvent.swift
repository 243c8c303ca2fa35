/// An event received from the peer (a client on the server, the server on the client), with the
/// acknowledgement callback when the peer asked for one.
public struct SocketIOEvent: Sendable {
    public let name: String
    public let args: [JSONValue]
    let acknowledge: (@Sendable ([JSONValue]) -> Void)?

    public init(name: String, args: [JSONValue], acknowledge: (@Sendable ([JSONValue]) -> Void)? = nil) {
        self.name = name
        self.args = args
        self.acknowledge = acknowledge
    }

    /// Whether the peer is waiting for `ack`.
    public var wantsAck: Bool { acknowledge != nil }

    /// Answers the peer's acknowledgement (the first call only; later calls do nothing).
    public func ack(_ args: JSONValue...) { acknowledge?(args) }
    public func ack(_ args: [JSONValue]) { acknowledge?(args) }

    public subscript(index: Int) -> JSONValue? { args.indices.contains(index) ? args[index] : nil }
}
