import SocketIOProtocol

/// An event received from a client, with the acknowledgement callback when the client asked for one.
public struct SocketIOEvent: Sendable {
    public let name: String
    public let args: [JSONValue]
    let acknowledge: (@Sendable ([JSONValue]) -> Void)?

    public init(name: String, args: [JSONValue], acknowledge: (@Sendable ([JSONValue]) -> Void)? = nil) {
        self.name = name
        self.args = args
        self.acknowledge = acknowledge
    }

    /// Whether the client is waiting for `ack`.
    public var wantsAck: Bool { acknowledge != nil }

    /// Answers the client's acknowledgement (the first call only; later calls do nothing).
    public func ack(_ args: JSONValue...) { acknowledge?(args) }
    public func ack(_ args: [JSONValue]) { acknowledge?(args) }

    public subscript(index: Int) -> JSONValue? { args.indices.contains(index) ? args[index] : nil }
}

/// Events a server may not emit, because clients reserve them.
let reservedEventNames: Set<String> = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]
