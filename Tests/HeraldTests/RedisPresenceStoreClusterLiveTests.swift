import Herald
import HeraldRedis
import HeraldTesting
import NIOPosix
import Testing

/// The presence store on a Redis Cluster: its scripts touch several keys at once, so they must all hash to one slot
/// (a CROSSSLOT refusal would leave presence empty on every clustered deployment).
@Suite(.serialized, .enabled(if: RedisServerProcess.liveTestsEnabled, "redis-server not on PATH (set CI to make this fail)"))
struct RedisPresenceStoreClusterLiveTests {
    @Test func changesSnapshotsAndDeparturesWorkAcrossShards() async throws {
        let redis = try await RedisClusterProcess.start(primaries: 3, replicasPerPrimary: 0)
        defer { redis.stop() }
        let client = RedisClusterClient(seeds: redis.seeds, configuration: redis.configuration,
                                        eventLoop: MultiThreadedEventLoopGroup.singleton.next()) { _, _ in }
        try await client.connect()
        let a = RedisPresenceStore(client: client, node: "node-a", timeout: .seconds(30))
        let b = RedisPresenceStore(client: client, node: "node-b", timeout: .seconds(30))
        #expect(try await a.heartbeat() == false)
        #expect(try await b.heartbeat() == false)
        // Rooms whose names hash all over the slot space.
        let rooms = (0..<6).map { "doc:\($0)" }
        for room in rooms {
            #expect(try await a.change(room: room, subject: "alice", info: #"{"name":"Alice"}"#, delta: 1).get().transition == .joined)
            #expect(try await b.change(room: room, subject: "alice", info: #"{"name":"Alice"}"#, delta: 1).get().transition == .unchanged)
            #expect(try await b.change(room: room, subject: "bob", info: "{}", delta: 1).get().users == 2)
        }
        #expect(try await a.change(room: "", subject: "alice", info: "{}", delta: 1).get().transition == .joined)
        let snapshot = try await a.snapshot(room: "doc:3", limit: 10)
        #expect(snapshot.users == 2 && snapshot.connections == 3 && snapshot.members.map(\.subject) == ["alice", "bob"])
        let own = try await b.ownMembers()
        #expect(Set(own.map { "\($0.room)/\($0.subject)" }) == Set(rooms.flatMap { ["\($0)/alice", "\($0)/bob"] }))
        // Setting a share: b's alice leaves doc:0, which a still holds.
        #expect(try await b.assert(room: "doc:0", subject: "alice", info: "{}", count: 0).get().transition == .unchanged)
        // b leaves: bob leaves every room, alice none (a still has her).
        let departures = try await b.leaveCluster()
        #expect(Set(departures.map { "\($0.room)/\($0.subject)" }) == Set(rooms.map { "\($0)/bob" }))
        let after = try await a.snapshot(room: "doc:5", limit: 10)
        #expect(after.users == 1)
        await client.close()
    }
}
