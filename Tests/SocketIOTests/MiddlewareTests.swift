import HeraldTesting
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct MiddlewareTests {
    /// End to end over a real websocket.
    @Test func refusalOverAWebSocket() async throws {
        try await withServer(setUp: { io in
            io.use { _ in throw ConnectError("not authorized", data: ["code": 401, "retry": false]) }
        }) { server in
            let client = try await server.client()
            client.send("40")
            #expect(try await client.nextText() == #"44{"message":"not authorized","data":{"code":401,"retry":false}}"#)
            #expect(server.io.sockets.socketCount == 0)
            // The refusal leaves the connection open: the client may try again.
            client.send("40")
            #expect(try await client.nextText() == #"44{"message":"not authorized","data":{"code":401,"retry":false}}"#)
        }
    }

    @Test func refusalSendsConnectErrorWithData() async throws {
        try await withEmbeddedServer(setUp: { io in
            io.use { _ in throw ConnectError("not authorized", data: ["code": 401, "retry": false]) }
        }) { server in
            let client = try await server.client()
            client.send("40")
            #expect(try await client.nextText() == #"44{"message":"not authorized","data":{"code":401,"retry":false}}"#)
            #expect(server.io.sockets.socketCount == 0)
            // The refusal leaves the connection open: the client may try again.
            client.send("40")
            #expect(try await client.nextText() == #"44{"message":"not authorized","data":{"code":401,"retry":false}}"#)
        }
    }

    @Test func refusalWithoutDataLeavesDataOut() async throws {
        try await withEmbeddedServer(setUp: { io in
            io.of("/admin").use { _ in throw ConnectError("not authorized") }
        }) { server in
            let client = try await server.client()
            client.send("40/admin,")
            #expect(try await client.nextText() == #"44/admin,{"message":"not authorized"}"#)
        }
    }

    @Test func asyncMiddlewareDelaysTheConnectReply() async throws {
        let entered = Mailbox<Void>("middleware entered")
        let gate = Mailbox<Void>("gate")
        try await withEmbeddedServer(setUp: { io in
            io.use { _ in
                entered.send(())
                // Holds the connection until the test opens the gate.
                guard try await gate.next(timeout: .seconds(10)) != nil else { throw ConnectError("gate closed") }
            }
        }) { server in
            let client = try await server.client()
            client.send("40")
            try #require(try await entered.next() != nil)
            await client.expectNothingSent()
            gate.send(())
            try await client.connect(namespace: "/", auth: nil, alreadySent: true)
        }
    }

    @Test func middlewareDataIsSeenByTheConnectionHandler() async throws {
        let seen = Mailbox<JSONValue>("socket data")
        try await withEmbeddedServer(setUp: { io in
            io.use { socket in
                guard let token = socket.handshake.auth["token"]?.stringValue else { throw ConnectError("no token") }
                socket.data = ["user": .string("user-of-" + token)]
            }
            io.onConnection { socket in seen.send(socket.data) }
        }) { server in
            let client = try await server.client()
            try await client.connect(auth: #"{"token":"t1"}"#)
            #expect(try await seen.next() == ["user": "user-of-t1"])
        }
    }

    @Test func middlewareRunsInOrderAndStopsAtTheFirstRefusal() async throws {
        let steps = Mailbox<String>("middleware step")
        try await withEmbeddedServer(setUp: { io in
            io.use { _ in steps.send("first") }
            io.use { _ in steps.send("second"); throw ConnectError("stop") }
            io.use { _ in steps.send("third") }
        }) { server in
            let client = try await server.client()
            client.send("40")
            #expect(try await client.nextText() == #"44{"message":"stop"}"#)
            #expect(steps.drain() == ["first", "second"])
        }
    }

    @Test func roomsJoinedInMiddlewareTakeEffectOnConnect() async throws {
        try await withEmbeddedServer(setUp: { io in
            io.use { socket in
                guard let user = socket.handshake.auth["user"]?.stringValue else { throw ConnectError("no user") }
                socket.join("user:" + user)
            }
        }) { server in
            let ann = try await server.client()
            let annID = try await ann.connect(auth: #"{"user":"ann"}"#)
            let bob = try await server.client()
            try await bob.connect(auth: #"{"user":"bob"}"#)
            let members = try await server.io.in("user:ann").fetchSockets().map(\.id)
            #expect(members == [annID])
            server.io.to("user:ann").emit("dm")
            try await ann.expectEvent("dm")
            server.io.emit("all")
            try await bob.expectEvent("all")
        }
    }

    @Test func refusedSocketLeavesNoRoomsAndIsReleased() async throws {
        let refused = Mailbox<WeakSocket>("refused socket")
        try await withEmbeddedServer(setUp: { io in
            io.use { socket in
                socket.join("pending")
                // A handler that captures its socket must not keep a refused socket alive.
                socket.on("x") { _ in socket.emit("y") }
                refused.send(WeakSocket(socket))
                throw ConnectError("no")
            }
        }) { server in
            let client = try await server.client()
            client.send("40")
            #expect(try await client.nextText() == #"44{"message":"no"}"#)
            let weak = try #require(try await refused.next())
            let adapter = try #require(server.io.sockets.adapter as? InMemoryAdapter)
            #expect(await adapter.roomCounts() == [:])
            // The middleware task may still be returning after its last use of the socket: a bounded wait.
            var yields = 0
            while weak.socket != nil, yields < 10_000 {
                await Task.yield()
                yields += 1
            }
            #expect(weak.socket == nil)
        }
    }
}
