import HeraldTesting
import NIOCore
import HeraldRedisAdapter
import SocketIO
import SocketIOProtocol
import Testing

@Suite struct ClusterRequestTests {
    @Test func fetchSocketsSpansNodesWithRoomsAndData() async throws {
        try await withCluster(3) { cluster in
            let a = try await cluster.client(on: 0, auth: #"{"user":"ann"}"#)
            let b = try await cluster.client(on: 1, auth: #"{"user":"bob"}"#)
            _ = try await cluster.client(on: 2)
            try await cluster.join(a.client, on: 0, "vip")
            try await cluster.join(b.client, on: 1, "vip")

            let all = try await cluster.nodes[2].io.fetchSockets()
            #expect(all.count == 3)
            let vip = try await cluster.nodes[2].io.in("vip").fetchSockets()
            #expect(Set(vip.map(\.id)) == [a.sid, b.sid])
            let bob = try #require(vip.first { $0.id == b.sid })
            #expect(bob.rooms == [b.sid, "vip"])
            #expect(bob.data == ["user": "bob"])
            #expect(try await cluster.nodes[0].io.sockets.adapter.serverCount() == 3)
        }
    }

    @Test func socketsJoinLeaveAndDisconnectAcrossNodes() async throws {
        try await withCluster(2) { cluster in
            let a = try await cluster.client(on: 0)
            let b = try await cluster.client(on: 1)
            try await cluster.join(b.client, on: 1, "old")

            try await cluster.nodes[0].io.in("old").socketsJoin("new")
            await cluster.nodes[1].adapter.subscriptionsSettled()
            cluster.nodes[0].io.to("new").emit("moved")
            try await b.client.expectEvent("moved")

            try await cluster.nodes[0].io.in("new").socketsLeave("new")
            #expect(try await cluster.nodes[0].io.in("new").fetchSockets().isEmpty)

            try await cluster.nodes[0].io.in("old").disconnectSockets()
            #expect(try await b.client.nextText() == "41")
            cluster.nodes[1].io.emit("still-here")
            try await a.client.expectEvent("still-here")
        }
    }

    @Test func serverSideEmitWithAcknowledgements() async throws {
        try await withCluster(3, setUp: { index, io in
            io.onServerSideEmit { event in
                if event.name == "whoami" { event.ack(.int(index)) }
            }
        }) { cluster in
            let answers = try await cluster.nodes[0].io.sockets.serverSideEmitWithAck("whoami")
            #expect(Set(answers.compactMap { $0.first?.intValue }) == [1, 2])
        }
    }

    @Test func silentNodeMakesTheRequestFailWithAPartialCount() async throws {
        try await withCluster(2, configuration: ClusterAdapterConfiguration(requestTimeout: .milliseconds(200))) { cluster in
            _ = try await cluster.client(on: 1)
            // A third "node" that listens for requests but never answers.
            let silent = cluster.hub.node()
            try await silent.subscribe(channel: "herald#1:/#request") { _ in }
            do {
                _ = try await cluster.nodes[0].io.fetchSockets()
                Issue.record("expected a ClusterError")
            } catch let error as ClusterError {
                #expect(error.answered == 1)
                #expect(error.expected == 2)
                #expect(error.operation == "fetchSockets")
            }
        }
    }

    @Test func defaults() {
        let configuration = ClusterAdapterConfiguration()
        #expect(configuration.channelPrefix == "herald")
        #expect(configuration.requestTimeout == .seconds(5))
    }
}
