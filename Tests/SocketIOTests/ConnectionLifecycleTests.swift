import Synchronization
import HeraldTesting
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct ConnectionLifecycleTests {
    @Test(arguments: ["4abc", "42{}", #"42abc["message",1]"#, "45", "40/x,[]"])
    func invalidPacketClosesTheConnection(packet: String) async throws {
        let reasons = Mailbox<DisconnectReason>("disconnect reason")
        try await withServer(setUp: { io in
            io.onConnection { socket in socket.onDisconnect { reasons.send($0) } }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.send(packet)
            let before = try await client.expectClosed()
            #expect(before.isEmpty)
            #expect(try await reasons.next() == .parseError)
        }
    }

    @Test func invalidPacketBeforeConnectClosesTheConnection() async throws {
        try await withServer { server in
            let client = try await server.client()
            client.send("4abc")
            #expect(try await client.expectClosed().isEmpty)
        }
    }

    @Test func clientWithoutConnectIsClosedAfterConnectTimeout() async throws {
        try await withServer(configuration: fastConfiguration(connectTimeout: .milliseconds(200))) { server in
            let start = ContinuousClock.now
            let client = try await server.client()
            try await client.expectClosed(timeout: .seconds(5))
            #expect(ContinuousClock.now - start >= .milliseconds(150))
        }
    }

    /// The connect timeout lives on the loop's timers (one entry per connection): CONNECT disarms it, and so does
    /// each way the connection can close before CONNECT.
    @Test func connectTimerIsCancelledByConnectAndByClose() async throws {
        try await withServer { server in
            let connecting = try await server.client()
            #expect(await server.io.armedConnectTimers() == 1)
            try await connecting.connect()
            #expect(await server.io.armedConnectTimers() == 0)
            // Closed by the server for a bad packet before CONNECT.
            let invalid = try await server.client()
            #expect(await server.io.armedConnectTimers() == 1)
            invalid.send("4abc")
            #expect(try await invalid.expectClosed().isEmpty)
            #expect(await server.io.armedConnectTimers() == 0)
            // Closed with the session (the loop runs the close before the count).
            _ = try await server.client()
            _ = try await server.client()
            #expect(await server.io.armedConnectTimers() == 2)
            server.io.engine.closeAllSessions()
            #expect(await server.io.armedConnectTimers() == 0)
        }
    }

    @Test func connectedClientOutlivesConnectTimeout() async throws {
        // The connect timeout leaves the client ample time to CONNECT on a loaded machine; two heartbeats
        // then take longer than the timeout.
        let configuration = fastConfiguration(pingInterval: .milliseconds(600), connectTimeout: .seconds(1))
        try await withServer(configuration: configuration) { server in
            let client = try await server.client()
            try await client.connect()
            // The second heartbeat comes after the connect timeout would have fired.
            #expect(try await client.next(skipPings: false) == .text("2"))
            #expect(try await client.next(skipPings: false) == .text("2"))
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
