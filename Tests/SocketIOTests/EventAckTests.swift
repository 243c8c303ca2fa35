import HeraldTesting
import NIOCore
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct EventAckTests {
    @Test func clientEventWithAckIdIsAnswered() async throws {
        try await withServer(setUp: { io in
            io.onConnection { socket in
                socket.on("message-with-ack") { event in event.ack(event.args) }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.emit("message-with-ack", "1", #""2""#, #"{"3":[false]}"#, ackID: 456)
            #expect(try await client.nextText() == #"43456[1,"2",{"3":[false]}]"#)
        }
    }

    @Test func ackInCustomNamespaceCarriesTheNamespace() async throws {
        try await withServer(setUp: { io in
            io.of("/chat").onConnection { socket in
                socket.on("hello") { event in event.ack("hi") }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect(namespace: "/chat")
            client.emit("hello", namespace: "/chat", ackID: 7)
            #expect(try await client.nextText() == #"43/chat,7["hi"]"#)
        }
    }

    @Test func ackCalledTwiceSendsOnce() async throws {
        try await withServer(setUp: { io in
            io.onConnection { socket in
                socket.on("twice") { event in
                    event.ack("first")
                    event.ack("second")
                }
                socket.on("after") { _ in socket.emit("after-back") }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.emit("twice", ackID: 1)
            #expect(try await client.nextText() == #"431["first"]"#)
            // Anything the server wrote for the second ack would come before this reply.
            client.emit("after")
            try await client.expectEvent("after-back")
        }
    }

    @Test func eventWithoutAckIdDoesNotWantAck() async throws {
        let wants = Mailbox<Bool>("wantsAck")
        try await withServer(setUp: { io in
            io.onConnection { socket in socket.on("e") { wants.send($0.wantsAck) } }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.emit("e")
            client.emit("e", ackID: 3)
            #expect(try await wants.next() == false)
            #expect(try await wants.next() == true)
        }
    }

    @Test func serverEmitWithAckIsResolvedByClientAck() async throws {
        let answers = Mailbox<Result<[JSONValue], AckError>>("ack result")
        try await withServer(setUp: { io in
            io.onConnection { socket in
                Task { answers.send(await Self.ask(socket)) }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            let question = try await client.nextText()
            let id = try #require(Self.ackID(of: question))
            #expect(question == #"42\#(id)["question",1]"#)
            client.send(#"43\#(id)["answer",{"n":2}]"#)
            #expect(try await answers.next() == .success(["answer", ["n": 2]]))
        }
    }

    @Test func emitWithAckTimesOut() async throws {
        let answers = Mailbox<Result<[JSONValue], AckError>>("ack result")
        try await withServer(configuration: fastConfiguration(ackTimeout: .milliseconds(100)), setUp: { io in
            io.onConnection { socket in
                Task { answers.send(await Self.ask(socket)) }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            _ = try await client.nextText()
            #expect(try await answers.next() == .failure(.timeout))
            // A late ack is ignored, and the connection stays fine.
            client.send(#"430["late"]"#)
            client.emit("ping")
            #expect(server.io.sockets.socketCount == 1)
        }
    }

    @Test func disconnectDuringPendingAckThrowsDisconnected() async throws {
        let answers = Mailbox<Result<[JSONValue], AckError>>("ack result")
        try await withServer(setUp: { io in
            io.onConnection { socket in
                Task { answers.send(await Self.ask(socket)) }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            _ = try await client.nextText()
            client.send("41")
            #expect(try await answers.next() == .failure(.disconnected))
        }
    }

    @Test func emitWithAckOnDisconnectedSocketThrowsDisconnected() async throws {
        let gone = Mailbox<Socket>("disconnected socket")
        try await withServer(setUp: { io in
            io.onConnection { socket in socket.onDisconnect { _ in gone.send(socket) } }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.send("41")
            let socket = try #require(try await gone.next())
            await #expect(throws: AckError.disconnected) { _ = try await socket.emitWithAck("late") }
        }
    }

    static func ask(_ socket: Socket) async -> Result<[JSONValue], AckError> {
        do {
            return .success(try await socket.emitWithAck("question", 1))
        } catch let error as AckError {
            return .failure(error)
        } catch {
            Issue.record("unexpected error \(error)")
            return .failure(.disconnected)
        }
    }

    /// The ack id in `42<id>[…]`.
    static func ackID(of text: String) -> Int? {
        guard text.hasPrefix("42") else { return nil }
        return Int(text.dropFirst(2).prefix { $0.isNumber })
    }
}
