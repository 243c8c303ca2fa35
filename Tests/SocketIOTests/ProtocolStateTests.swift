import HeraldTesting
import NIOCore
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct ProtocolStateTests {
    @Test(arguments: [#"42/chat,["hello"]"#, #"43/chat,1[]"#, "41/chat,", #"44{"message":"x"}"#])
    func packetForANamespaceNotJoinedClosesTheConnection(packet: String) async throws {
        let reasons = Mailbox<DisconnectReason>("disconnect reason")
        try await withEmbeddedServer(setUp: { io in
            _ = io.of("/chat")
            io.onConnection { socket in socket.onDisconnect { reasons.send($0) } }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.send(packet)
            #expect(try await client.expectClosed() == [])
            #expect(try await reasons.next() == .forcedServerClose)
        }
    }

    @Test func leavingOneNamespaceKeepsTheOthers() async throws {
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in
                socket.on("message") { socket.emit("message-back", args: $0.args) }
            }
            _ = io.of("/custom")
        }) { server in
            let client = try await server.client()
            try await client.connect()
            try await client.connect(namespace: "/custom")
            client.send("41/custom,")
            client.emit("message", #""message to main namespace""#)
            try await client.expectEvent("message-back", #""message to main namespace""#)
            #expect(server.io.of("/custom").socketCount == 0)
            #expect(server.io.sockets.socketCount == 1)
        }
    }

    @Test func onAnySeesEventsBeforeTheirHandler() async throws {
        let seen = Mailbox<String>("handler call")
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in
                socket.onAny { seen.send("any:" + $0.name) }
                socket.on("a") { seen.send("a:\($0.args)") }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.emit("a", "1")
            client.emit("b")
            #expect(try await seen.next() == "any:a")
            #expect(try await seen.next() == "a:[1]")
            #expect(try await seen.next() == "any:b")
        }
    }

    @Test func reservedEventNamesAreNotEmitted() async throws {
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in
                socket.emit("disconnect")
                socket.emit("connect")
                socket.emit("fine")
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            try await client.expectEvent("fine")
            await client.expectNothingSent()
        }
    }

    /// The request a real websocket client opened the session with.
    @Test func handshakeCarriesTheRequest() async throws {
        let handshakes = Mailbox<SocketIOHandshake>("handshake")
        try await withServer(setUp: { io in
            io.onConnection { handshakes.send($0.handshake) }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            let handshake = try #require(try await handshakes.next())
            #expect(handshake.auth == [:])
            #expect(handshake.query["EIO"] == "4")
            #expect(handshake.query["transport"] == "websocket")
            #expect(handshake.address == "127.0.0.1")
            #expect(handshake.headers["Host"] == ["127.0.0.1:\(server.port)"])
        }
    }

    @Test func handshakeCarriesTheSessionsRequest() async throws {
        let handshakes = Mailbox<SocketIOHandshake>("handshake")
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { handshakes.send($0.handshake) }
        }) { server in
            let client = try await server.client(
                url: "/socket.io/?EIO=4&transport=polling&room=a%20b", headers: ["Host": "chat.test", "X-Trace": "1"],
                remoteAddress: try SocketAddress(ipAddress: "10.1.2.3", port: 5000), kind: .polling)
            try await client.connect(auth: #"{"token":"t"}"#)
            let handshake = try #require(try await handshakes.next())
            #expect(handshake.auth == ["token": "t"])
            #expect(handshake.query == ["EIO": "4", "transport": "polling", "room": "a b"])
            #expect(handshake.url == "/socket.io/?EIO=4&transport=polling&room=a%20b")
            #expect(handshake.address == "10.1.2.3")
            #expect(handshake.headers["X-Trace"] == ["1"])
            #expect(server.io.sockets.sockets.first?.transport == .polling)
        }
    }

    @Test func disconnectedSocketsAreReleased() async throws {
        let sockets = Mailbox<Socket>("socket")
        let reasons = Mailbox<DisconnectReason>("disconnect reason")
        try await withEmbeddedServer(loops: 2, setUp: { io in
            io.onConnection { socket in
                socket.join("room")
                // Handlers that capture their socket must not keep it alive after it leaves.
                socket.on("echo") { socket.emit("echo", args: $0.args) }
                socket.onDisconnect { reason in reasons.send(socket.connected ? .forcedClose : reason) }
                sockets.send(socket)
            }
        }) { server in
            let clients = try await server.connectedClients(4)
            var weakSockets: [WeakSocket] = []
            for (index, entry) in clients.enumerated() {
                let socket = try #require(try await sockets.next())
                weakSockets.append(WeakSocket(socket))
                switch index {
                case 0: entry.client.send("41")
                case 1: socket.disconnect()
                case 2: socket.disconnect(close: true)
                default: await entry.client.disconnectTransport()
                }
            }
            for _ in clients { #expect(try await reasons.next() != .forcedClose) }
            // Each loop has finished the disconnects once it answers this.
            _ = try await server.io.fetchSockets()
            for (index, weak) in weakSockets.enumerated() {
                #expect(weak.socket == nil, "socket \(index) is still alive")
            }
        }
    }
}

final class WeakSocket: @unchecked Sendable {
    weak var socket: Socket?
    init(_ socket: Socket) { self.socket = socket }
}
