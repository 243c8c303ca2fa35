/// A Socket.IO packet the decoder refuses. Equality compares the kind only, so tests and
/// callers can match `SocketIOProtocolError.invalidPayload`; `description` carries details.
public struct SocketIOProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case invalidType
        case invalidNamespace
        case invalidAckId
        case invalidPayload
        case invalidJSON
        case unexpectedBinary
        case unexpectedText
        case tooManyAttachments
        case illegalAttachmentsCount
        case badPlaceholder
        case attachmentsTooLarge
    }

    private let base: Base
    /// The underlying JSON error for `invalidJSON`.
    public let jsonError: JSONParseError?

    private init(_ base: Base, jsonError: JSONParseError? = nil) {
        self.base = base
        self.jsonError = jsonError
    }

    /// The first character is not a packet type digit 0–6.
    public static let invalidType = Self(.invalidType)
    /// The namespace does not start with "/" (or contains ",", which would break framing).
    public static let invalidNamespace = Self(.invalidNamespace)
    /// The ack id does not fit in an Int, or is negative.
    public static let invalidAckId = Self(.invalidAckId)
    /// The JSON payload is not allowed for the packet type (reference `isPayloadValid`).
    public static let invalidPayload = Self(.invalidPayload)
    /// The payload is not valid JSON.
    public static let invalidJSON = Self(.invalidJSON)
    /// A binary attachment arrived while no binary packet was waiting for one.
    public static let unexpectedBinary = Self(.unexpectedBinary)
    /// A text packet arrived while attachments of the previous packet were still due.
    public static let unexpectedText = Self(.unexpectedText)
    /// The packet announced more attachments than the decoder allows.
    public static let tooManyAttachments = Self(.tooManyAttachments)
    /// The attachment count of a binary packet is missing or not a decimal number followed by "-".
    public static let illegalAttachmentsCount = Self(.illegalAttachmentsCount)
    /// A `{"_placeholder":true}` object whose `num` is not an integer index of an attachment.
    public static let badPlaceholder = Self(.badPlaceholder)

    /// The attachments of one packet together exceed the decoder's `maxAttachmentBytes`.
    public static let attachmentsTooLarge = Self(.attachmentsTooLarge)

    static func invalidJSON(_ error: JSONParseError) -> Self { Self(.invalidJSON, jsonError: error) }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.base == rhs.base }
    public func hash(into hasher: inout Hasher) { hasher.combine(base) }

    public var description: String {
        switch base {
        case .invalidType: return "unknown packet type"
        case .invalidNamespace: return "invalid namespace"
        case .invalidAckId: return "invalid ack id"
        case .invalidPayload: return "invalid payload"
        case .invalidJSON: return "invalid payload: \(jsonError.map(String.init(describing:)) ?? "invalid JSON")"
        case .unexpectedBinary: return "got binary data when not reconstructing a packet"
        case .unexpectedText: return "got plaintext data when reconstructing a packet"
        case .tooManyAttachments: return "too many attachments"
        case .illegalAttachmentsCount: return "Illegal attachments"
        case .badPlaceholder: return "illegal attachments"
        case .attachmentsTooLarge: return "attachments too large"
        }
    }
}
