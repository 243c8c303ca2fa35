import SocketIOProtocol

/// Thrown by middleware to refuse a connection: the client receives CONNECT_ERROR `{"message":…,"data":…}`.
public struct ConnectError: Error, Sendable, Hashable {
    public var message: String
    public var data: JSONValue?

    public init(_ message: String, data: JSONValue? = nil) {
        self.message = message
        self.data = data
    }
}

/// Why an acknowledgement did not arrive.
public struct AckError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Kind: Hashable, Sendable { case timeout, disconnected }
    let kind: Kind

    /// The client did not acknowledge within the timeout.
    public static let timeout = AckError(kind: .timeout)
    /// The socket disconnected before acknowledging.
    public static let disconnected = AckError(kind: .disconnected)

    public var description: String {
        switch kind {
        case .timeout: "operation has timed out"
        case .disconnected: "socket has been disconnected"
        }
    }
}
