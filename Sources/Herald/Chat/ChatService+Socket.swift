import NIOCore
import SocketIO
import SocketIOProtocol
import HeraldStore

extension ChatService {
    /// `chat:send {room, text, clientMessageId?}` → validate → store → broadcast `chat:message` → ack `{ok, id}`.
    func send(_ socket: Socket, _ event: SocketIOEvent) {
        let request: SendRequest
        do {
            request = try SendRequest(event[0], maxLength: configuration.maxMessageLength, maxBytes: configuration.maxMessageBytes,
                                      maxRoomBytes: socket.namespace.server.configuration.maxRoomNameBytes)
        } catch {
            event.ack(error.ack)
            return
        }
        guard socket.rooms.contains(request.room) else {
            event.ack(ChatError(.notInRoom, "join \(request.room) before sending to it").ack)
            return
        }
        guard let store else {
            event.ack(ChatError(.storageUnavailable, "the message store is not open").ack)
            return
        }
        let message = NewMessage(room: request.room, sender: Self.sender(of: socket), text: request.text,
                                 timeMilliseconds: wallClockMilliseconds(), clientMessageID: request.clientMessageID)
        // The write is never cancelled: if the deadline answers first, a late success still broadcasts, and a
        // retry with the same clientMessageId then gets the stored id. `event.ack` only sends its first answer.
        let timeout = configuration.storeTimeout
        let deadline = socket.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            event.ack(ChatError(.storageUnavailable, "the message store did not answer within \(timeout)").ack)
        }
        let namespace = socket.namespace
        let logger = self.logger
        Task {
            do {
                let result = try await store.append(message)
                // Broadcast exactly when a row was created, so a retried send is never shown twice.
                if result.isCreated {
                    namespace.to(message.room).emit("chat:message", result.message.json)
                }
                deadline.cancel()
                event.ack(["ok": true, "id": .string(String(result.message.id))])
            } catch {
                deadline.cancel()
                logger.warning("chat message not stored", metadata: [
                    "room": "\(message.room)", "error": "\(String(reflecting: error))",
                ])
                event.ack(ChatError(.storageUnavailable, "the message store is unavailable; retry with the same clientMessageId").ack)
            }
        }
    }

    /// `chat:join {room}` (or `"room"`): joins when the authorizer allows, acks `{ok}`, then sends `chat:history`.
    func join(_ socket: Socket, _ event: SocketIOEvent) {
        let name: String
        switch event[0] {
        case .string(let text)?: name = text
        case .object(let object)?:
            guard case .string(let text)? = object["room"] else {
                event.ack(ChatError(.invalidPayload, "expected {room}").ack)
                return
            }
            name = text
        default:
            event.ack(ChatError(.invalidPayload, "expected {room}").ack)
            return
        }
        let roomName: RoomName
        do throws(ChatError) {
            roomName = try Self.roomName(name, maxBytes: socket.namespace.server.configuration.maxRoomNameBytes)
        } catch {
            event.ack(error.ack)
            return
        }
        let room = roomName.rawValue
        guard Self.isChatRoom(room) else {
            event.ack(ChatError(.notChatRoom, "chat rooms start with \(ChatConfiguration.roomPrefix)").ack)
            return
        }
        guard authorize(room, claims: Self.claims(of: socket)) else {
            event.ack(ChatError(.forbidden, "not allowed to join \(room)").ack)
            return
        }
        switch reserveJoin(socket, room: room) {
        case .alreadyIn:
            // A repeated join changes nothing and sends no second history: the client has it already.
            event.ack(["ok": true])
        case .tooManyRooms:
            event.ack(ChatError(.tooManyRooms, "at most \(configuration.maxRooms) chat rooms per connection").ack)
        case .reserved:
            // Acked once a message sent from any node reaches the socket, so nothing after the ack is missed.
            Task {
                let joined: RoomLimitError?
                do throws(RoomLimitError) {
                    try await socket.joinReachable([roomName])
                    joined = nil
                } catch {
                    joined = error
                }
                state.withLock { state in
                    state.joining[socket.id]?.remove(room)
                    if state.joining[socket.id]?.isEmpty == true { state.joining[socket.id] = nil }
                }
                if let refusal = joined {
                    // The server's cap on rooms per socket, over every kind of room.
                    event.ack(ChatError(.tooManyRooms, refusal.description).ack)
                    return
                }
                event.ack(["ok": true])
                didJoin(socket, room: room)
            }
        }
    }

    enum JoinReservation { case reserved, alreadyIn, tooManyRooms }

    /// `name` as a checked room name, or `invalid_room` saying why not.
    static func roomName(_ name: String, maxBytes: Int) throws(ChatError) -> RoomName {
        do {
            return try RoomName(name, maxBytes: maxBytes)
        } catch {
            throw ChatError(.invalidRoom, error.description)
        }
    }

    /// Counts joins still on their way with the rooms the socket is in, so a burst of joins cannot pass the cap
    /// nor a quick repeat send the history twice.
    private func reserveJoin(_ socket: Socket, room: String) -> JoinReservation {
        let rooms = socket.rooms
        return state.withLock { state in
            let joining = state.joining[socket.id, default: []]
            if rooms.contains(room) || joining.contains(room) { return .alreadyIn }
            let chatRooms = rooms.lazy.filter(Self.isChatRoom).count + joining.count
            guard chatRooms < configuration.maxRooms else { return .tooManyRooms }
            state.joining[socket.id, default: []].insert(room)
            return .reserved
        }
    }

    /// Sends the room's recent messages as `chat:history {room, messages, next}` (oldest first; `next` pages
    /// further back through the history API). Call after the socket joined, so nothing sent meanwhile is missed:
    /// a message may then arrive both in the history and as `chat:message`; clients dedupe by id.
    /// Does nothing for rooms that are not chat rooms. A store failure sends empty history with an `error`.
    public func didJoin(_ socket: Socket, room: String) {
        guard Self.isChatRoom(room), configuration.historyOnJoin > 0 else { return }
        let limit = configuration.historyOnJoin
        let maxBytes = configuration.historyMaxBytes
        Task {
            do throws(ChatError) {
                let page = try await withStore { store in try await store.page(room: room, before: nil, limit: limit) }
                var payload = page.json(maxBytes: maxBytes)
                payload["room"] = .string(room)
                socket.emit("chat:history", .object(payload))
            } catch {
                socket.emit("chat:history", ["room": .string(room), "messages": [], "next": nil, "error": error.json])
            }
        }
    }

    static func isChatRoom(_ room: String) -> Bool {
        room.hasPrefix(ChatConfiguration.roomPrefix) && room.count > ChatConfiguration.roomPrefix.count
    }
}

/// A validated `chat:send` payload.
struct SendRequest: Equatable {
    var room: String
    var text: String
    var clientMessageID: String?

    init(room: String, text: String, clientMessageID: String?) {
        self.room = room
        self.text = text
        self.clientMessageID = clientMessageID
    }

    init(_ payload: JSONValue?, maxLength: Int, maxBytes: Int, maxRoomBytes: Int = RoomName.defaultMaxBytes) throws(ChatError) {
        guard case .object(let object)? = payload else {
            throw ChatError(.invalidPayload, "expected {room, text, clientMessageId?}")
        }
        guard case .string(let room)? = object["room"] else { throw ChatError(.invalidPayload, "room must be a string") }
        _ = try ChatService.roomName(room, maxBytes: maxRoomBytes)
        guard ChatService.isChatRoom(room) else {
            throw ChatError(.notChatRoom, "chat rooms start with \(ChatConfiguration.roomPrefix)")
        }
        guard case .string(let text)? = object["text"] else { throw ChatError(.invalidPayload, "text must be a string") }
        // Bytes first: counting characters walks the whole text, and one character can be 600 KB of marks.
        guard text.utf8.count <= maxBytes else { throw ChatError(.textTooLong, "text is longer than \(maxBytes) bytes") }
        // Whitespace alone renders as nothing, so it counts as empty.
        guard text.contains(where: { !$0.isWhitespace }) else { throw ChatError(.emptyText, "text is empty") }
        guard text.count <= maxLength else { throw ChatError(.textTooLong, "text is longer than \(maxLength) characters") }
        switch object["clientMessageId"] {
        case nil, .null?:
            clientMessageID = nil
        case .string(let id)? where !id.isEmpty && id.count <= ChatConfiguration.maxClientMessageIDLength:
            clientMessageID = id
        default:
            throw ChatError(.invalidPayload, "clientMessageId must be a string of 1 to \(ChatConfiguration.maxClientMessageIDLength) characters")
        }
        self.room = room
        self.text = text
    }
}
