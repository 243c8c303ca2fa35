import Foundation
import Herald
import NIOCore
import NIOHTTP1
import SocketIOProtocol
import Testing

/// The room rule language, claim checks, limits and configuration, without sockets or keys.
@Suite struct AuthRuleTests {
    func claims(_ json: String) throws -> ClaimSet {
        try ClaimSet(#require(JSONValue(parsing: json).objectValue))
    }

    func rule(_ json: String) throws -> RoomRule { try RoomRule(json: JSONValue(parsing: json)) }

    @Test func patternBindsPlaceholders() throws {
        let order = try rule(#"{"pattern":"order:{id}","allow":[{"authenticated":true}]}"#)
        #expect(order.match("order:123") == ["id": "123"])
        #expect(order.match("order:") == nil)
        #expect(order.match("order:1:2") == nil, "a placeholder never spans a colon")
        #expect(order.match("orders:1") == nil)
        #expect(order.match("xorder:1") == nil)
        let nested = try rule(#"{"pattern":"shop:{shop}:order:{id}","allow":[{"authenticated":true}]}"#)
        #expect(nested.match("shop:s1:order:9") == ["shop": "s1", "id": "9"])
        let literal = try rule(#"{"pattern":"dashboard","allow":[{"authenticated":true}]}"#)
        #expect(literal.match("dashboard") == [:])
        #expect(literal.match("dashboard2") == nil)
    }

    @Test func badRulesAreRefusedAtLoad() {
        let bad = [
            #"{"pattern":"order:{id","allow":[{"authenticated":true}]}"#,
            #"{"pattern":"order:{a}{b}","allow":[{"authenticated":true}]}"#,
            #"{"pattern":"order:{id}","allow":[]}"#,
            #"{"pattern":"order:{id}","allow":[{"claim":"sub","equals":"{owner}"}]}"#,
            #"{"pattern":"x","allow":[{"claim":"role","equals":"a","contains":"b"}]}"#,
            #"{"pattern":"x","allow":[{"claim":"role","in":[]}]}"#,
            #"{"pattern":"x","allow":[{"claim":"role","equals":{"a":1}}]}"#,
            #"{"pattern":"x","allow":[{"authenticated":false}]}"#,
            #"{"allow":[{"authenticated":true}]}"#,
        ]
        for text in bad {
            #expect(throws: RoomRuleError.self, "\(text)") { try rule(text) }
        }
    }

    @Test func conditionsCheckClaims() throws {
        let user = try claims(#"{"sub":"alice","role":"support","orders":["123",456],"org":{"id":"o1"},"chats":["c1"]}"#)
        let order = try rule(#"{"pattern":"order:{id}","allow":[{"claim":"orders","contains":"{id}"}]}"#)
        #expect(order.grants("order:123", claims: user) == true)
        #expect(order.grants("order:456", claims: user) == true, "numbers in the claim compare by text")
        #expect(order.grants("order:789", claims: user) == false)
        #expect(order.grants("chat:1", claims: user) == nil)

        let owner = try rule(#"{"pattern":"user-orders:{owner}","allow":[{"claim":"sub","equals":"{owner}"}]}"#)
        #expect(owner.grants("user-orders:alice", claims: user) == true)
        #expect(owner.grants("user-orders:bob", claims: user) == false)

        let staff = try rule(#"{"pattern":"queue","allow":[{"claim":"role","in":["admin","support"]}]}"#)
        #expect(staff.grants("queue", claims: user) == true)
        let admin = try rule(#"{"pattern":"dashboard","allow":[{"claim":"role","equals":"admin"}]}"#)
        #expect(admin.grants("dashboard", claims: user) == false)

        let org = try rule(#"{"pattern":"org:{id}","allow":[{"all":[{"claim":"org.id","equals":"{id}"},{"claim":"role","equals":"support"}]}]}"#)
        #expect(org.grants("org:o1", claims: user) == true)
        #expect(org.grants("org:o2", claims: user) == false)

        let missing = try claims(#"{"sub":"bob"}"#)
        #expect(order.grants("order:123", claims: missing) == false, "a missing claim grants nothing")
        let notArray = try claims(#"{"sub":"bob","orders":"123"}"#)
        #expect(order.grants("order:123", claims: notArray) == false, "contains needs an array claim")
    }

    /// Found by the roomrule fuzz target: placeholders were replaced one binding after another, so a room holding
    /// `{b}` in the text bound to `{a}` had it replaced too, and the grant depended on the dictionary's order.
    @Test func aRoomCannotInjectPlaceholdersIntoConditions() throws {
        let mallory = try claims(#"{"sub":"mallory"}"#)
        let first = try rule(#"{"pattern":"dm-{a}-{b}","allow":[{"claim":"sub","equals":"{a}"}]}"#)
        let second = try rule(#"{"pattern":"dm-{a}-{b}","allow":[{"claim":"sub","equals":"{b}"}]}"#)
        // Whichever order the bindings iterate in, one of these two was granted before.
        #expect(first.grants("dm-{b}-mallory", claims: mallory) == false)
        #expect(second.grants("dm-mallory-{a}", claims: mallory) == false)
        #expect(first.grants("dm-mallory-x", claims: mallory) == true)
        #expect(second.grants("dm-x-mallory", claims: mallory) == true)
        let literal = try claims(#"{"sub":"{b}"}"#)
        #expect(first.grants("dm-{b}-mallory", claims: literal) == true, "the bound text itself still compares")
    }

    @Test func firstMatchingRuleDecidesAndDefaultDenies() throws {
        var configuration = AuthConfiguration()
        try configuration.applyFile(#"""
            {"bridges": [], "unknown": 1, "auth": {"rooms": [
              {"pattern": "order:vip", "allow": [{"claim": "role", "equals": "admin"}]},
              {"pattern": "order:{id}", "allow": [{"claim": "orders", "contains": "{id}"}, {"claim": "role", "equals": "admin"}]},
              {"pattern": "chat:{id}", "allow": [{"claim": "chats", "contains": "{id}"}]},
              {"pattern": "news", "allow": [{"authenticated": true}]}
            ]}}
            """#)
        let permissions = configuration.permissions
        let alice = try claims(#"{"sub":"alice","orders":["vip","1"],"chats":["c1"]}"#)
        let admin = try claims(#"{"sub":"root","role":"admin"}"#)
        #expect(permissions.allows("order:1", claims: alice))
        #expect(!permissions.allows("order:vip", claims: alice), "the earlier, stricter rule decides")
        #expect(permissions.allows("order:vip", claims: admin))
        #expect(permissions.allows("order:42", claims: admin))
        #expect(permissions.allows("chat:c1", claims: alice))
        #expect(!permissions.allows("chat:c2", claims: alice))
        #expect(permissions.allows("news", claims: alice))
        #expect(!permissions.allows("anything-else", claims: admin), "no rule, no room")
        #expect(!RoomPermissions().allows("news", claims: admin))
    }

    @Test func configurationFileSectionAndSettings() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("auth-config-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("herald.json")
        try #"""
            {"bridges": [{"channel": "c", "room": "r", "event": "e"}],
             "auth": {"issuer": "file-issuer", "leewaySeconds": 5,
                      "rooms": [{"pattern": "news", "allow": [{"authenticated": true}]}],
                      "limits": {"maxRooms": 7, "eventsPerSecond": 3, "burst": 4, "maxEventBytes": 100,
                                 "maxViolations": 2, "violationWindowSeconds": 9}}}
            """#.write(to: file, atomically: true, encoding: .utf8)
        var configuration = HeraldConfiguration()
        try configuration.apply([
            "HERALD_CONFIG": file.path, "HERALD_JWT_SECRET": "s3cret-s3cret-s3cret-s3cret-s3cret", "HERALD_JWT_AUDIENCE": "herald",
            "HERALD_JWT_ISSUER": "env-issuer", "HERALD_MAX_ROOMS": "8",
        ])
        let auth = configuration.auth
        #expect(auth.isEnabled)
        #expect(auth.hmacSecret == "s3cret-s3cret-s3cret-s3cret-s3cret")
        #expect(auth.issuer == "env-issuer", "variables override the file")
        #expect(auth.audience == "herald")
        #expect(auth.leeway == .seconds(5))
        #expect(auth.permissions.rules.map(\.pattern) == ["news"])
        #expect(auth.limits == ConnectionLimits(maxRooms: 8, eventsPerSecond: 3, burst: 4, maxEventBytes: 100,
                                                maxViolations: 2, violationWindow: .seconds(9)))
        #expect(configuration.publishing.bridges.count == 1, "publishing still reads its bridges")

        #expect(throws: HeraldConfiguration.SettingError.self) { try HeraldConfiguration().applying(["HERALD_JWT_LEEWAY": "-1"]) }
        #expect(throws: HeraldConfiguration.SettingError.self) { try HeraldConfiguration().applying(["HERALD_MAX_ROOMS": "0"]) }
        #expect(throws: HeraldConfiguration.SettingError.self) {
            try HeraldConfiguration().applying(["HERALD_JWT_PUBLIC_KEY_FILE": directory.appendingPathComponent("nope.pem").path])
        }
    }

    @Test func documentedDefaults() {
        let auth = AuthConfiguration()
        #expect(!auth.isEnabled, "auth is off until a key is configured")
        #expect(auth.hmacSecret == nil && auth.publicKeyPEM == nil && auth.jwksJSON == nil)
        #expect(auth.issuer == nil && auth.audience == nil)
        #expect(auth.leeway == .seconds(30))
        #expect(auth.requireExpiration)
        #expect(auth.permissions.rules.isEmpty)
        let limits = ConnectionLimits()
        #expect(limits.maxRooms == 100)
        #expect(limits.eventsPerSecond == 20)
        #expect(limits.burst == 40)
        #expect(limits.maxEventBytes == 65_536)
        #expect(limits.maxViolations == 10)
        #expect(limits.violationWindow == .seconds(10))
        #expect(HeraldConfiguration().auth.isEnabled == false)
    }

    @Test func tokenBucketAndViolations() {
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var limiter = ConnectionLimiter(
            limits: ConnectionLimits(eventsPerSecond: 2, burst: 3, maxEventBytes: 50, maxViolations: 3, violationWindow: .seconds(10)),
            now: start)
        for _ in 0..<3 { #expect(limiter.admit(size: 10, now: start) == .admitted) }
        guard case .refused(let error, false) = limiter.admit(size: 10, now: start) else { Issue.record("4th event in burst admitted"); return }
        #expect(error.code == .rateLimited)
        // Half a second refills one token at 2 per second.
        #expect(limiter.admit(size: 10, now: start + .milliseconds(500)) == .admitted)
        guard case .refused(let big, false) = limiter.admit(size: 51, now: start + .milliseconds(500)) else { Issue.record("big event admitted"); return }
        #expect(big.code == .eventTooLarge)
        guard case .refused(_, true) = limiter.admit(size: 10, now: start + .milliseconds(500)) else {
            Issue.record("third violation in the window must disconnect"); return
        }
        // Outside the window old violations no longer count.
        var later = ConnectionLimiter(limits: ConnectionLimits(maxViolations: 2, violationWindow: .seconds(1)), now: start)
        guard case .refused(_, false) = later.admit(size: 1 << 20, now: start) else { Issue.record("first"); return }
        guard case .refused(_, false) = later.admit(size: 1 << 20, now: start + .seconds(2)) else { Issue.record("window"); return }
    }

    @Test func eventSizeCountsJSONAndBinary() {
        #expect(ConnectionLimiter.size(of: "e", args: []) == 5)
        let small = ConnectionLimiter.size(of: "e", args: ["hi"])
        let binary = ConnectionLimiter.size(of: "e", args: [.binary(ByteBuffer(repeating: 0, count: 1000))])
        #expect(small < 20)
        #expect(binary >= 1000)
    }

    @Test func tokenComesFromAuthPayloadThenBearerHeader() {
        #expect(AuthGateway.token(auth: ["token": "a.b.c"], headers: ["Authorization": "Bearer x.y.z"]) == "a.b.c")
        #expect(AuthGateway.token(auth: [:], headers: ["Authorization": "Bearer x.y.z"]) == "x.y.z")
        #expect(AuthGateway.token(auth: [:], headers: ["authorization": "bearer  x.y.z "]) == "x.y.z")
        #expect(AuthGateway.token(auth: [:], headers: ["Authorization": "Basic abc"]) == nil)
        #expect(AuthGateway.token(auth: ["token": ""], headers: [:]) == nil)
        #expect(AuthGateway.token(auth: ["token": 5], headers: [:]) == nil)
    }

    @Test func cliClaimValues() {
        #expect(TokenSigner.claimValue("admin") == "admin")
        #expect(TokenSigner.claimValue("123,456") == [123, 456])
        #expect(TokenSigner.claimValue("a,b") == ["a", "b"])
        #expect(TokenSigner.claimValue("true") == true)
        #expect(TokenSigner.claimValue("7") == 7)
    }
}

extension HeraldConfiguration {
    func applying(_ settings: [String: String]) throws -> HeraldConfiguration {
        var copy = self
        try copy.apply(settings)
        return copy
    }
}
