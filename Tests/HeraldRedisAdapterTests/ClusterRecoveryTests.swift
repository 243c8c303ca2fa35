import HeraldTesting
import NIOCore
import HeraldRedisAdapter
import SocketIO
import SocketIOProtocol
import Testing

/// Recovery across nodes: the session and the missed events come from the cluster log, whichever node the
/// client comes back to.
@Suite struct ClusterRecoveryTests {
    static let socketIO = SocketIOConfiguration(connectionStateRecovery: ConnectionStateRecovery())

    static func connect(_ client: RawSocketIOClient, auth: String = "") async throws -> (sid: String, pid: String) {
        client.send("40" + auth)
        let reply = try await client.nextText()
        return (try #require(reply.jsonStringField("sid"), "\(reply)"), try #require(reply.jsonStringField("pid"), "\(reply)"))
    }

    static func offset(of text: String) throws -> String {
        String(try #require(text.split(separator: ",").last).dropFirst().dropLast(2))
    }

    @Test func clientComesBackToAnotherNodeWithItsRoomsAndMissedEvents() async throws {
        let disconnects = Mailbox<DisconnectReason>("disconnect")
        try await withCluster(2, socketIO: Self.socketIO, setUp: { index, io in
            if index == 0 { io.onConnection { socket in socket.onDisconnect { disconnects.send($0) } } }
        }) { cluster in
            let first = try await RawSocketIOClient.open(port: cluster.nodes[0].port, group: cluster.clientGroup)
            let (sid, pid) = try await Self.connect(first)
            try await cluster.join(first, on: 0, "r")

            cluster.nodes[1].io.to("r").emit("e1", 1)
            let e1 = try await first.nextText()
            #expect(e1.hasPrefix(#"42["e1",1,"mem-"#))
            let seen = try Self.offset(of: e1)

            await first.disconnectTransport()
            #expect(try await disconnects.next() == .transportClose)
            try await cluster.nodes[1].io.to("r").publish("e2", args: [2])
            try await cluster.nodes[1].io.to("other").publish("not-yours", args: [])
            try await cluster.nodes[0].io.to("r").publish("e3", args: [3])

            let second = try await RawSocketIOClient.open(port: cluster.nodes[1].port, group: cluster.clientGroup)
            second.send(#"40{"pid":"\#(pid)","offset":"\#(seen)"}"#)
            #expect(try await second.nextText() == #"40{"sid":"\#(sid)","pid":"\#(pid)"}"#)
            #expect(try await second.nextText().hasPrefix(#"42["e2",2,"mem-"#))
            #expect(try await second.nextText().hasPrefix(#"42["e3",3,"mem-"#))
            // The room is back on the new node: a broadcast from the old node reaches the client there.
            await cluster.nodes[1].adapter.subscriptionsSettled()
            cluster.nodes[0].io.to("r").emit("live")
            #expect(try await second.nextText().hasPrefix(#"42["live","mem-"#))
        }
    }

    @Test func trimmedLogMeansNoRecovery() async throws {
        try await withCluster(2, socketIO: Self.socketIO) { cluster in
            cluster.hub.logLimit = 1
            let first = try await RawSocketIOClient.open(port: cluster.nodes[0].port, group: cluster.clientGroup)
            let (sid, pid) = try await Self.connect(first)
            cluster.nodes[0].io.emit("e0")
            let seen = try Self.offset(of: try await first.nextText())
            await first.disconnectTransport()
            try await waitUntil { cluster.nodes[0].io.sockets.socketCount == 0 }
            try await cluster.nodes[1].io.sockets.all.publish("e1", args: [])
            try await cluster.nodes[1].io.sockets.all.publish("e2", args: [])

            let second = try await RawSocketIOClient.open(port: cluster.nodes[1].port, group: cluster.clientGroup)
            second.send(#"40{"pid":"\#(pid)","offset":"\#(seen)"}"#)
            let reply = try await second.nextText()
            #expect(reply.jsonStringField("sid") != sid)
            #expect(reply.jsonStringField("pid") != pid)
        }
    }

    /// An offset from before the session connected, or one never issued, is not honoured: a new session.
    @Test func offsetsOutsideTheSessionsLifeGiveANewSession() async throws {
        try await withCluster(2, socketIO: Self.socketIO) { cluster in
            try await cluster.nodes[1].io.sockets.all.publish("before", args: [])
            for forged in ["mem-0", "mem-99", "other:1-0"] {
                let first = try await RawSocketIOClient.open(port: cluster.nodes[0].port, group: cluster.clientGroup)
                let (sid, pid) = try await Self.connect(first)
                await first.disconnectTransport()
                try await waitUntil { cluster.nodes[0].io.sockets.socketCount == 0 }
                let second = try await RawSocketIOClient.open(port: cluster.nodes[1].port, group: cluster.clientGroup)
                second.send(#"40{"pid":"\#(pid)","offset":"\#(forged)"}"#)
                let reply = try await second.nextText()
                #expect(reply.jsonStringField("sid") != sid, "\(forged): \(reply)")
                await second.disconnectTransport()
                try await waitUntil { cluster.nodes[1].io.sockets.socketCount == 0 }
            }
        }
    }

    /// A pid or offset of a shape no node issues is never looked up in the log: the client gets a new session.
    @Test func oddPidOrOffsetIsNeverLookedUp() async throws {
        try await withCluster(1, socketIO: Self.socketIO) { cluster in
            let first = try await RawSocketIOClient.open(port: cluster.nodes[0].port, group: cluster.clientGroup)
            let (sid, pid) = try await Self.connect(first)
            await first.disconnectTransport()
            try await waitUntil { cluster.nodes[0].io.sockets.socketCount == 0 }
            let oversized = String(repeating: "A", count: 4000)
            for auth in [#"{"pid":"\#(oversized)"}"#, #"{"pid":"\#(pid)x"}"#, #"{"pid":"*\#(pid.dropFirst())"}"#,
                         #"{"pid":"\#(pid)","offset":"\#(oversized)"}"#, #"{"pid":"\#(pid)","offset":"mem 1"}"#] {
                let client = try await RawSocketIOClient.open(port: cluster.nodes[0].port, group: cluster.clientGroup)
                let (newSid, _) = try await Self.connect(client, auth: auth)
                #expect(newSid != sid, "\(auth.prefix(80))")
                await client.disconnectTransport()
            }
            #expect(cluster.hub.sessionLookups.isEmpty, "\(cluster.hub.sessionLookups.map { $0.prefix(40) })")
            // The session is still there for its real pid.
            let back = try await RawSocketIOClient.open(port: cluster.nodes[0].port, group: cluster.clientGroup)
            #expect(try await Self.connect(back, auth: #"{"pid":"\#(pid)"}"#).sid == sid)
            #expect(cluster.hub.sessionLookups == [pid])
        }
    }

    @Test func logOutageStillDeliversLocallyWithoutOffsets() async throws {
        try await withCluster(1, socketIO: Self.socketIO) { cluster in
            let client = try await RawSocketIOClient.open(port: cluster.nodes[0].port, group: cluster.clientGroup)
            _ = try await Self.connect(client)
            cluster.hub.isDown = true
            await #expect(throws: InMemoryClusterBus.Unavailable.self) {
                try await cluster.nodes[0].io.sockets.all.publish("during-outage", args: [])
            }
            #expect(try await client.nextText() == #"42["during-outage"]"#)
        }
    }
}
