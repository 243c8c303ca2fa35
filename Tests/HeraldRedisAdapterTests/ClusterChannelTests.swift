import HeraldTesting
import NIOCore
@testable import HeraldRedisAdapter
import SocketIO
import SocketIOProtocol
import Testing

/// Channel names are injective: no room or namespace reaches another's channel or a control channel.
@Suite struct ClusterChannelTests {
    typealias Kind = RedisAdapter.ChannelKind

    static func name(_ namespace: String, _ kind: Kind) -> String {
        RedisAdapter.channelName(prefix: "herald", namespace: namespace, kind)
    }

    @Test func roomsNamedLikeControlChannelsOrSeparatorsGetTheirOwnChannels() {
        #expect(Self.name("/", .room("request")) != Self.name("/", .request))
        #expect(Self.name("/", .room("response#node")) != Self.name("/", .response(node: "node")))
        #expect(Self.name("/a#b", .room("c")) != Self.name("/a", .room("b#c")))
        #expect(Self.name("/a#r1:c", .namespace) != Self.name("/a", .room("c")))
        #expect(Self.name("/", .room("")) != Self.name("/", .namespace))
        #expect(Self.name("/", .request) == "herald#1:/#request")
        #expect(Self.name("/chat", .room("order:1")) == "herald#5:/chat#r7:order:1")
    }

    /// Every pair of distinct (namespace, kind) made of the characters that matter spells distinct channels.
    @Test func theLayoutIsInjectiveOnAdversarialNames() {
        var generator = SeededGenerator(seed: 9)
        let alphabet = Array("#:r1/requstpn")
        func word() -> String { String((0..<Int.random(in: 0...6, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }) }
        var seen: [String: String] = [:]
        for _ in 0..<20_000 {
            let namespace = "/" + word()
            let kind: Kind = switch Int.random(in: 0..<4, using: &generator) {
            case 0: .namespace
            case 1: .request
            case 2: .response(node: word())
            default: .room(word())
            }
            let input = "\(namespace) \(kind)"
            let channel = Self.name(namespace, kind)
            if let other = seen[channel] { #expect(other == input, "\(other) and \(input) share \(channel)") }
            seen[channel] = input
        }
    }

    @Test func requestsFromTheBusWithInvalidRoomsAreRefusedWhole() throws {
        func options(_ opts: String) throws -> BroadcastOptions? {
            try WireJSONMessage.decode(WireAudience.self, from: ByteBuffer(string: opts)).options(maxRoomBytes: 256)
        }
        #expect(try options(#"{"rooms":["a","b"],"except":["c"]}"#) == BroadcastOptions(rooms: ["a", "b"], except: ["c"], local: true))
        #expect(try options("{}") == BroadcastOptions(local: true))
        // Dropping the bad room alone would leave no room: everyone.
        #expect(try options(#"{"rooms":["\#(String(repeating: "x", count: 257))"]}"#) == nil)
        #expect(try options(#"{"rooms":["a\u0000"]}"#) == nil)
        #expect(try options(#"{"rooms":["ok",""]}"#) == nil)
        // Not a list of strings: undecodable, so the request is dropped before it is answered.
        #expect(throws: DecodingError.self) { try options(#"{"rooms":[1]}"#) }
        #expect(throws: DecodingError.self) { try options(#"{"except":"a"}"#) }
    }

    /// A room named `request` on a live cluster: its broadcasts reach its member, and cluster requests still work.
    @Test func aRoomNamedRequestIsJustARoom() async throws {
        try await withCluster(2) { cluster in
            let a = try await cluster.client(on: 0)
            try await cluster.join(a.client, on: 0, "request", "response")
            cluster.nodes[1].io.to("request").emit("in-room")
            try await a.client.expectEvent("in-room")
            let sockets = try await cluster.nodes[1].io.in("request").fetchSockets()
            #expect(sockets.map(\.id) == [a.sid])
        }
    }
}
