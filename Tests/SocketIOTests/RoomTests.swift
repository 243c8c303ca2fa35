import HeraldTesting
import NIOCore
import SocketIO
import SocketIOProtocol
import Testing

/// Eight clients over two event loops (two room shards), each joining the rooms its CONNECT auth names.
@Suite struct RoomTests {
    static let layout: [[String]] = [["a"], ["a", "b"], ["b"], [], ["a", "c"], ["b", "c"], ["a"], []]
    typealias Clients = [(client: EmbeddedSocketIOClient, sid: String)]

    static func setUp(reasons: Mailbox<DisconnectReason>? = nil) -> (SocketIOServer) -> Void {
        { io in
            io.onConnection { socket in
                if let rooms = socket.handshake.auth["rooms"]?.arrayValue {
                    socket.join(rooms.compactMap(\.stringValue))
                }
                socket.onDisconnect { reasons?.send($0) }
            }
        }
    }

    static func auth(_ index: Int) -> String {
        #"{"rooms":[\#(layout[index].map { "\"\($0)\"" }.joined(separator: ","))]}"#
    }

    static func withRooms(
        reasons: Mailbox<DisconnectReason>? = nil,
        _ body: (EmbeddedSocketIOServer, Clients) async throws -> Void
    ) async throws {
        try await withEmbeddedServer(loops: 2, setUp: setUp(reasons: reasons)) { server in
            let clients = try await server.connectedClients(layout.count, auth: auth)
            let loops = Set(await server.io.localSockets().map { ObjectIdentifier($0.eventLoop as AnyObject) })
            try #require(loops.count == 2, "clients should be spread over both event loops")
            try await body(server, clients)
        }
    }

    /// End to end over real websockets and the server's two event loops.
    @Test func toRoomReachesExactlyItsMembersOverWebSockets() async throws {
        try await withServer(setUp: Self.setUp()) { server in
            let clients = try await server.connectedClients(Self.layout.count, auth: Self.auth)
            let loops = Set(await server.io.localSockets().map { ObjectIdentifier($0.eventLoop as AnyObject) })
            try #require(loops.count == 2, "clients should be spread over both event loops")
            server.io.to("a").emit("news", 1)
            try await Self.expectDelivery(#"42["news",1]"#, to: Self.members(of: "a"), among: clients, io: server.io)
        }
    }

    /// Checks that exactly `members` got `expected`, once each: a marker broadcast to everyone follows, and since
    /// broadcasts reach each connection in order, anything else before the marker is a wrong or duplicate delivery.
    static func expectDelivery<Client: SocketIOWireClient>(
        _ expected: String, to members: Set<Int>, among clients: [(client: Client, sid: String)], io: SocketIOServer,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        io.emit("marker")
        for (index, entry) in clients.enumerated() {
            if members.contains(index) {
                #expect(try await entry.client.nextText() == expected, "client \(index)", sourceLocation: sourceLocation)
            }
            #expect(try await entry.client.nextText() == #"42["marker"]"#, "client \(index)", sourceLocation: sourceLocation)
        }
    }

    static func members(of room: String) -> Set<Int> {
        Set(layout.indices.filter { layout[$0].contains(room) })
    }

    /// With a zero flush slice a loop flushes 16 connections, then lets the loop read before the next 16: every
    /// client still gets every broadcast once and in order, and an emit to its socket after the broadcasts comes
    /// after them (only flushes are put off, never writes).
    @Test func slicedFlushKeepsEveryDeliveryInOrder() async throws {
        var configuration = SocketIOConfiguration()
        configuration.broadcastFlushSlice = .zero
        try await withServer(configuration: configuration) { server in
            let clients = try await server.connectedClients(40)
            let sockets = await server.io.localSockets()
            try #require(Set(sockets.map { ObjectIdentifier($0.eventLoop as AnyObject) }).count == 2)
            for n in 0..<10 { server.io.emit("n", .int(n)) }
            for socket in sockets { socket.emit("direct") }
            for (index, entry) in clients.enumerated() {
                for n in 0..<10 { #expect(try await entry.client.nextText() == #"42["n",\#(n)]"#, "client \(index)") }
                #expect(try await entry.client.nextText() == #"42["direct"]"#, "client \(index)")
            }
        }
    }

    @Test func toRoomReachesExactlyItsMembers() async throws {
        try await Self.withRooms { server, clients in
            server.io.to("a").emit("news", 1)
            try await Self.expectDelivery(#"42["news",1]"#, to: Self.members(of: "a"), among: clients, io: server.io)
        }
    }

    @Test func exceptSkipsRoomMembers() async throws {
        try await Self.withRooms { server, clients in
            server.io.except("a").emit("e")
            try await Self.expectDelivery(#"42["e"]"#, to: [2, 3, 5, 7], among: clients, io: server.io)
            server.io.to("b").except("c").emit("e2")
            try await Self.expectDelivery(#"42["e2"]"#, to: [1, 2], among: clients, io: server.io)
            // A socket id is a room too.
            server.io.to("a").except(clients[0].sid).emit("e3")
            try await Self.expectDelivery(#"42["e3"]"#, to: [1, 4, 6], among: clients, io: server.io)
        }
    }

    @Test func socketToRoomExcludesTheSender() async throws {
        try await Self.withRooms { server, clients in
            let sender = try #require(server.io.sockets.socket(id: clients[1].sid))
            sender.to("a").emit("from-1")
            try await Self.expectDelivery(#"42["from-1"]"#, to: [0, 4, 6], among: clients, io: server.io)
        }
    }

    @Test func socketBroadcastReachesEveryoneButTheSender() async throws {
        try await Self.withRooms { server, clients in
            let sender = try #require(server.io.sockets.socket(id: clients[3].sid))
            sender.broadcast.emit("hi", "x")
            try await Self.expectDelivery(#"42["hi","x"]"#, to: Set(clients.indices).subtracting([3]), among: clients, io: server.io)
        }
    }

    @Test func severalRoomsDeliverOncePerSocket() async throws {
        try await Self.withRooms { server, clients in
            server.io.to("a", "b").emit("once")
            try await Self.expectDelivery(#"42["once"]"#, to: [0, 1, 2, 4, 5, 6], among: clients, io: server.io)
            server.io.to("a").to("c").to("b").emit("thrice")
            try await Self.expectDelivery(#"42["thrice"]"#, to: [0, 1, 2, 4, 5, 6], among: clients, io: server.io)
        }
    }

    @Test func volatileAndLocalDeliverToWritableMembers() async throws {
        try await Self.withRooms { server, clients in
            server.io.sockets.volatile.to("c").emit("v")
            try await Self.expectDelivery(#"42["v"]"#, to: [4, 5], among: clients, io: server.io)
            server.io.sockets.local.to("b").emit("l")
            try await Self.expectDelivery(#"42["l"]"#, to: [1, 2, 5], among: clients, io: server.io)
        }
    }

    /// A volatile event skips a member whose transport is not keeping up, and only that one.
    @Test func volatileSkipsMembersThatAreNotKeepingUp() async throws {
        try await Self.withRooms { server, clients in
            try await clients[4].client.setWritable(false)
            server.io.sockets.volatile.to("c").emit("v")
            try await Self.expectDelivery(#"42["v"]"#, to: [5], among: clients, io: server.io)
            #expect(try await clients[4].client.volatileDrops() == 1)
        }
    }

    @Test func roomInCustomNamespaceIsSeparate() async throws {
        try await withEmbeddedServer(loops: 2, setUp: { io in
            io.of("/chat").onConnection { socket in socket.join("a") }
            io.onConnection { socket in socket.join("a") }
        }) { server in
            let main = try await server.connectedClients(2)
            let chat = try await server.connectedClients(2, namespace: "/chat")
            server.io.of("/chat").to("a").emit("c")
            for (client, _) in chat { try await client.expectEvent("c", namespace: "/chat") }
            for (client, _) in main { await client.expectNothingSent() }
            server.io.to("a").emit("m")
            for (client, _) in main { try await client.expectEvent("m") }
            for (client, _) in chat { await client.expectNothingSent() }
        }
    }

    @Test func fetchSocketsByRoom() async throws {
        try await Self.withRooms { server, clients in
            func ids(_ sockets: [RemoteSocket]) -> Set<String> { Set(sockets.map(\.id)) }
            func sids(_ indices: Set<Int>) -> Set<String> { Set(indices.map { clients[$0].sid }) }
            #expect(ids(try await server.io.fetchSockets()) == sids(Set(clients.indices)))
            #expect(ids(try await server.io.in("a").fetchSockets()) == sids(Self.members(of: "a")))
            #expect(ids(try await server.io.to("a", "c").fetchSockets()) == sids([0, 1, 4, 5, 6]))
            #expect(ids(try await server.io.to("a").except("b").fetchSockets()) == sids([0, 4, 6]))
            #expect(try await server.io.in("nobody").fetchSockets().isEmpty)
            let socket = try #require(try await server.io.in(clients[1].sid).fetchSockets().first)
            #expect(socket.rooms == [clients[1].sid, "a", "b"])
        }
    }

    @Test func socketsJoinAndLeave() async throws {
        try await Self.withRooms { server, clients in
            func ids(_ sockets: [RemoteSocket]) -> Set<String> { Set(sockets.map(\.id)) }
            let adapter = try #require(server.io.sockets.adapter as? InMemoryAdapter)
            // a, b and c, each once though their members are on both event loops; no socket's own room.
            #expect(await adapter.roomCount() == 3)
            try await server.io.in("c").socketsJoin("d", "e")
            #expect(await adapter.roomCount() == 5)
            #expect(ids(try await server.io.in("d").fetchSockets()) == [clients[4].sid, clients[5].sid])
            server.io.to("e").emit("joined")
            try await Self.expectDelivery(#"42["joined"]"#, to: [4, 5], among: clients, io: server.io)

            try await server.io.sockets.all.socketsLeave("a")
            #expect(try await server.io.in("a").fetchSockets().isEmpty)
            #expect(await adapter.roomCounts()["a"] == nil)
            #expect(await adapter.roomCount() == 4)
            server.io.to("a").emit("nobody")
            try await Self.expectDelivery(#"42["nobody"]"#, to: [], among: clients, io: server.io)
        }
    }

    @Test func disconnectSocketsOfARoom() async throws {
        let reasons = Mailbox<DisconnectReason>("disconnect reason")
        try await Self.withRooms(reasons: reasons) { server, clients in
            try await server.io.in("b").disconnectSockets()
            for _ in Self.members(of: "b") { #expect(try await reasons.next() == .serverNamespaceDisconnect) }
            #expect(server.io.sockets.socketCount == clients.count - 3)
            #expect(try await server.io.in("b").fetchSockets().isEmpty)
            server.io.emit("marker")
            for (index, entry) in clients.enumerated() {
                let expected = Self.members(of: "b").contains(index) ? "41" : #"42["marker"]"#
                #expect(try await entry.client.nextText() == expected, "client \(index)")
            }

            try await server.io.in("c").disconnectSockets(close: true)
            #expect(try await reasons.next() == .forcedServerClose)
            #expect(try await clients[4].client.expectClosed() == [])
        }
    }
}
