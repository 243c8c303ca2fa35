/// The HTTP-level error codes of the Engine.IO server, with the reference server's messages.
public enum EngineIOErrorCode: Int, Error, Sendable, CaseIterable, CustomStringConvertible {
    case unknownTransport = 0
    case unknownSessionID = 1
    case badHandshakeMethod = 2
    case badRequest = 3
    case forbidden = 4
    case unsupportedProtocolVersion = 5

    public var message: String {
        switch self {
        case .unknownTransport: "Transport unknown"
        case .unknownSessionID: "Session ID unknown"
        case .badHandshakeMethod: "Bad handshake method"
        case .badRequest: "Bad request"
        case .forbidden: "Forbidden"
        case .unsupportedProtocolVersion: "Unsupported protocol version"
        }
    }

    /// 403 for forbidden, 400 for everything else.
    public var httpStatus: Int { self == .forbidden ? 403 : 400 }

    /// `{"code":N,"message":"..."}` — the messages need no JSON escaping.
    public var jsonBody: String { #"{"code":\#(rawValue),"message":"\#(message)"}"# }

    public var description: String { message }
}
