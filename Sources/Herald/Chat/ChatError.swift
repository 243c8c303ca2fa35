import SocketIOProtocol

/// An error answered in a `chat:*` ack (`{"ok":false,"error":{"code","message"}}`) or an HTTP body (`{"error":{…}}`).
public struct ChatError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Code
    public let message: String

    /// Wire codes; clients switch on these, so they never change meaning.
    public enum Code: String, Sendable {
        /// The payload is not `{room, text, clientMessageId?}` (or `{room}` for `chat:join`).
        case invalidPayload = "invalid_payload"
        /// The room is not a chat room (`chat:` prefix).
        case notChatRoom = "not_chat_room"
        /// `chat:send` to a room this socket has not joined.
        case notInRoom = "not_in_room"
        /// The room name is empty, too long or has control characters.
        case invalidRoom = "invalid_room"
        /// (`chat:join`) the socket is already in `maxRooms` chat rooms.
        case tooManyRooms = "too_many_rooms"
        /// The room authorizer refused.
        case forbidden
        case emptyText = "empty_text"
        case textTooLong = "text_too_long"
        /// The store failed or did not answer in time; nothing is known to be stored. Retry with the same clientMessageId.
        case storageUnavailable = "storage_unavailable"
        /// A bad history API parameter.
        case badRequest = "bad_request"
    }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    var json: JSONValue { ["code": .string(code.rawValue), "message": .string(message)] }
    var ack: JSONValue { ["ok": false, "error": json] }
}
