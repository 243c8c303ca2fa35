import HeraldTesting
import NIOCore
import HeraldRedisAdapter
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct ClusterBroadcastTests {
    @Test func roomBroadcastReachesMembersOnEveryNodeAndOnlyThem() async throws {
        try await withCluster(3) { cluster in
            let a = try await cluster.client(on: 0)
            let b = try await cluster.client(on: 1)
            let c = try await cluster.client(on: 2)
            try await cluster.join(a.client, on: 0, "order:1")
            try await cluster.join(c.client, on: 2, "order:1")

            cluster.nodes[1].io.to("order:1").emit("order:updated", ["status": "shipped"])
            try await a.client.expectEvent("order:updated", #"{"status":"shipped"}"#)
            try await c.client.expectEvent("order:updated", #"{"status":"shipped"}"#)

            // b is in no room: the next thing it hears is the marker, not the room's event.
            cluster.nodes[0].io.emit("marker")
            try await b.client.expectEvent("marker")
            // Node 1 has no member in the room, so it never subscribed to the room's channel.
            #expect(cluster.nodes[1].adapter.subscribedRooms.contains("order:1") == false)
            #expect(cluster.hub.subscribers("herald#1:/#r7:order:1") == 2)
        }
    }

    @Test func oneRoomBroadcastUsesTheRoomChannelAndSeveralRoomsTheNamespaceChannel() async throws {
        try await withCluster(2) { cluster in
            let a = try await cluster.client(on: 0)
            try await cluster.join(a.client, on: 0, "x", "y")
            cluster.nodes[1].io.to("x").emit("one")
            try await a.client.expectEvent("one")
            cluster.nodes[1].io.to("x", "y").emit("two")
            // In both rooms, still delivered once.
            try await a.client.expectEvent("two")
            cluster.nodes[1].io.emit("three")
            try await a.client.expectEvent("three")
            let broadcasts = cluster.hub.publishedChannels.filter { !$0.hasSuffix("#request") && !$0.contains("#response#") }
            #expect(broadcasts == ["herald#1:/#r1:x", "herald#1:/#", "herald#1:/#"])
        }
    }

    @Test func exceptAndSenderExclusionAcrossNodes() async throws {
        try await withCluster(2) { cluster in
            let a = try await cluster.client(on: 0)
            let b = try await cluster.client(on: 1)
            let c = try await cluster.client(on: 1)
            try await cluster.join(a.client, on: 0, "r")
            try await cluster.join(b.client, on: 1, "r", "muted")
            try await cluster.join(c.client, on: 1, "r")

            cluster.nodes[0].io.to("r").except("muted").emit("hello")
            try await a.client.expectEvent("hello")
            try await c.client.expectEvent("hello")
            // A socket id is a room: excluding it works across nodes too.
            cluster.nodes[0].io.to("r").except(c.sid).emit("second")
            try await b.client.expectEvent("second")
            try await a.client.expectEvent("second")
            cluster.nodes[1].io.emit("end")
            try await c.client.expectEvent("end")
        }
    }

    /// A user room named like a socket id (20 URL-safe characters) is a room like any other: a broadcast to it
    /// from any node reaches its members on every node, once each, and leaving it stops that.
    @Test func aUserRoomNamedLikeAnIDIsFannedOutAcrossNodes() async throws {
        try await withCluster(3) { cluster in
            let room = "ABCDEFGHIJ0123456789"
            let a = try await cluster.client(on: 0)
            let b = try await cluster.client(on: 1)
            let c = try await cluster.client(on: 2)
            try await cluster.join(a.client, on: 0, room)
            try await cluster.join(b.client, on: 1, room)
            cluster.nodes[2].io.to(room).emit("in-room", 1)
            try await a.client.expectEvent("in-room", "1")
            try await b.client.expectEvent("in-room", "1")
            cluster.nodes[0].io.to(room).emit("again", 2)
            try await a.client.expectEvent("again", "2")
            try await b.client.expectEvent("again", "2")
            // Nothing else reached them (no second copy) and the non-member got nothing: the next event is this.
            b.client.emit("leave", "\"\(room)\"", ackID: 2)
            _ = try await b.client.nextText()
            await cluster.nodes[1].adapter.subscriptionsSettled()
            cluster.nodes[2].io.to(room).emit("after-leave")
            cluster.nodes[2].io.emit("end")
            try await a.client.expectEvent("after-leave")
            try await a.client.expectEvent("end")
            try await b.client.expectEvent("end")
            try await c.client.expectEvent("end")
        }
    }

    @Test func toOneSocketOnAnotherNode() async throws {
        try await withCluster(2) { cluster in
            let a = try await cluster.client(on: 0)
            let b = try await cluster.client(on: 1)
            // No subscription to wait for: a socket's own room travels on the namespace channel.
            cluster.nodes[1].io.to(a.sid).emit("direct", 1)
            try await a.client.expectEvent("direct", "1")
            cluster.nodes[0].io.emit("end")
            try await b.client.expectEvent("end")
            #expect(cluster.hub.subscribers("herald#1:/#r20:\(a.sid)") == 0)
            #expect(cluster.hub.publishedChannels.contains("herald#1:/#r20:\(a.sid)") == false)
        }
    }

    /// A room joined in middleware is reachable from every node by the time the client has its CONNECT reply.
    @Test func roomsJoinedInMiddlewareAreReachableAtConnect() async throws {
        try await withCluster(2, setUp: { _, io in
            io.use { socket in
                if let user = socket.handshake.auth["user"]?.stringValue { socket.join("user:" + user) }
            }
        }) { cluster in
            let a = try await cluster.client(on: 0, auth: #"{"user":"ann"}"#)
            // No waiting for subscriptions here: the hold made the room's channel live before CONNECT.
            #expect(cluster.hub.subscribers("herald#1:/#r8:user:ann") == 1)
            cluster.nodes[1].io.to("user:ann").emit("hello-ann")
            try await a.client.expectEvent("hello-ann")
        }
    }

    @Test func refusedSocketReleasesItsHeldRooms() async throws {
        try await withCluster(1, setUp: { _, io in
            io.use { socket in
                socket.join("held")
                if socket.handshake.auth["refuse"] == true { throw ConnectError("no") }
            }
        }) { cluster in
            let client = try await RawSocketIOClient.open(port: cluster.nodes[0].port, group: cluster.clientGroup)
            client.send(#"40{"refuse":true}"#)
            #expect(try await client.nextText() == #"44{"message":"no"}"#)
            await cluster.nodes[0].adapter.subscriptionsSettled()
            #expect(cluster.hub.subscribers("herald#1:/#r4:held") == 0)
        }
    }

    @Test func binaryTravelsBetweenNodes() async throws {
        try await withCluster(2) { cluster in
            let a = try await cluster.client(on: 0)
            cluster.nodes[1].io.emit("file", .binary(ByteBuffer(bytes: [1, 2, 3])), "name")
            #expect(try await a.client.nextText() == #"451-["file",{"_placeholder":true,"num":0},"name"]"#)
            #expect(try await a.client.nextBinary() == [1, 2, 3])
        }
    }

    @Test func volatileBroadcastReachesWritableClientsOnOtherNodes() async throws {
        try await withCluster(2) { cluster in
            let a = try await cluster.client(on: 0)
            cluster.nodes[1].io.volatile.emit("tick", 1)
            try await a.client.expectEvent("tick", "1")
        }
    }

    @Test func localBroadcastStaysOnTheNode() async throws {
        try await withCluster(2) { cluster in
            let a = try await cluster.client(on: 0)
            let b = try await cluster.client(on: 1)
            cluster.nodes[1].io.local.emit("only-here")
            try await b.client.expectEvent("only-here")
            cluster.nodes[1].io.emit("everywhere")
            try await a.client.expectEvent("everywhere")
            try await b.client.expectEvent("everywhere")
        }
    }

    @Test func lastMemberLeavingUnsubscribesTheRoom() async throws {
        try await withCluster(2) { cluster in
            let a = try await cluster.client(on: 0)
            let a2 = try await cluster.client(on: 0)
            try await cluster.join(a.client, on: 0, "room")
            try await cluster.join(a2.client, on: 0, "room")
            #expect(cluster.hub.subscribers("herald#1:/#r4:room") == 1)
            a.client.emit("leave", "\"room\"", ackID: 2)
            _ = try await a.client.nextText()
            await cluster.nodes[0].adapter.subscriptionsSettled()
            #expect(cluster.hub.subscribers("herald#1:/#r4:room") == 1)
            await a2.client.disconnectTransport()
            try await waitUntil { cluster.nodes[0].io.sockets.socketCount == 1 }
            await cluster.nodes[0].adapter.subscriptionsSettled()
            #expect(cluster.hub.subscribers("herald#1:/#r4:room") == 0)
            #expect(cluster.nodes[0].adapter.subscribedRooms.isEmpty)
            // A socket's own room never has a channel of its own: it goes on the namespace channel.
            #expect(cluster.hub.subscribers("herald#1:/#r20:\(a2.sid)") == 0)
        }
    }

    @Test func busOutageKeepsLocalDeliveryAndReportsThePublishFailure() async throws {
        try await withCluster(2) { cluster in
            let a = try await cluster.client(on: 0)
            cluster.hub.isDown = true
            await #expect(throws: InMemoryClusterBus.Unavailable.self) {
                try await cluster.nodes[0].io.sockets.all.publish("news", args: ["x"])
            }
            // Delivered on the node itself all the same.
            try await a.client.expectEvent("news", #""x""#)
            cluster.hub.isDown = false
            try await cluster.nodes[1].io.sockets.all.publish("back", args: [])
            try await a.client.expectEvent("back")
        }
    }
}

/// Polls a condition that has no event to await (a server-side count after a client went away), failing after
/// a bounded number of scheduler turns.
func waitUntil(_ condition: @Sendable () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    for _ in 0..<20_000 {
        if condition() { return }
        await Task.yield()
    }
    Issue.record("condition not met", sourceLocation: sourceLocation)
}
