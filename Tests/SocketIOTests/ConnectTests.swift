import HeraldTesting
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct ConnectTests {
    /// End to end over a real websocket: the CONNECT reply, then what the connection handler emits.
    @Test func connectsToMainNamespace() async throws {
        let connected = Mailbox<String>("connection")
        try await withServer(setUp: { io in
            io.onConnection { socket in
                connected.send(socket.id)
                socket.emit("auth", socket.handshake.auth)
            }
        }) { server in
            let client = try await server.client()
            let sid = try await client.connect()
            #expect(try await connected.next() == sid)
            // The CONNECT reply comes before anything the connection handler emits.
            try await client.expectEvent("auth", "{}")
            #expect(server.io.sockets.socketCount == 1)
        }
    }

    @Test func connectReplyComesBeforeWhatTheHandlerEmits() async throws {
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in socket.emit("auth", socket.handshake.auth) }
        }) { server in
            let client = try await server.client()
            client.send("40")
            let reply = try await client.nextText()
            let sid = try #require(reply.jsonStringField("sid"))
            #expect(reply == #"40{"sid":"\#(sid)"}"#)
            #expect(try await client.nextText() == #"42["auth",{}]"#)
            #expect(server.io.sockets.socket(id: sid) != nil)
            await client.expectNothingSent()
        }
    }

    @Test func connectsToCustomNamespaceWithAuth() async throws {
        try await withEmbeddedServer(setUp: { io in
            io.of("/custom").onConnection { socket in socket.emit("auth", socket.handshake.auth) }
        }) { server in
            let client = try await server.client()
            let sid = try await client.connect(namespace: "/custom", auth: #"{"token":"abc"}"#)
            try await client.expectEvent("auth", #"{"token":"abc"}"#, namespace: "/custom")
            #expect(server.io.of("/custom").socket(id: sid) != nil)
            #expect(server.io.sockets.socketCount == 0)
        }
    }

    @Test func unknownNamespaceIsRefusedAndConnectionStaysUsable() async throws {
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in
                socket.on("message") { event in socket.emit("message-back", args: event.args) }
            }
        }) { server in
            let client = try await server.client()
            // No comma after the namespace: the decoder reads it up to the end.
            client.send("40/x")
            #expect(try await client.nextText() == #"44/x,{"message":"Invalid namespace"}"#)
            try await client.connect()
            client.emit("message", "1")
            try await client.expectEvent("message-back", "1")
        }
    }

    @Test func connectingTwiceToTheSameNamespaceClosesTheConnection() async throws {
        let reasons = Mailbox<DisconnectReason>("disconnect reason")
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in socket.onDisconnect { reasons.send($0) } }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.send("40")
            #expect(try await client.expectClosed() == [])
            #expect(try await reasons.next() == .forcedServerClose)
        }
    }
}
