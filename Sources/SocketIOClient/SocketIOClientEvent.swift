import SocketIOProtocol

/// An event from the server, with the acknowledgement callback when the server asked for one.
public struct SocketIOClientEvent: Sendable {
    public let name: String
    public let args: [JSONValue]
    let acknowledge: (@Sendable ([JSONValue]) -> Void)?

    public init(name: String, args: [JSONValue], acknowledge: (@Sendable ([JSONValue]) -> Void)? = nil) {
        self.name = name
        self.args = args
        self.acknowledge = acknowledge
    }

    /// Whether the server waits for `ack`.
    public var wantsAck: Bool { acknowledge != nil }

    /// Answers the server's acknowledgement (the first call only).
    public func ack(_ args: JSONValue...) { acknowledge?(args) }
    public func ack(_ args: [JSONValue]) { acknowledge?(args) }

    public subscript(index: Int) -> JSONValue? { args.indices.contains(index) ? args[index] : nil }
}
