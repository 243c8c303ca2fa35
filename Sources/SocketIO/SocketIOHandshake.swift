import EngineIO
import NIOCore
import NIOHTTP1
import SocketIOProtocol

/// What a socket was opened with: the CONNECT auth payload and the HTTP request.
public struct SocketIOHandshake: Sendable {
    /// The CONNECT packet's payload; an empty object when the client sent none.
    public var auth: JSONValue
    public var headers: HTTPHeaders
    public var query: [String: String]
    public var url: String
    public var remoteAddress: SocketAddress?

    /// The client's IP address, as text.
    public var address: String { remoteAddress?.ipAddress ?? "" }
}
