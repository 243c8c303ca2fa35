import Foundation
import Herald
import HeraldTesting
import NIOPosix
import SocketIOProtocol
import Testing

/// Attacks on the gateway by clients on real sockets against a running node: each checks the answer, that the
/// node is still up and that a fresh client still connects.
@Suite struct HostileGatewayTests {
    let auth = AuthLiveTests()

    func expectFreshClientConnects(_ port: Int) async throws {
        let client = try await auth.client(port)
        let sid = try await client.connect(auth: AuthLiveTests.authJSON(try await AuthLiveTests.token(sub: "fresh")))
        #expect(!sid.isEmpty)
        await client.disconnectTransport()
    }

    /// A validly signed token whose NumericDates are in milliseconds used to trap in the expiry timer.
    @Test func millisecondClaimsAreRefusedNotTrapped() async throws {
        try await auth.withNode { node, port in
            let refusal = { (name: String) in
                #"44{"message":"\#(name) 1700000000000 is after the year 9999: NumericDates are seconds since 1970, not milliseconds","data":{"code":"token_invalid"}}"#
            }
            for name in ["exp", "nbf", "iat"] {
                let client = try await auth.client(port)
                client.send("40" + AuthLiveTests.authJSON(try await AuthLiveTests.token([name: .int(1_700_000_000_000)])))
                #expect(try await client.nextText() == refusal(name))
                await client.disconnectTransport()
            }
            // At the far edge of what is accepted, the timer saturates instead of trapping.
            let client = try await auth.client(port)
            try await client.connect(auth: AuthLiveTests.authJSON(try await AuthLiveTests.token(["exp": .int(253_402_300_799)])))
            client.emit("refresh", #"{"token":"\#(try await AuthLiveTests.token(["exp": .int(1_700_000_000_000)]))"}"#, ackID: 1)
            #expect(try await client.nextText() == #"431[{"ok":false,"error":{"code":"token_invalid","message":"exp 1700000000000 is after the year 9999: NumericDates are seconds since 1970, not milliseconds"}}]"#)
            client.emit("refresh", #"{"token":"\#(try await AuthLiveTests.token(["exp": .double(253_402_300_000.5)]))"}"#, ackID: 2)
            #expect(try await client.nextText() == #"432[{"ok":true}]"#)
            try await expectFreshClientConnects(port)
            #expect(node.auth?.stats.refused == [.tokenInvalid: 3])
        }
    }
}

/// Chat abuse: texts huge in bytes but short in characters, history pages huge in bytes, repeated and
/// countless joins, over-long room names.
@Suite struct HostileChatTests {
    @Test func chatIsBoundedInBytesAndRooms() async throws {
        let chat = try await ChatTestNode.start(historyOnJoin: 50, chat: { chat in
            chat.maxMessageBytes = 1_000
            chat.historyMaxBytes = 3_000
            chat.maxRooms = 3
        })
        do {
            let client = try await chat.client()
            try await client.join("chat:a")
            // One character, 60 001 bytes: refused by its bytes, nothing stored or broadcast.
            let marks = try await client.send("chat:a", "a" + String(repeating: "\u{301}", count: 30_000))
            #expect(marks == ["ok": false, "error": ["code": "text_too_long", "message": "text is longer than 1000 bytes"]])
            for index in 0..<10 {
                let ack = try await client.send("chat:a", "\(index)" + String(repeating: "x", count: 899))
                #expect(ack["ok"] == true, "\(ack)")
                _ = try await client.next("chat:message")
            }
            // The history on join and the API page stop at 3 000 bytes (two of these messages) and page on.
            let reader = try await chat.client()
            try await reader.join("chat:a")
            let history = try await reader.next("chat:history")
            let onJoin = try #require(history["messages"]?.arrayValue)
            #expect(onJoin.count == 2 && onJoin.map(\.jsonString.utf8.count).reduce(0, +) <= 3_000, "\(onJoin.count)")
            #expect(history["next"] == onJoin.first?["id"])
            let (status, page) = try await chat.get("/api/rooms/chat:a/messages?limit=200")
            #expect(status == 200)
            #expect(page["messages"]?.arrayValue?.count == 2)
            let older = try await chat.get("/api/rooms/chat:a/messages?before=\(try #require(page["next"]?.stringValue))")
            #expect(older.body["messages"]?.arrayValue?.count == 2)

            // A repeated join is acknowledged without a second history.
            try await reader.join("chat:a")
            _ = try await reader.send("chat:a", "after the repeat")
            _ = try await reader.next("chat:message")
            #expect(reader.keptCount("chat:history") == 0)

            // Rooms per socket: three chat rooms at most; an over-long or control-character name is refused.
            try await reader.join("chat:b")
            try await reader.join("chat:c")
            let fourth = try await reader.emitWithAck("chat:join", ["room": "chat:d"])
            #expect(fourth.errorCode == "too_many_rooms", "\(fourth)")
            let long = try await reader.emitWithAck("chat:join", ["room": .string("chat:" + String(repeating: "A", count: 70_000))])
            #expect(long.errorCode == "invalid_room", "\(long)")
            let control = try await reader.emitWithAck("chat:join", ["room": "chat:\n2026-01-01 forged"])
            #expect(control.errorCode == "invalid_room", "\(control)")
            let sockets = chat.node.io.sockets.sockets
            #expect(sockets.allSatisfy { $0.rooms.count <= 4 }, "\(sockets.map(\.rooms))")

            let fresh = try await chat.client()
            try await fresh.join("chat:a")
            await fresh.close()
            await client.close()
            await reader.close()
        } catch {
            try await chat.stop()
            throw error
        }
        try await chat.stop()
    }
}
