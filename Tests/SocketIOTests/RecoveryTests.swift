import EngineIO
import HeraldTesting
import NIOCore
import SocketIO
import SocketIOProtocol
import Testing

/// Connection state recovery, speaking Socket.IO's wire format (over real sockets end to end, embedded otherwise): the CONNECT reply carries a
/// `pid`, logged events carry their offset as last argument, and a reconnecting client sends `{pid, offset}`.
@Suite struct RecoveryTests {
    static func configuration(_ recovery: ConnectionStateRecovery = ConnectionStateRecovery()) -> SocketIOConfiguration {
        SocketIOConfiguration(connectionStateRecovery: recovery)
    }

    static func setUp(disconnects: Mailbox<DisconnectReason>? = nil) -> (SocketIOServer) -> Void {
        { io in
            io.onConnection { socket in
                socket.on("join") { event in
                    socket.join(event.args.compactMap(\.stringValue))
                    event.ack()
                }
                socket.on("whoami") { event in event.ack(.bool(socket.recovered), socket.data) }
                socket.onDisconnect { disconnects?.send($0) }
            }
            io.use { socket in
                if socket.handshake.auth["refuse"] == true { throw ConnectError("refused") }
                socket.data = ["user": "ann"]
            }
        }
    }

    /// Sends CONNECT with `auth` and returns (sid, pid) from the reply.
    static func connect(_ client: some SocketIOWireClient, auth: String = "") async throws -> (sid: String, pid: String) {
        client.send("40" + auth)
        let reply = try await client.nextText()
        let sid = try #require(reply.jsonStringField("sid"), "reply: \(reply)")
        let pid = try #require(reply.jsonStringField("pid"), "reply: \(reply)")
        #expect(reply == #"40{"sid":"\#(sid)","pid":"\#(pid)"}"#)
        return (sid, pid)
    }

    /// The offset a logged event carries as its last argument.
    static func offset(of text: String) throws -> String {
        let last = try #require(text.split(separator: ",").last)
        return String(last.dropFirst().dropLast(2))
    }

    @Test func reconnectingClientGetsItsIdRoomsDataAndMissedEventsInOrder() async throws {
        let disconnects = Mailbox<DisconnectReason>("disconnect")
        try await withServer(configuration: Self.configuration(), setUp: Self.setUp(disconnects: disconnects)) { server in
            let first = try await server.client()
            let (sid, pid) = try await Self.connect(first)
            first.emit("join", #""r""#, ackID: 1)
            #expect(try await first.nextText() == "431[]")

            server.io.to("r").emit("e1", 1)
            let e1 = try await first.nextText()
            #expect(e1.hasPrefix(#"42["e1",1,""#))
            let seen = try Self.offset(of: e1)

            await first.disconnectTransport()
            #expect(try await disconnects.next() == .transportClose)

            server.io.to("r").emit("e2", 2)
            server.io.to("elsewhere").emit("not-for-you")
            server.io.to("r").emit("e3", 3)

            let second = try await server.client()
            second.send(#"40{"pid":"\#(pid)","offset":"\#(seen)"}"#)
            #expect(try await second.nextText() == #"40{"sid":"\#(sid)","pid":"\#(pid)"}"#)
            #expect(try await second.nextText().hasPrefix(#"42["e2",2,""#))
            #expect(try await second.nextText().hasPrefix(#"42["e3",3,""#))
            // Recovered: the same data, and the room membership is back for live events.
            second.emit("whoami", ackID: 2)
            #expect(try await second.nextText() == #"432[true,{"user":"ann"}]"#)
            server.io.to("r").emit("live")
            #expect(try await second.nextText().hasPrefix(#"42["live",""#))
        }
    }

    @Test func clientThatNeverGotAnOffsetReplaysFromItsConnection() async throws {
        let disconnects = Mailbox<DisconnectReason>("disconnect")
        try await withEmbeddedServer(configuration: Self.configuration(), setUp: Self.setUp(disconnects: disconnects)) { server in
            server.io.emit("before-connect")
            let first = try await server.client()
            let (sid, pid) = try await Self.connect(first)
            await first.disconnectTransport()
            _ = try await disconnects.next()
            server.io.emit("while-away")
            let second = try await server.client()
            second.send(#"40{"pid":"\#(pid)"}"#)
            #expect(try await second.nextText() == #"40{"sid":"\#(sid)","pid":"\#(pid)"}"#)
            #expect(try await second.nextText().hasPrefix(#"42["while-away",""#))
        }
    }

    @Test func aGapThatCannotBeFilledGivesANewSession() async throws {
        let disconnects = Mailbox<DisconnectReason>("disconnect")
        let recovery = ConnectionStateRecovery(maxLoggedEvents: 2)
        try await withEmbeddedServer(configuration: Self.configuration(recovery), setUp: Self.setUp(disconnects: disconnects)) { server in
            let first = try await server.client()
            let (sid, pid) = try await Self.connect(first)
            server.io.emit("e0")
            let seen = try Self.offset(of: try await first.nextText())
            await first.disconnectTransport()
            _ = try await disconnects.next()
            for index in 1...3 { server.io.emit("e\(index)") }   // only 2 are kept: e1 is gone

            let second = try await server.client()
            second.send(#"40{"pid":"\#(pid)","offset":"\#(seen)"}"#)
            let reply = try await second.nextText()
            let newSid = try #require(reply.jsonStringField("sid"))
            let newPid = try #require(reply.jsonStringField("pid"))
            #expect(newSid != sid)
            #expect(newPid != pid)
            second.emit("whoami", ackID: 1)
            #expect(try await second.nextText() == #"431[false,{"user":"ann"}]"#)
        }
    }

    @Test func unknownPidAndNamespaceDisconnectAreNotRecovered() async throws {
        let disconnects = Mailbox<DisconnectReason>("disconnect")
        try await withEmbeddedServer(configuration: Self.configuration(), setUp: Self.setUp(disconnects: disconnects)) { server in
            let client = try await server.client()
            let (sid, pid) = try await Self.connect(client)
            client.send("41")
            #expect(try await disconnects.next() == .clientNamespaceDisconnect)
            client.send(#"40{"pid":"\#(pid)"}"#)
            let reply = try await client.nextText()
            #expect(reply.jsonStringField("sid") != sid)

            let other = try await server.client()
            other.send(#"40{"pid":"made-up","offset":"x-1"}"#)
            #expect(try await other.nextText().jsonStringField("pid") != "made-up")
        }
    }

    @Test func volatileAndAckedEventsCarryNoOffset() async throws {
        try await withEmbeddedServer(configuration: Self.configuration(), setUp: Self.setUp()) { server in
            let client = try await server.client()
            _ = try await Self.connect(client)
            server.io.volatile.emit("v", 1)
            #expect(try await client.nextText() == #"42["v",1]"#)
            // An acked emit is not logged either: it carries no offset.
            let socket = try #require(server.io.sockets.sockets.first)
            Task { _ = try? await socket.emitWithAck("a", 1) }
            #expect(try await client.nextText() == #"420["a",1]"#)
        }
    }

    /// A gate sees the saved session and the new handshake; it replaces the data or refuses the recovery.
    @Test func theGateReplacesDataOrRefusesRecovery() async throws {
        let disconnects = Mailbox<DisconnectReason>("disconnect")
        let setUp = Self.setUp(disconnects: disconnects)
        try await withEmbeddedServer(configuration: Self.configuration(), setUp: { io in
            setUp(io)
            io.sockets.gateRecovery { session, handshake in
                guard handshake.auth["key"] == "open" else { return nil }
                return ["user": "ann", "rooms": .int(session.rooms.count)]
            }
        }) { server in
            let first = try await server.client()
            let (sid, pid) = try await Self.connect(first)
            first.emit("join", #""r""#, ackID: 1)
            #expect(try await first.nextText() == "431[]")
            await first.disconnectTransport()
            _ = try await disconnects.next()

            let refused = try await server.client()
            refused.send(#"40{"pid":"\#(pid)","key":"wrong"}"#)
            let reply = try await refused.nextText()
            #expect(reply.jsonStringField("sid") != sid, "\(reply)")
            refused.emit("whoami", ackID: 2)
            #expect(try await refused.nextText() == #"432[false,{"user":"ann"}]"#, "a new session runs the middleware")
            // Refused once, the session is gone: presenting the right key afterwards does not bring it back.
            let late = try await server.client()
            late.send(#"40{"pid":"\#(pid)","key":"open"}"#)
            #expect(try await late.nextText().jsonStringField("sid") != sid)

            let second = try await server.client()
            let (sid2, pid2) = try await Self.connect(second)
            second.emit("join", #""r""#, ackID: 3)
            #expect(try await second.nextText() == "433[]")
            await second.disconnectTransport()
            _ = try await disconnects.next()
            let back = try await server.client()
            back.send(#"40{"pid":"\#(pid2)","key":"open"}"#)
            #expect(try await back.nextText() == #"40{"sid":"\#(sid2)","pid":"\#(pid2)"}"#)
            back.emit("whoami", ackID: 4)
            #expect(try await back.nextText() == #"434[true,{"user":"ann","rooms":1}]"#)
        }
    }

    @Test func defaults() {
        let recovery = ConnectionStateRecovery()
        #expect(recovery.maxDisconnectionDuration == .seconds(120))
        #expect(recovery.skipMiddlewares)
        #expect(recovery.maxLoggedEvents == 100_000)
        #expect(SocketIOConfiguration().connectionStateRecovery == nil)
    }

    /// An event sent between the log read of a recovery and the socket's join (here: by a middleware, which
    /// runs in between when recovered sockets do not skip it) reached no one before the catch-up read; now the
    /// client gets it once, after the replay and before later live events.
    @Test func eventSentWhileARecoveryIsUnderWayIsDeliveredOnce() async throws {
        let recovery = ConnectionStateRecovery(skipMiddlewares: false)
        try await withEmbeddedServer(configuration: Self.configuration(recovery), setUp: { io in
            Self.setUp()(io)
            io.use { socket in
                if socket.recovered { io.to("r").emit("during", 2) }
            }
        }) { server in
            let first = try await server.client()
            let (sid, pid) = try await Self.connect(first)
            first.emit("join", #""r""#, ackID: 1)
            #expect(try await first.nextText() == "431[]")
            server.io.to("r").emit("before", 0)
            let seen = try Self.offset(of: try await first.nextText())
            await first.disconnectTransport()

            server.io.to("r").emit("missed", 1)
            let second = try await server.client()
            second.send(#"40{"pid":"\#(pid)","offset":"\#(seen)"}"#)
            #expect(try await second.nextText() == #"40{"sid":"\#(sid)","pid":"\#(pid)"}"#)
            #expect(try await second.nextText().hasPrefix(#"42["missed",1,""#))
            #expect(try await second.nextText().hasPrefix(#"42["during",2,""#))
            server.io.to("r").emit("live", 3)
            // Exactly once: the next frame is the live event, not a second copy of "during".
            #expect(try await second.nextText().hasPrefix(#"42["live",3,""#))
        }
    }
}

@Suite struct RecoveryLogTests {
    /// Only offsets the log issued during the session's life count: not one from before it connected (which
    /// would replay events it was never sent), not one not yet issued, not another log's.
    @Test func offsetsOutsideTheSessionsLifeAreRefused() {
        let log = InMemoryRecoveryLog(configuration: ConnectionStateRecovery())
        _ = log.append(rooms: [], except: []) { _ in EngineIOPreparedMessage(text: "e") }
        let connected = log.currentOffset
        let epoch = String(connected[..<connected.lastIndex(of: "-")!])
        _ = log.append(rooms: [], except: []) { _ in EngineIOPreparedMessage(text: "e") }
        let session = RecoverableSession(id: "s", pid: "p", rooms: [], data: .null, connectOffset: connected)
        for forged in ["\(epoch)-0", "\(epoch)-99", "other-1", "\(epoch)--1", "\(epoch)-18446744073709551616"] {
            log.save(session)
            if case .recovered = log.restore(pid: "p", offset: forged) { Issue.record("\(forged) was honoured") }
        }
        log.save(session)
        guard case .recovered(_, let missed) = log.restore(pid: "p", offset: connected) else {
            Issue.record("the connect offset was refused")
            return
        }
        #expect(missed.count == 1)
    }

    /// Epochs are random URL-safe text, "-" included; many logs make sure every shape of epoch parses.
    @Test func offsetsParseWhateverTheEpoch() {
        for _ in 0..<300 {
            let log = InMemoryRecoveryLog(configuration: ConnectionStateRecovery())
            let offset = log.currentOffset
            log.save(RecoverableSession(id: "s", pid: "p", rooms: [], data: .null, connectOffset: offset))
            guard case .recovered = log.restore(pid: "p", offset: offset) else {
                Issue.record("offset \(offset) not recognised")
                return
            }
        }
    }
}
