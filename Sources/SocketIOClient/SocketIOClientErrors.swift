import SocketIOProtocol

/// The server refused the namespace connection: CONNECT_ERROR `{"message":…,"data":…}`.
public struct SocketIOConnectError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var data: JSONValue?

    public init(message: String, data: JSONValue? = nil) {
        self.message = message
        self.data = data
    }

    public var description: String { message }
}

/// Why an operation on a client socket failed.
public struct SocketIOClientError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Kind: Hashable, Sendable { case ackTimeout, disconnected, reconnectFailed }
    let kind: Kind

    /// No acknowledgement within the timeout.
    public static let ackTimeout = SocketIOClientError(kind: .ackTimeout)
    /// The socket was disconnected (by `disconnect()` or the server) while waiting.
    public static let disconnected = SocketIOClientError(kind: .disconnected)
    /// Reconnection gave up before the socket could connect.
    public static let reconnectFailed = SocketIOClientError(kind: .reconnectFailed)

    public var description: String {
        switch kind {
        case .ackTimeout: "operation has timed out"
        case .disconnected: "socket has been disconnected"
        case .reconnectFailed: "reconnection failed"
        }
    }
}
