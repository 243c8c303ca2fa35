/// A chat message as the store keeps it.
public struct StoredMessage: Sendable, Hashable {
    /// Assigned by the store; increasing within a store, so it doubles as the paging cursor.
    public var id: Int64
    public var room: String
    public var sender: String
    public var text: String
    /// Milliseconds since 1970 UTC; integer milliseconds so both stores keep exactly the same value.
    public var timeMilliseconds: Int64
    public var clientMessageID: String?

    public init(id: Int64, room: String, sender: String, text: String, timeMilliseconds: Int64, clientMessageID: String?) {
        self.id = id
        self.room = room
        self.sender = sender
        self.text = text
        self.timeMilliseconds = timeMilliseconds
        self.clientMessageID = clientMessageID
    }
}

/// A message to store; the store assigns the id.
public struct NewMessage: Sendable, Hashable {
    public var room: String
    public var sender: String
    public var text: String
    public var timeMilliseconds: Int64
    /// With a client id, storing the same (room, sender, client id) again returns the first message.
    public var clientMessageID: String?

    public init(room: String, sender: String, text: String, timeMilliseconds: Int64, clientMessageID: String? = nil) {
        self.room = room
        self.sender = sender
        self.text = text
        self.timeMilliseconds = timeMilliseconds
        self.clientMessageID = clientMessageID
    }

    func stored(id: Int64) -> StoredMessage {
        StoredMessage(id: id, room: room, sender: sender, text: text, timeMilliseconds: timeMilliseconds, clientMessageID: clientMessageID)
    }
}

/// What `append` did.
public enum AppendResult: Sendable, Hashable {
    /// A new message was stored.
    case created(StoredMessage)
    /// The (room, sender, client id) was already stored: this is the earlier message, nothing was written.
    case existing(StoredMessage)

    public var message: StoredMessage {
        switch self {
        case .created(let message), .existing(let message): message
        }
    }

    public var isCreated: Bool {
        if case .created = self { true } else { false }
    }
}

/// One page of a room's history.
public struct MessagePage: Sendable, Hashable {
    /// Oldest first.
    public var messages: [StoredMessage]
    /// Pass as `before` for the next older page; nil when there is nothing older.
    public var next: Int64?

    public init(messages: [StoredMessage], next: Int64?) {
        self.messages = messages
        self.next = next
    }
}
