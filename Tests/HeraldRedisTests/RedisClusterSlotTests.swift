import NIOCore
import Testing
@testable import HeraldRedis

/// Key slots, redirects and slot maps: every number in them comes from Redis and is checked.
@Suite struct RedisClusterSlotTests {
    @Test func slotsMatchRedis() {
        #expect(RedisClusterSlot.crc16(Array("123456789".utf8)[...]) == 0x31C3)  // the CRC16/XMODEM check value
        #expect(RedisClusterSlot.slot(of: "foo") == 12182)  // CLUSTER KEYSLOT foo
        #expect(RedisClusterSlot.slot(of: "{user1000}.following") == RedisClusterSlot.slot(of: "user1000"))
        #expect(RedisClusterSlot.slot(of: "foo{}{bar}") != RedisClusterSlot.slot(of: "bar"))  // an empty tag hashes the whole key
        #expect(RedisClusterSlot.slot(of: "foo{{bar}}zap") == RedisClusterSlot.slot(of: "{bar"))
        #expect(RedisClusterSlot.slot(of: "herald:log:{1:/}") == RedisClusterSlot.slot(of: "herald:log:{1:/}:epoch"))
        #expect((0..<16384).contains(RedisClusterSlot.slot(of: String(repeating: "x", count: 10_000))))
    }

    @Test func redirects() {
        let sender = RedisEndpoint(host: "10.0.0.9", port: 7000)
        let moved = RedisRedirect("MOVED 3999 127.0.0.1:6381", sender: sender)
        #expect(moved?.kind == .moved && moved?.slot == 3999 && moved?.endpoint == RedisEndpoint(host: "127.0.0.1", port: 6381))
        let ask = RedisRedirect("ASK 0 :6390", sender: sender)
        #expect(ask?.kind == .ask && ask?.endpoint == RedisEndpoint(host: "10.0.0.9", port: 6390))
        #expect(RedisRedirect("MOVED 1 [::1]:7001", sender: sender)?.endpoint == RedisEndpoint(host: "::1", port: 7001))
    }

    @Test(arguments: ["MOVED 16384 h:1", "MOVED -1 h:1", "MOVED 99999999999999999999 h:1", "MOVED 1 h:0", "MOVED 1 h:65536",
                      "MOVED 1 h", "MOVED 1", "ERR 1 h:1", "MOVED 1 h:1 extra", "MOVED 1 " + String(repeating: "h", count: 400) + ":1"])
    func hostileRedirectsAreIgnored(_ message: String) {
        #expect(RedisRedirect(message, sender: RedisEndpoint(host: "h", port: 1)) == nil)
    }

    static func node(_ host: String, _ port: Int64) -> RESPValue { .array([.bulkString(host), .integer(port), "id"]) }

    @Test func slotMapFromClusterSlots() throws {
        let sender = RedisEndpoint(host: "10.1.1.1", port: 7000)
        let reply = RESPValue.array([
            .array([0, 5460, Self.node("127.0.0.1", 7000), Self.node("127.0.0.1", 7003)]),
            .array([5461, 10922, Self.node("", 7001)]),
            .array([10923, 16383, Self.node("?", 7002)]),
        ])
        let map = try #require(RedisSlotMap(clusterSlots: reply, sender: sender))
        #expect(map.isComplete)
        #expect(map.primary(forSlot: 0) == RedisEndpoint(host: "127.0.0.1", port: 7000))
        #expect(map.primary(forSlot: 5461) == RedisEndpoint(host: "10.1.1.1", port: 7001))
        #expect(map.primary(forSlot: 16383) == RedisEndpoint(host: "10.1.1.1", port: 7002))
        #expect(map.primary(forSlot: 16384) == nil)
        #expect(map.primary(forSlot: -1) == nil)
        let partial = try #require(RedisSlotMap(clusterSlots: .array([.array([0, 10, Self.node("h", 1)])]), sender: sender))
        #expect(!partial.isComplete)
        #expect(partial.primary(forSlot: 11) == nil)
    }

    @Test(arguments: [
        RESPValue.array([.array([0, 16384, node("h", 1)])]), .array([.array([-1, 5, node("h", 1)])]),
        .array([.array([6, 5, node("h", 1)])]), .array([.array([0, 5, node("h", 0)])]), .array([.array([0, 5, node("h", 70000)])]),
        .array([.array([0, 5])]), .array([.array([0, 5, .array([.bulkString("h")])])]), .integer(3), .bulkString("x"),
        .array([.array([0, 5, node(String(repeating: "h", count: 256), 1)])]),
        .array(Array(repeating: .array([0, 0, node("h", 1)]), count: 16385)),
    ])
    func hostileSlotMapsAreRefused(_ reply: RESPValue) {
        #expect(RedisSlotMap(clusterSlots: reply, sender: RedisEndpoint(host: "h", port: 1)) == nil)
    }

    @Test func sentinelReplies() {
        #expect(RedisSentinel.endpoint(.array(["10.0.0.2", "6380"])) == RedisEndpoint(host: "10.0.0.2", port: 6380))
        for reply: RESPValue in [.array(nil), .array(["h"]), .array(["h", "0"]), .array(["h", "65536"]), .array(["", "1"]),
                                 .array(["h", "99999999999999999999"]), .array(["h", "-1"]), .integer(1)] {
            #expect(RedisSentinel.endpoint(reply) == nil, "\(reply)")
        }
    }

    @Test func commandKeys() {
        #expect(RedisCommand("GET", "k").key == "k")
        #expect(RedisCommand("EVAL", "return 1", "2", "a", "b").key == "a")
        #expect(RedisCommand("EVAL", "return 1", "0").key == nil)
        #expect(RedisCommand("XINFO", "STREAM", "s").key == "s")
        #expect(RedisCommand("PUBSUB", "SHARDNUMSUB", "c").key == "c")
        #expect(RedisCommand("PING").key == nil)
        #expect(RedisCommand("CLUSTER", "SLOTS").key == nil)
        #expect(RedisCommand.publish("SPUBLISH", channel: "c", message: ByteBuffer()).key == "c")
        #expect(RedisCommand.publish("PUBLISH", channel: "c", message: ByteBuffer()).key == nil)
    }
}
