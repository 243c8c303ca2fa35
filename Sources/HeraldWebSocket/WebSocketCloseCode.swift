/// A close status code (RFC 6455 section 7.4).
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let normalClosure = WebSocketCloseCode(rawValue: 1000)
    public static let goingAway = WebSocketCloseCode(rawValue: 1001)
    public static let protocolError = WebSocketCloseCode(rawValue: 1002)
    public static let unsupportedData = WebSocketCloseCode(rawValue: 1003)
    /// Never sent on the wire: reported when a Close frame carried no code.
    public static let noStatusReceived = WebSocketCloseCode(rawValue: 1005)
    /// Never sent on the wire: reported when the connection ended without a Close frame.
    public static let abnormalClosure = WebSocketCloseCode(rawValue: 1006)
    public static let invalidFramePayloadData = WebSocketCloseCode(rawValue: 1007)
    public static let policyViolation = WebSocketCloseCode(rawValue: 1008)
    public static let messageTooBig = WebSocketCloseCode(rawValue: 1009)
    public static let mandatoryExtension = WebSocketCloseCode(rawValue: 1010)
    public static let internalServerError = WebSocketCloseCode(rawValue: 1011)

    /// Whether a peer may put this code in a Close frame: 1000–1003, 1007–1014 (IANA-registered) and the
    /// registered/private ranges 3000–4999. Everything else (1004–1006, 1015, other unassigned
    /// 1xxx and 2xxx, ≥ 5000) is a protocol error.
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014: return true
        case 3000...4999: return true
        default: return false
        }
    }

    public var description: String {
        let name: String
        switch rawValue {
        case 1000: name = "normalClosure"
        case 1001: name = "goingAway"
        case 1002: name = "protocolError"
        case 1003: name = "unsupportedData"
        case 1005: name = "noStatusReceived"
        case 1006: name = "abnormalClosure"
        case 1007: name = "invalidFramePayloadData"
        case 1008: name = "policyViolation"
        case 1009: name = "messageTooBig"
        case 1010: name = "mandatoryExtension"
        case 1011: name = "internalServerError"
        default: return "\(rawValue)"
        }
        return "\(rawValue) \(name)"
    }
}
