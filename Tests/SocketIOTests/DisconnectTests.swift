import EngineIO
import HeraldTesting
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct DisconnectTests {
    /// Records each socket's disconnect reason and hands the sockets to the test.
    final class Recorder: Sendable {
        let sockets = Mailbox<Socket>("connected socket")
        let reasons = Mailbox<DisconnectReason>("disconnect reason")

        func install(on namespace: Namespace) {
            namespace.onConnection { [self] socket in
                socket.onDisconnect { [reasons] in reasons.send($0) }
                sockets.send(socket)
            }
        }
    }

    @Test func clientNamespaceDisconnectKeepsTheEngineOpen() async throws {
        let recorder = Recorder()
        try await withEmbeddedServer(setUp: { recorder.install(on: $0.sockets) }) { server in
            let client = try await server.client()
            try await client.connect()
            client.send("41")
            #expect(try await recorder.reasons.next() == .clientNamespaceDisconnect)
            // No reply to `41` and no close.
            await client.expectNothingSent()
            #expect(server.io.sockets.socketCount == 0)
            try await client.connect()
        }
    }

    @Test func serverDisconnectSendsDisconnectPacket() async throws {
        let recorder = Recorder()
        try await withEmbeddedServer(setUp: { io in
            recorder.install(on: io.sockets)
            recorder.install(on: io.of("/chat"))
        }) { server in
            let client = try await server.client()
            try await client.connect()
            try await client.connect(namespace: "/chat")
            let main = try #require(try await recorder.sockets.next())
            let chat = try #require(try await recorder.sockets.next())
            chat.disconnect()
            #expect(try await client.nextText() == "41/chat,")
            #expect(try await recorder.reasons.next() == .serverNamespaceDisconnect)
            main.disconnect()
            #expect(try await client.nextText() == "41")
            #expect(try await recorder.reasons.next() == .serverNamespaceDisconnect)
            // The engine connection is still there for a new CONNECT.
            try await client.connect()
        }
    }

    @Test func disconnectWithCloseIsForcedServerClose() async throws {
        let recorder = Recorder()
        try await withEmbeddedServer(setUp: { recorder.install(on: $0.sockets) }) { server in
            let client = try await server.client()
            try await client.connect()
            try #require(try await recorder.sockets.next()).disconnect(close: true)
            #expect(try await recorder.reasons.next() == .forcedServerClose)
            #expect(try await client.expectClosed() == [])
        }
    }

    /// A real TCP connection dropped by its client.
    @Test func transportCloseIsReported() async throws {
        let recorder = Recorder()
        try await withServer(setUp: { recorder.install(on: $0.sockets) }) { server in
            let client = try await server.client()
            try await client.connect()
            await client.disconnectTransport()
            #expect(try await recorder.reasons.next() == .transportClose)
        }
    }

    /// Each Engine.IO close reason reaches the socket as its Socket.IO disconnect reason.
    @Test(arguments: [(EngineIOCloseReason.transportClose, DisconnectReason.transportClose),
                      (.transportError, .transportError), (.pingTimeout, .pingTimeout),
                      (.parseError, .parseError), (.serverShuttingDown, .serverShuttingDown), (.forcedClose, .forcedClose)])
    func engineCloseReasonsBecomeDisconnectReasons(engine: EngineIOCloseReason, expected: DisconnectReason) async throws {
        let recorder = Recorder()
        try await withEmbeddedServer(setUp: { recorder.install(on: $0.sockets) }) { server in
            let client = try await server.client()
            try await client.connect()
            await client.disconnectTransport(reason: engine)
            #expect(try await recorder.reasons.next() == expected)
            #expect(server.io.sockets.socketCount == 0)
        }
    }

    @Test func disconnectingSeesRoomsAndDisconnectSeesNone() async throws {
        let roomsWhileDisconnecting = Mailbox<Set<String>>("rooms while disconnecting")
        let roomsAfterDisconnect = Mailbox<Set<String>>("rooms after disconnect")
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in
                socket.join("r1", "r2")
                socket.onDisconnecting { _ in roomsWhileDisconnecting.send(socket.rooms) }
                socket.onDisconnect { _ in roomsAfterDisconnect.send(socket.rooms) }
            }
        }) { server in
            let client = try await server.client()
            let sid = try await client.connect()
            client.send("41")
            #expect(try await roomsWhileDisconnecting.next() == [sid, "r1", "r2"])
            #expect(try await roomsAfterDisconnect.next() == [])
        }
    }

    @Test func manyDisconnectsLeaveNoRoomsOrSockets() async throws {
        let recorder = Recorder()
        try await withEmbeddedServer(loops: 2, setUp: { io in
            io.onConnection { socket in socket.join("all", "room-\(socket.id.prefix(1))") }
            recorder.install(on: io.sockets)
        }) { server in
            let clients = try await server.connectedClients(12)
            var sockets: [String: Socket] = [:]
            for _ in clients {
                let socket = try #require(try await recorder.sockets.next())
                sockets[socket.id] = socket
            }
            let adapter = try #require(server.io.sockets.adapter as? InMemoryAdapter)
            #expect(await adapter.roomCounts()["all"] == clients.count)

            // Every way out: client `41`, server disconnect, forced close, dropped transport.
            for (index, entry) in clients.enumerated() {
                switch index % 4 {
                case 0: entry.client.send("41")
                case 1: sockets[entry.sid]?.disconnect()
                case 2: sockets[entry.sid]?.disconnect(close: true)
                default: await entry.client.disconnectTransport()
                }
            }
            var reasons: [DisconnectReason: Int] = [:]
            for _ in clients { reasons[try #require(try await recorder.reasons.next()), default: 0] += 1 }
            #expect(reasons == [.clientNamespaceDisconnect: 3, .serverNamespaceDisconnect: 3,
                                .forcedServerClose: 3, .transportClose: 3])
            #expect(await adapter.roomCounts() == [:])
            #expect(server.io.sockets.socketCount == 0)
            #expect(try await server.io.fetchSockets().isEmpty)
        }
    }

    /// The Engine.IO heartbeat over a real websocket.
    @Test func unansweredPingsArePingTimeout() async throws {
        let recorder = Recorder()
        // Wide enough that the CONNECT round trip ends before the first ping times out on a loaded CI machine.
        let configuration = fastConfiguration(pingInterval: .milliseconds(800), pingTimeout: .milliseconds(800))
        try await withServer(configuration: configuration, setUp: { recorder.install(on: $0.sockets) }) { server in
            let client = try await server.client(answersPings: false)
            try await client.connect()
            #expect(try await recorder.reasons.next() == .pingTimeout)
            try await client.expectClosed()
        }
    }
}
