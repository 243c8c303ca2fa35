import HeraldTesting
import NIOCore
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct EventAckTests {
    /// End to end over a real websocket.
    @Test func clientEventWithAckIdIsAnsweredOverAWebSocket() async throws {
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

    @Test func clientEventWithAckIdIsAnswered() async throws {
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in
                socket.on("message-with-ack") { event in event.ack(event.args) }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.emit("message-with-ack", "1", #""2""#, #"{"3":[false]}"#, ackID: 456)
            #expect(try await client.nextText() == #"43456[1,"2",{"3":[false]}]"#)
            await client.expectNothingSent()
        }
    }

    @Test func ackInCustomNamespaceCarriesTheNamespace() async throws {
        try await withEmbeddedServer(setUp: { io in
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
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in
                socket.on("twice") { event in
                    event.ack("first")
                    event.ack("second")
                }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.emit("twice", ackID: 1)
            #expect(try await client.nextText() == #"431["first"]"#)
            await client.expectNothingSent()
        }
    }

    @Test func eventWithoutAckIdDoesNotWantAck() async throws {
        let wants = Mailbox<Bool>("wantsAck")
        try await withEmbeddedServer(setUp: { io in
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
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in
                Task { answers.send(await Self.ask(socket)) }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            // The socket's first ack id is 0.
            #expect(try await client.nextText() == #"420["question",1]"#)
            client.send(#"430["answer",{"n":2}]"#)
            #expect(try await answers.next() == .success(["answer", ["n": 2]]))
        }
    }

    @Test func emitWithAckTimesOut() async throws {
        let answers = Mailbox<Result<[JSONValue], AckError>>("ack result")
        try await withEmbeddedServer(configuration: fastConfiguration(ackTimeout: .milliseconds(100)), setUp: { io in
            io.onConnection { socket in
                Task { answers.send(await Self.ask(socket)) }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            #expect(try await client.nextText() == #"420["question",1]"#)
            await server.advanceTime(by: .milliseconds(99))
            #expect(answers.isEmpty)
            await server.advanceTime(by: .milliseconds(1))
            #expect(try await answers.next() == .failure(.timeout))
            // A late ack is ignored, and the connection stays fine.
            client.send(#"430["late"]"#)
            client.emit("ping")
            await client.expectNothingSent()
            #expect(server.io.sockets.socketCount == 1)
        }
    }

    @Test func disconnectDuringPendingAckThrowsDisconnected() async throws {
        let answers = Mailbox<Result<[JSONValue], AckError>>("ack result")
        try await withEmbeddedServer(setUp: { io in
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
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in socket.onDisconnect { _ in gone.send(socket) } }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.send("41")
            let socket = try #require(try await gone.next())
            await #expect(throws: AckError.disconnected) { _ = try await socket.emitWithAck("late") }
            await client.expectNothingSent()
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
}
