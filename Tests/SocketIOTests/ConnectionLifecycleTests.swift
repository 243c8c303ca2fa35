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

    @Test func serverCloseDisconnectsEverySocket() async throws {
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
                #expect(try await client.expectClosed() == [.text("41")])
            }
            #expect(try await chat.expectClosed() == [.text("41/chat,")])
            for _ in 0..<5 { #expect(try await reasons.next() == .serverShuttingDown) }
            #expect(server.io.sockets.socketCount == 0)
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
