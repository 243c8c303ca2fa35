import HeraldTesting
import SocketIO
import SocketIOProtocol
import Testing

/// Room names from outside are checked once (`RoomName`), and a socket's rooms are capped on every join path.
@Suite struct RoomLimitTests {
    @Test func roomNamesAreBoundedInUTF8BytesAndRefuseControlCharacters() throws {
        #expect(try RoomName(String(repeating: "a", count: 256)).rawValue.utf8.count == 256)
        #expect(try RoomName(String(repeating: "é", count: 128)).rawValue.count == 128, "2 bytes each: 256 bytes")
        #expect(throws: RoomNameError.tooLong(maxBytes: 256)) { try RoomName(String(repeating: "a", count: 257)) }
        #expect(throws: RoomNameError.tooLong(maxBytes: 256)) { try RoomName(String(repeating: "€", count: 86)) }
        #expect(throws: RoomNameError.tooLong(maxBytes: 4)) { try RoomName("chat:", maxBytes: 4) }
        #expect(throws: RoomNameError.empty) { try RoomName("") }
        for bad in ["a\u{0}b", "line\nbreak", "tab\t", "del\u{7F}", "c1\u{85}", "\u{1B}[31m"] {
            #expect(throws: RoomNameError.controlCharacter, "\(bad.debugDescription)") { try RoomName(bad) }
        }
        #expect(RoomName(validating: "chat:42") != nil)
        #expect(RoomName(validating: "chat:\u{0}") == nil)
        // Not control characters: spaces, punctuation, emoji, right-to-left text.
        for good in ["a room", "#request#", "chat:🎉", "שלום", "/ns#x"] { #expect(RoomName(validating: good)?.rawValue == good) }
        #expect(RoomNameError.tooLong(maxBytes: 256).code == "room_too_long")
        #expect("\(RoomNameError.controlCharacter)" == "room name contains a control character")
    }

    @Test func theServerChecksAgainstItsConfiguredMaximum() throws {
        let io = SocketIOServer(configuration: SocketIOConfiguration(maxRoomNameBytes: 8))
        #expect(try io.roomName("12345678").rawValue == "12345678")
        #expect(throws: RoomNameError.tooLong(maxBytes: 8)) { try io.roomName("123456789") }
    }

    @Test func documentedDefaults() {
        let configuration = SocketIOConfiguration()
        #expect(configuration.maxRoomNameBytes == 256)
        #expect(configuration.maxRoomsPerSocket == 1000)
    }

    /// A client asks for rooms with `join` (ack: "ok" or the refusal's code); the cap is 3.
    static func withCappedServer(_ body: (EmbeddedSocketIOServer) async throws -> Void) async throws {
        var configuration = SocketIOConfiguration()
        configuration.maxRoomsPerSocket = 3
        try await withEmbeddedServer(configuration: configuration, setUp: { io in
            io.use { socket in
                // Middleware joins count too: a client naming too many rooms at connect gets none of them.
                if let rooms = socket.handshake.auth["rooms"]?.arrayValue { socket.join(rooms.compactMap(\.stringValue)) }
            }
            io.onConnection { socket in
                socket.onJoinAckingRefusals { event in
                    try (event.args.first?.arrayValue ?? []).compactMap(\.stringValue).map { try io.roomName($0) }
                }
                socket.on("rooms") { event in event.ack(.int(socket.rooms.count)) }
            }
        }, body)
    }

    @Test func joinsBeyondTheCapAreRefusedWholeAndCounted() async throws {
        try await Self.withCappedServer { server in
            let client = try await server.client()
            _ = try await client.connect()
            func join(_ rooms: [String], id: Int) async throws -> String {
                client.emit("join", JSONValue.array(rooms.map(JSONValue.string)).jsonString, ackID: id)
                return try await client.nextText()
            }
            #expect(try await join(["a", "b"], id: 1) == #"431["ok"]"#)
            #expect(try await join(["b", "c", "d"], id: 2) == #"432["too_many_rooms"]"#, "all or none")
            #expect(try await join(["c"], id: 3) == #"433["ok"]"#)
            #expect(try await join(["a", "b", "c"], id: 4) == #"434["ok"]"#, "rooms already joined cost nothing")
            #expect(try await join(["e"], id: 5) == #"435["too_many_rooms"]"#)
            #expect(try await join([String(repeating: "x", count: 257)], id: 6) == #"436["room_too_long"]"#)
            client.emit("rooms", ackID: 7)
            #expect(try await client.nextText() == "437[4]", "three rooms and its own")
            #expect(server.io.stats.roomJoinsRefused == 2)
            let fresh = try await server.client()
            _ = try await fresh.connect()
        }
    }

    @Test func middlewareJoinsBeyondTheCapAreRefused() async throws {
        try await Self.withCappedServer { server in
            let client = try await server.client()
            _ = try await client.connect(auth: #"{"rooms":["a","b","c","d"]}"#)
            client.emit("rooms", ackID: 1)
            #expect(try await client.nextText() == "431[1]", "only its own room")
            let fine = try await server.client()
            _ = try await fine.connect(auth: #"{"rooms":["a","b","c"]}"#)
            fine.emit("rooms", ackID: 1)
            #expect(try await fine.nextText() == "431[4]")
        }
    }
}
