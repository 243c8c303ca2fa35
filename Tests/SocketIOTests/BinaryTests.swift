import HeraldTesting
import NIOCore
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct BinaryTests {
    @Test func clientBinaryEventReachesHandlerAsBinary() async throws {
        let received = Mailbox<[JSONValue]>("binary args")
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in socket.on("x") { received.send($0.args) } }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.send(#"451-["x",{"_placeholder":true,"num":0}]"#)
            client.send(binary: [1, 2, 3])
            #expect(try await received.next() == [.binary(ByteBuffer(bytes: [1, 2, 3]))])
        }
    }

    /// End to end: attachments both ways over a real websocket.
    @Test func binaryAckOverAWebSocket() async throws {
        try await withServer(setUp: { io in
            io.onConnection { socket in socket.on("message-with-ack") { $0.ack($0.args) } }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.send(#"452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            client.send(binary: [1, 2, 3])
            client.send(binary: [4, 5, 6])
            #expect(try await client.nextText() == #"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            #expect(try await client.nextBinary() == [1, 2, 3])
            #expect(try await client.nextBinary() == [4, 5, 6])
        }
    }

    @Test func binaryEventWithAckIsAnsweredWithBinaryAck() async throws {
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in socket.on("message-with-ack") { $0.ack($0.args) } }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.send(#"452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            client.send(binary: [1, 2, 3])
            client.send(binary: [4, 5, 6])
            #expect(try await client.nextText() == #"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            #expect(try await client.nextBinary() == [1, 2, 3])
            #expect(try await client.nextBinary() == [4, 5, 6])
            await client.expectNothingSent()
        }
    }

    @Test func serverEmitWithBinarySendsPlaceholderThenAttachment() async throws {
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in
                socket.emit("file", ["name": "a.bin", "content": .binary(ByteBuffer(bytes: [4, 5, 6]))], "done")
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            #expect(try await client.nextText() == #"451-["file",{"name":"a.bin","content":{"_placeholder":true,"num":0}},"done"]"#)
            #expect(try await client.nextBinary() == [4, 5, 6])
        }
    }

    @Test func broadcastWithBinaryReachesEveryClient() async throws {
        try await withEmbeddedServer(loops: 2) { server in
            let clients = try await server.connectedClients(3)
            server.io.emit("blob", .binary(ByteBuffer(bytes: [9, 8])))
            for (client, _) in clients {
                #expect(try await client.nextText() == #"451-["blob",{"_placeholder":true,"num":0}]"#)
                #expect(try await client.nextBinary() == [9, 8])
            }
        }
    }

    @Test func serverEmitWithAckCarriesBinaryAndResolvesWithBinaryAck() async throws {
        let answers = Mailbox<[JSONValue]>("ack result")
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in
                Task {
                    let answer = try await socket.emitWithAck("upload", .binary(ByteBuffer(bytes: [1])))
                    answers.send(answer)
                }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            #expect(try await client.nextText() == #"451-0["upload",{"_placeholder":true,"num":0}]"#)
            #expect(try await client.nextBinary() == [1])
            client.send(#"461-0["ok",{"_placeholder":true,"num":0}]"#)
            client.send(binary: [7, 7])
            #expect(try await answers.next() == ["ok", .binary(ByteBuffer(bytes: [7, 7]))])
        }
    }

    @Test func binaryFrameWithoutPendingPacketClosesTheConnection() async throws {
        try await withEmbeddedServer { server in
            let client = try await server.client()
            try await client.connect()
            client.send(binary: [1, 2, 3])
            #expect(try await client.expectClosed() == [])
        }
    }

    @Test func textFrameWhileAwaitingAttachmentsClosesTheConnection() async throws {
        try await withEmbeddedServer { server in
            let client = try await server.client()
            try await client.connect()
            client.send(#"452-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            client.send(binary: [1])
            client.send(#"42["x"]"#)
            #expect(try await client.expectClosed() == [])
        }
    }

    @Test func tooManyAttachmentsClosesTheConnection() async throws {
        try await withEmbeddedServer { server in
            let client = try await server.client()
            try await client.connect()
            client.send(#"4511-["x"]"#)
            #expect(try await client.expectClosed() == [])
        }
    }
}
