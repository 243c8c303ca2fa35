import HeraldTesting
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct EventGateTests {
    /// A gate sees every event first; an event it drops reaches neither `onAny` nor the event's handler.
    @Test func droppedEventsReachNoHandler() async throws {
        let seen = Mailbox<String>("handled event")
        try await withEmbeddedServer(setUp: { io in
            io.onConnection { socket in
                socket.use { event in event.name != "blocked" }
                socket.onAny { event in seen.send("any:" + event.name) }
                socket.on("blocked") { _ in seen.send("blocked") }
                socket.on("allowed") { event in
                    seen.send("allowed")
                    event.ack("ok")
                }
            }
        }) { server in
            let client = try await server.client()
            try await client.connect()
            client.emit("blocked", ackID: 1)
            client.emit("allowed", ackID: 2)
            #expect(try await client.nextText() == #"432["ok"]"#)
            #expect(seen.drain() == ["any:allowed", "allowed"])
        }
    }
}
