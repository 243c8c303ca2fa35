import EngineIO
import NIOCore
import SocketIO
import SocketIOClient
import SocketIOProtocol
import Testing

/// The client against the in-process herald server, over each transport setup.
@Suite struct ServerTests {
    @Test(arguments: TransportSetup.allCases)
    func connectsWithAuth(setup: TransportSetup) async throws {
        try await withServerAndClient(setup.configuration) { server, client in
            let socket = client.manager.socket(auth: ["token": "abc"])
            let events = socket.events()
            try await socket.connect()
            #expect(socket.state == .connected)
            #expect(socket.id != nil)
            let auth = await events.next(named: "auth")
            #expect(auth?.args == [["token": "abc"]])
        }
    }

    @Test(arguments: TransportSetup.allCases)
    func refusedAuthSurfacesTheConnectError(setup: TransportSetup) async throws {
        try await withServerAndClient(setup.configuration) { server, client in
            let socket = client.manager.socket(auth: ["token": "bad"])
            await #expect(throws: SocketIOConnectError(message: "not authorized", data: ["code": 401])) {
                try await socket.connect()
            }
            #expect(socket.state == .disconnected(.connectError))
        }
    }

    @Test(arguments: TransportSetup.allCases)
    func eventsBothWays(setup: TransportSetup) async throws {
        try await withServerAndClient(setup.configuration) { server, client in
            let socket = client.manager.socket()
            let events = socket.events()
            try await socket.connect()
            socket.emit("message", 1, "2", ["3": [true]])
            let back = await events.next(named: "message-back")
            #expect(back?.args == [1, "2", ["3": [true]]])
        }
    }

    @Test(arguments: TransportSetup.allCases)
    func onHandlerIsCalled(setup: TransportSetup) async throws {
        try await withServerAndClient(setup.configuration) { server, client in
            let socket = client.manager.socket()
            let (stream, continuation) = AsyncStream.makeStream(of: [JSONValue].self)
            socket.on("message-back") { event in continuation.yield(event.args) }
            try await socket.connect()
            socket.emit("message", "via on")
            #expect(await stream.first { _ in true } == ["via on"])
        }
    }

    @Test(arguments: TransportSetup.allCases)
    func acksBothWays(setup: TransportSetup) async throws {
        try await withServerAndClient(setup.configuration) { server, client in
            let socket = client.manager.socket()
            // The server asks; the client answers from its handler.
            socket.on("question") { event in event.ack("answer", event[0] ?? nil) }
            let events = socket.events()
            try await socket.connect()

            let answer = try await socket.emitWithAck("message-with-ack", 1, "2", timeout: .seconds(5))
            #expect(answer == [1, "2"])

            socket.emit("ask-client", 42)
            let answered = await events.next(named: "client-answered")
            #expect(answered?.args == ["answer", 42])
        }
    }

    @Test(arguments: TransportSetup.allCases)
    func ackTimesOut(setup: TransportSetup) async throws {
        try await withServerAndClient(setup.configuration) { server, client in
            let socket = client.manager.socket()
            try await socket.connect()
            await #expect(throws: SocketIOClientError.ackTimeout) {
                try await socket.emitWithAck("silent", timeout: .milliseconds(50))
            }
        }
    }

    @Test(arguments: TransportSetup.allCases)
    func binaryBothWays(setup: TransportSetup) async throws {
        try await withServerAndClient(setup.configuration) { server, client in
            let socket = client.manager.socket()
            let events = socket.events()
            try await socket.connect()
            let first = JSONValue.binary(ByteBuffer(bytes: [1, 2, 3]))
            let nested: JSONValue = ["data": .binary(ByteBuffer(bytes: [4, 5, 6, 0xFF]))]
            socket.emit("message", first, nested, "text")
            let back = await events.next(named: "message-back")
            #expect(back?.args == [first, nested, "text"])

            let acked = try await socket.emitWithAck("message-with-ack", first, timeout: .seconds(5))
            #expect(acked == [first])
        }
    }

    @Test(arguments: TransportSetup.allCases)
    func twoNamespacesShareOneConnection(setup: TransportSetup) async throws {
        try await withServerAndClient(setup.configuration) { server, client in
            let main = client.manager.socket("/", auth: ["who": "main"])
            let custom = client.manager.socket("/custom", auth: ["who": "custom"])
            let mainEvents = main.events()
            let customEvents = custom.events()
            try await main.connect()
            try await custom.connect()
            #expect(await mainEvents.next(named: "auth")?.args == [["who": "main"]])
            #expect(await customEvents.next(named: "auth")?.args == [["who": "custom"]])
            #expect(server.io.engine.sessionCount == 1)
            #expect(server.io.of("/custom").socketCount == 1)

            // Leaving one namespace keeps the other working.
            custom.disconnect()
            main.emit("message", "still here")
            #expect(await mainEvents.next(named: "message-back")?.args == ["still here"])
        }
    }

    @Test(arguments: TransportSetup.allCases)
    func serverSideDisconnect(setup: TransportSetup) async throws {
        try await withServerAndClient(setup.configuration) { server, client in
            let socket = client.manager.socket()
            let states = socket.stateUpdates()
            try await socket.connect()
            socket.emit("kick")
            let state = await states.first { if case .disconnected = $0 { true } else { false } }
            #expect(state == .disconnected(.ioServerDisconnect))
        }
    }

    @Test func pollingUpgradesToWebSocket() async throws {
        try await withServerAndClient(TransportSetup.pollingUpgrade.configuration) { server, client in
            let (upgraded, continuation) = AsyncStream.makeStream(of: Void.self)
            client.manager.onUpgrade { continuation.yield() }
            let socket = client.manager.socket()
            let events = socket.events()
            try await socket.connect()
            _ = await upgraded.first { true }
            #expect(client.manager.transport == .websocket)
            socket.emit("message", "after upgrade")
            #expect(await events.next(named: "message-back")?.args == ["after upgrade"])
            let serverSocket = try #require(server.io.sockets.sockets.first)
            #expect(serverSocket.transport == .websocket)
        }
    }

    @Test(arguments: TransportSetup.allCases)
    func answersServerPings(setup: TransportSetup) async throws {
        // The server closes a session whose pong is 200 ms late; round trips spanning 8 ping intervals
        // (longer than interval + timeout) prove the pongs.
        let server = try await HeraldServer.start(pingInterval: .milliseconds(50), pingTimeout: .milliseconds(200))
        var configuration = setup.configuration
        configuration.reconnection = false
        let client = TestClient(port: server.port, configuration: configuration)
        let socket = client.manager.socket()
        try await socket.connect()
        let end = ContinuousClock.now + .milliseconds(400)
        var round = 0
        while ContinuousClock.now < end {
            let ack = try await socket.emitWithAck("message-with-ack", .int(round), timeout: .seconds(5))
            #expect(ack == [.int(round)])
            round += 1
        }
        #expect(socket.state == .connected)
        #expect(try await server.io.sockets.fetchSockets().count == 1)
        await client.shutdown()
        await server.shutdown()
    }

    @Test(arguments: [TransportSetup.websocket, .polling])
    func givesUpAfterTheConfiguredAttempts(setup: TransportSetup) async throws {
        let server = try await HeraldServer.start()
        let port = server.port
        await server.shutdown()
        var configuration = setup.configuration
        configuration.reconnectionDelay = .milliseconds(5)
        configuration.reconnectionDelayMax = .milliseconds(10)
        configuration.reconnectionAttempts = 3
        let client = TestClient(port: port, configuration: configuration)
        let socket = client.manager.socket()
        let states = socket.stateUpdates()
        await #expect(throws: SocketIOClientError.reconnectFailed) { try await socket.connect() }
        var attempts: [Int] = []
        for await state in states {
            if case .reconnecting(let attempt) = state { attempts.append(attempt) }
            if state == .disconnected(.reconnectFailed) { break }
        }
        #expect(attempts == [1, 2, 3])
        await client.shutdown()
    }

    @Test(arguments: [TransportSetup.websocket, .polling])
    func reconnectsAfterTheServerComesBack(setup: TransportSetup) async throws {
        var server = try await HeraldServer.start()
        let port = server.port
        var configuration = setup.configuration
        configuration.reconnectionDelay = .milliseconds(20)
        configuration.reconnectionDelayMax = .milliseconds(100)
        configuration.reconnectionAttempts = 100
        let client = TestClient(port: port, configuration: configuration)
        let socket = client.manager.socket()
        let states = socket.stateUpdates()
        let events = socket.events()
        try await socket.connect()
        let firstID = socket.id

        await server.shutdown(graceful: false)
        let reconnecting = await states.first { if case .reconnecting = $0 { true } else { false } }
        #expect(reconnecting == .reconnecting(attempt: 1))

        server = try await HeraldServer.start(port: port)
        let back = await states.first { $0 == .connected }
        #expect(back == .connected)
        #expect(socket.id != firstID)
        socket.emit("message", "again")
        #expect(await events.next(named: "message-back")?.args == ["again"])
        await client.shutdown()
        await server.shutdown()
    }

    /// End to end with herald's connection state recovery: the client keeps the last offset, comes back with
    /// its pid, and gets the same socket id and the event it missed.
    @Test(arguments: [TransportSetup.websocket, .polling])
    func recoversItsSessionAndMissedEvents(setup: TransportSetup) async throws {
        let server = try await HeraldServer.start(recovery: ConnectionStateRecovery())
        var configuration = setup.configuration
        configuration.reconnectionDelay = .milliseconds(20)
        configuration.reconnectionDelayMax = .milliseconds(100)
        let client = TestClient(port: server.port, configuration: configuration)
        let socket = client.manager.socket()
        let states = socket.stateUpdates()
        let events = socket.events()
        try await socket.connect()
        let firstID = socket.id
        #expect(socket.recovered == false)
        server.io.emit("before", "one")
        #expect(await events.next(named: "before")?.args.first == "one")

        // The server drops the connection without a DISCONNECT: the client must come back on its own.
        server.io.engine.closeAllSessions()
        _ = await states.first { if case .reconnecting = $0 { true } else { false } }
        server.io.emit("while-away", "two")
        _ = await states.first { $0 == .connected }
        #expect(socket.recovered)
        #expect(socket.id == firstID)
        #expect(await events.next(named: "while-away")?.args.first == "two")
        await client.shutdown()
        await server.shutdown()
    }
}
