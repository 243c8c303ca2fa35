import Foundation
import Herald
import HeraldTesting
import NIOPosix
import SocketIOProtocol
import HeraldStore
import Testing

/// Chat over real sockets against a real node (SQLite in memory unless a test says otherwise).
@Suite struct ChatLiveTests {
    @Test func sendStoresBroadcastsToTheRoomAndAcksTheStoredID() async throws {
        let node = try await ChatTestNode.start { node in
            // What the auth work will do: the verified subject in socket.data.
            node.io.use { socket in
                if let user = socket.handshake.auth["user"]?.stringValue { socket.data = ["sub": .string(user)] }
            }
        }
        let aliceRaw = try await RawSocketIOClient.open(port: node.port, group: MultiThreadedEventLoopGroup.singleton)
        try await aliceRaw.connect(auth: #"{"user":"alice"}"#)
        let alice = ChatTestClient(raw: aliceRaw)
        let bob = try await node.client()
        try await alice.join("chat:42")
        try await bob.join("chat:42")
        _ = try await alice.next("chat:history")
        _ = try await bob.next("chat:history")

        // A sender in the payload is ignored: the sender comes from socket.data only.
        let ack = try await alice.emitWithAck("chat:send", ["room": "chat:42", "text": "hello", "sender": "mallory", "clientMessageId": "c-1"])
        #expect(ack["ok"] == true, "\(ack)")
        let id = try #require(ack["id"]?.stringValue)
        let seenByBob = try await bob.next("chat:message")
        let seenByAlice = try await alice.next("chat:message")
        #expect(seenByBob == seenByAlice)
        #expect(seenByBob["id"]?.stringValue == id)
        #expect(seenByBob["room"] == "chat:42")
        #expect(seenByBob["sender"] == "alice")
        #expect(seenByBob["text"] == "hello")
        #expect(seenByBob["clientMessageId"] == "c-1")
        let time = try #require(seenByBob["time"]?.stringValue)
        #expect(time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(time)")

        // Without a sub claim the sender is the documented anonymous id.
        let bobAck = try await bob.send("chat:42", "hi alice")
        #expect(bobAck["ok"] == true)
        let fromBob = try await alice.next("chat:message")
        #expect(fromBob["sender"]?.stringValue?.hasPrefix(ChatService.anonymousPrefix) == true, "\(fromBob)")
        #expect(fromBob["clientMessageId"] == nil)
        _ = try await bob.next("chat:message")

        await alice.close()
        await bob.close()
        try await node.stop()
    }

    @Test func aRetriedClientMessageIDAnswersTheStoredIDAndIsNotBroadcastAgain() async throws {
        let node = try await ChatTestNode.start()
        let alice = try await node.client()
        let bob = try await node.client()
        try await alice.join("chat:retry")
        try await bob.join("chat:retry")
        _ = try await bob.next("chat:history")
        let first = try await alice.send("chat:retry", "once", clientMessageID: "same")
        let retry = try await alice.send("chat:retry", "once", clientMessageID: "same")
        #expect(first["ok"] == true && retry == first, "\(first) \(retry)")
        // The retry would have been broadcast before its ack, hence before this marker: bob must see the marker next.
        #expect(try await alice.send("chat:retry", "marker")["ok"] == true)
        #expect(try await bob.next("chat:message")["text"] == "once")
        #expect(try await bob.next("chat:message")["text"] == "marker")
        let history = try await node.get("/api/rooms/chat:retry/messages")
        #expect(history.body["messages"]?.arrayValue?.compactMap { $0["text"]?.stringValue } == ["once", "marker"])
        await alice.close()
        await bob.close()
        try await node.stop()
    }

    @Test func invalidSendsAreAnsweredWithErrorAcks() async throws {
        let node = try await ChatTestNode.start(maxMessageLength: 5)
        let client = try await node.client()
        try await client.join("chat:v")
        let cases: [(JSONValue, String)] = [
            (["room": "chat:elsewhere", "text": "hi"], "not_in_room"),
            (["room": "chat:v", "text": ""], "empty_text"),
            (["room": "chat:v", "text": "   "], "empty_text"),
            (["room": "chat:v", "text": "too long"], "text_too_long"),
            (["room": "chat:v"], "invalid_payload"),
            ("chat:v", "invalid_payload"),
            (["room": "order:1", "text": "hi"], "not_chat_room"),
        ]
        for (payload, code) in cases {
            let ack = try await client.emitWithAck("chat:send", payload)
            #expect(ack["ok"] == false, "\(payload)")
            #expect(ack.errorCode == code, "\(payload) → \(ack)")
            #expect(ack["error"]?["message"]?.stringValue?.isEmpty == false)
        }
        #expect(try await client.emitWithAck("chat:join", ["room": "order:1"]).errorCode == "not_chat_room")
        #expect(try await client.emitWithAck("chat:join", 42).errorCode == "invalid_payload")
        // Nothing of the above was stored.
        #expect(try await node.get("/api/rooms/chat:v/messages").body["messages"] == [])
        await client.close()
        try await node.stop()
    }

    @Test func joiningSendsRecentHistoryOldestFirst() async throws {
        let node = try await ChatTestNode.start(historyOnJoin: 3)
        let writer = try await node.client()
        try await writer.join("chat:h")
        #expect(try await writer.next("chat:history") == ["messages": [], "next": nil, "room": "chat:h"])
        var ids: [String] = []
        for index in 1...5 {
            ids.append(try #require(try await writer.send("chat:h", "m\(index)")["id"]?.stringValue))
        }
        let reader = try await node.client()
        try await reader.join("chat:h")
        let history = try await reader.next("chat:history")
        #expect(history["room"] == "chat:h")
        #expect(history["messages"]?.arrayValue?.compactMap { $0["text"]?.stringValue } == ["m3", "m4", "m5"])
        #expect(history["messages"]?[0]?["id"]?.stringValue == ids[2])
        // `next` pages on through the history API.
        let next = try #require(history["next"]?.stringValue)
        let older = try await node.get("/api/rooms/chat:h/messages?before=\(next)")
        #expect(older.body["messages"]?.arrayValue?.compactMap { $0["text"]?.stringValue } == ["m1", "m2"])
        #expect(older.body["next"] == .null)
        await writer.close()
        await reader.close()
        try await node.stop()
    }

    @Test func historyAPIPagesAndRejectsBadParameters() async throws {
        let node = try await ChatTestNode.start { node in
            node.chat.setAuthorizer { room, _ in room != "chat:secret" }
        }
        let client = try await node.client()
        try await client.join("chat:api")
        for index in 1...7 { _ = try await client.send("chat:api", "m\(index)") }

        var texts: [String] = []
        var cursor: String? = nil
        var pages = 0
        repeat {
            let query = "limit=3" + (cursor.map { "&before=\($0)" } ?? "")
            let page = try await node.get("/api/rooms/chat%3Aapi/messages?\(query)")
            #expect(page.status == 200)
            texts = (page.body["messages"]?.arrayValue?.compactMap { $0["text"]?.stringValue } ?? []) + texts
            cursor = page.body["next"]?.stringValue
            pages += 1
        } while cursor != nil && pages < 10
        #expect(texts == (1...7).map { "m\($0)" })
        #expect(pages == 3)
        let all = try await node.get("/api/rooms/chat:api/messages")
        #expect(all.body["messages"]?.arrayValue?.count == 7 && all.body["next"] == .null)
        #expect(try await node.get("/api/rooms/chat:api/messages?limit=200").status == 200)

        for bad in ["limit=0", "limit=201", "limit=ten", "before=abc", "before=-3", "before=0"] {
            let response = try await node.get("/api/rooms/chat:api/messages?\(bad)")
            #expect(response.status == 400, "\(bad)")
            #expect(response.body["error"]?["code"] == "bad_request", "\(bad)")
        }
        #expect(try await node.get("/api/rooms/order:1/messages").status == 404)
        let forbidden = try await node.get("/api/rooms/chat:secret/messages")
        #expect(forbidden.status == 403 && forbidden.body["error"]?["code"] == "forbidden")
        // The same authorizer guards chat:join.
        #expect(try await client.emitWithAck("chat:join", ["room": "chat:secret"]).errorCode == "forbidden")
        await client.close()
        try await node.stop()
    }

    @Test func theHistoryHookWorksForRoomsJoinedElsewhere() async throws {
        // The subscription work joins rooms itself and then calls didJoin.
        let node = try await ChatTestNode.start { node in
            node.io.onConnection { socket in
                socket.on("subscribe") { event in
                    let room = event[0]?.stringValue ?? ""
                    socket.join(room)
                    event.ack(["ok": true])
                    node.chat.didJoin(socket, room: room)
                }
            }
        }
        let client = try await node.client()
        #expect(try await client.emitWithAck("subscribe", "chat:hook") == ["ok": true])
        #expect(try await client.next("chat:history")["room"] == "chat:hook")
        #expect(try await client.send("chat:hook", "works")["ok"] == true)
        await client.close()
        try await node.stop()
    }

    @Test func anSQLiteFileKeepsHistoryAcrossNodeRestarts() async throws {
        let path = NSTemporaryDirectory() + "/herald-chat-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let first = try await ChatTestNode.start(database: .sqliteFile(path: path))
        let client = try await first.client()
        try await client.join("chat:file")
        let id = try await client.send("chat:file", "persisted")["id"]
        await client.close()
        try await first.stop()

        let second = try await ChatTestNode.start(database: .sqliteFile(path: path))
        let history = try await second.get("/api/rooms/chat:file/messages")
        #expect(history.body["messages"]?[0]?["id"] == id)
        #expect(history.body["messages"]?[0]?["text"] == "persisted")
        try await second.stop()
    }
}
