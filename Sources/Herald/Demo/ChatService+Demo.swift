import SocketIO
import HeraldStore

extension ChatService {
    /// Stores a message from a server-side sender (the demo bot) and broadcasts it like `chat:send` does.
    /// `clientMessageID` makes a repeated post (a restart on a kept database) store nothing.
    func post(_ text: String, room: String, sender: String, clientMessageID: String? = nil, to namespace: Namespace) async throws {
        guard let store else { throw ChatError(.storageUnavailable, "the message store is not open") }
        let result = try await store.append(NewMessage(
            room: room, sender: sender, text: text, timeMilliseconds: wallClockMilliseconds(), clientMessageID: clientMessageID))
        if result.isCreated { namespace.to(room).emit("chat:message", result.message.json) }
    }
}
