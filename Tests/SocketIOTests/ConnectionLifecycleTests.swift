import Synchronization
import HeraldTesting
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct ConnectionLifecycleTests {
    @Test(arguments: ["4abc", "42{}", #"42abc["message",1]"#, "45", "40/x,[]"])
    func invalidPacketClosesTheConnection(packet: String) async throws {
        let reasons = Mailbox<DisconnectReason>("disconnect reason")
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in socket.onDisconnect { reasons.send($0) } }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.send(packet)
            #expect(try await client.expectClosed() == [])
            #expect(try await reasons.next() == .parseError)
        }
    }

    @Test func invalidPacketBeforeConnectClosesTheConnection() async throws {
        try await withEmbeddedServer { server in
            let client = try await server.client()
            client.send("4abc")
            #expect(try await client.expectClosed() == [])
        }
    }

    @Test func clientWithoutConnectIsClosedAfterConnectTimeout() async throws {
        try await withEmbeddedServer(configuration: fastConfiguration(connectTimeout: .milliseconds(200))) { server in
            let client = try await server.client()
            await server.advanceTime(by: .milliseconds(199))
            #expect(await server.io.armedConnectTimers() == 1, "still waiting for CONNECT")
            await client.expectNothingSent()
            await server.advanceTime(by: .milliseconds(1))
            #expect(try await client.expectClosed() == [])
            #expect(await server.io.armedConnectTimers() == 0)
        }
    }

    /// The connect timeout lives on the loop's timers (one entry per connection): CONNECT disarms it, and so does
    /// each way the connection can close before CONNECT.
    @Test func connectTimerIsCancelledByConnectAndByClose() async throws {
        try await withEmbeddedServer { server in
            let connecting = try await server.client()
            #expect(await server.io.armedConnectTimers() == 1)
            try await connecting.connect()
            #expect(await server.io.armedConnectTimers() == 0)
            // Closed by the server for a bad packet before CONNECT.
            let invalid = try await server.client()
            #expect(await server.io.armedConnectTimers() == 1)
            invalid.send("4abc")
            #expect(try await invalid.expectClosed() == [])
            #expect(await server.io.armedConnectTimers() == 0)
            // Closed with the session, whatever its reason.
            let vanished = try await server.client()
            let shutDown = try await server.client()
            #expect(await server.io.armedConnectTimers() == 2)
            await vanished.disconnectTransport()
            await shutDown.disconnectTransport(reason: .serverShuttingDown)
            #expect(await server.io.armedConnectTimers() == 0)
        }
    }

    /// Closed with the Engine.IO session, over real sockets (the server closes every session).
    @Test func connectTimerIsCancelledWhenTheServerClosesItsSessions() async throws {
        try await withServer { server in
            _ = try await server.client()
            _ = try await server.client()
            #expect(await server.io.armedConnectTimers() == 2)
            server.io.engine.closeAllSessions()
            #expect(await server.io.armedConnectTimers() == 0)
        }
    }

    @Test func connectedClientOutlivesConnectTimeout() async throws {
        try await withEmbeddedServer(configuration: fastConfiguration(connectTimeout: .seconds(1))) { server in
            let client = try await server.client()
            try await client.connect()
            await server.advanceTime(by: .seconds(2))
            await client.expectNothingSent()
            #expect(server.io.sockets.socketCount == 1)
        }
    }

    /// Like the reference server's `close()`: the transports close, with no Socket.IO DISCONNECT (which official
    /// clients take as "do not come back").
    @Test func serverCloseClosesEveryTransportWithoutDisconnectPackets() async throws {
        let reasons = Mailbox<DisconnectReason>("disconnect reason")
        try await withServer(setUp: { io in
            io.onConnection { socket in socket.onDisconnect { reasons.send($0) } }
            io.of("/chat").onConnection { socket in socket.onDisconnect { reasons.send($0) } }
        }) { server in
            let clients = try await server.connectedClients(4)
            let chat = try await server.client()
            try await chat.connect(namespace: "/chat")
            server.io.close()
            for (client, _) in clients {
                #expect(try await client.expectClosed() == [])
            }
            #expect(try await chat.expectClosed() == [])
            for _ in 0..<5 { #expect(try await reasons.next() == .serverShuttingDown) }
            #expect(server.io.sockets.socketCount == 0)
        }
    }

    /// A drain spreads the closes over its window (batches 50 ms apart), as the clients see them.
    @Test func drainClosesInPacedBatchesOverTheWindow() async throws {
        try await withServer { server in
            let clients = try await server.connectedClients(8)
            let closedAt = Mutex<[ContinuousClock.Instant]>([])
            for (client, _) in clients {
                client.channel.closeFuture.whenComplete { _ in closedAt.withLock { $0.append(.now) } }
            }
            let window = Duration.milliseconds(400)
            let started = ContinuousClock.now
            await server.io.drain(over: window)
            for (client, _) in clients { #expect(try await client.expectClosed() == []) }
            let times = closedAt.withLock { $0 }.sorted()
            #expect(times.count == 8)
            // Eight batches: the last starts 7/8 of the window after the first.
            let spread = try #require(times.last) - (try #require(times.first))
            #expect(spread >= .milliseconds(300), "closes spread over \(spread)")
            #expect(try #require(times.first) - started < .milliseconds(200), "the first batch goes at once")
            #expect(server.io.engine.isRefusingNewSessions)
            #expect(server.io.engine.sessionCount == 0)
        }
    }
}

@Suite struct ConfigurationTests {
    @Test func documentedDefaults() {
        let configuration = SocketIOConfiguration()
        #expect(configuration.engine.path == "/socket.io/")
        #expect(configuration.connectTimeout == .seconds(45))
        #expect(configuration.ackTimeout == .seconds(10))
        #expect(configuration.maxAttachments == 10)
        // The Engine.IO defaults come through unchanged.
        #expect(configuration.engine.pingInterval == .seconds(25))
        #expect(configuration.engine.pingTimeout == .seconds(20))
        #expect(configuration.engine.maxPayload == 1_000_000)
    }
}
