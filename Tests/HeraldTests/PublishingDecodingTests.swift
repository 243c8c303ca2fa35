import Foundation
import Herald
import NIOCore
import SocketIOProtocol
import Synchronization
import Testing

/// Pure tests: envelope and bridge decoding (golden inputs → deliveries or errors), templates, the key compare.
@Suite struct PublishingDecodingTests {
    static func decode(_ json: String) -> Result<PublishRequest, PublishRequestError> {
        Result { () throws(PublishRequestError) in try PublishRequest(json: ByteBuffer(string: json)) }
    }

    @Test("envelope golden inputs", arguments: [
        (#"{"room":"order:123","event":"order:updated","data":{"status":"shipped"}}"#,
         PublishRequest(rooms: ["order:123"], event: "order:updated", args: [["status": "shipped"]])),
        (#"{"namespace":"/admin","rooms":["a","b","a"],"except":["c"],"event":"e","args":[1,"two",null],"idempotencyKey":"k1"}"#,
         PublishRequest(namespace: "/admin", rooms: ["a", "b"], except: ["c"], event: "e", args: [1, "two", nil], idempotencyKey: "k1")),
        (#"{"room":"r","event":"ping-me"}"#, PublishRequest(rooms: ["r"], event: "ping-me", args: [])),
        (#"{"room":"r","event":"e","data":null}"#, PublishRequest(rooms: ["r"], event: "e", args: [nil])),
        (#"{"room":"r","event":"e","data":[1,2]}"#, PublishRequest(rooms: ["r"], event: "e", args: [[1, 2]])),
    ])
    func envelopeDecodes(json: String, expected: PublishRequest) throws {
        #expect(try Self.decode(json).get() == expected)
    }

    @Test("envelope errors", arguments: [
        ("not json", "malformed JSON"),
        (#"{"room":"r","event":"e"} trailing"#, "malformed JSON"),
        (#"["room"]"#, "must be a JSON object"),
        (#"{"room":"r"}"#, "event is required"),
        (#"{"event":"e"}"#, "room or rooms is required"),
        (#"{"room":"r","rooms":["s"],"event":"e"}"#, "not both"),
        (#"{"room":"r","event":"e","data":1,"args":[1]}"#, "not both"),
        (#"{"room":"r","event":"e","args":{"a":1}}"#, "args must be an array"),
        (#"{"room":5,"event":"e"}"#, "room must be a string"),
        (#"{"rooms":["a",5],"event":"e"}"#, "array of strings"),
        (#"{"rooms":[],"event":"e"}"#, "at least one room"),
        (#"{"room":"","event":"e"}"#, "room name is empty"),
        (#"{"room":"a\nb","event":"e"}"#, "room name contains a control character"),
        (#"{"room":"r","event":"e","except":"x"}"#, "except must be an array"),
        (#"{"room":"r","event":""}"#, "event must not be empty"),
        (#"{"room":"r","event":7}"#, "event must be a string"),
        (#"{"room":"r","event":"connect"}"#, "reserved"),
        (#"{"room":"r","event":"disconnect"}"#, "reserved"),
        (#"{"room":"r","event":"removeListener"}"#, "reserved"),
        (#"{"room":"r","event":"e","namespace":"admin"}"#, "must start with \"/\""),
        (#"{"room":"r","event":"e","namespace":"/a,b"}"#, "comma"),
        (#"{"room":"r","event":"e","namespace":""}"#, "namespace must not be empty"),
        (#"{"room":"r","event":"e","idempotencyKey":""}"#, "idempotencyKey must not be empty"),
        (#"{"room":"r","event":"e","excpet":["x"]}"#, "unknown field \"excpet\""),
    ])
    func envelopeRejects(json: String, expectedMessage: String) {
        switch Self.decode(json) {
        case .success(let request): Issue.record("accepted \(json) as \(request)")
        case .failure(let error): #expect(error.description.contains(expectedMessage), "\(json): \(error)")
        }
    }

    @Test func envelopeLimits() {
        let long = String(repeating: "x", count: PublishValidation.maxNameLength + 1)
        #expect(throws: PublishRequestError.self) { try PublishRequest(json: ["room": .string(long), "event": "e"]) }
        let many = JSONValue.array((0...PublishValidation.maxRooms).map { .string("r\($0)") })
        #expect(throws: PublishRequestError.self) { try PublishRequest(json: ["rooms": many, "event": "e"]) }
        let exact = String(repeating: "x", count: PublishValidation.maxNameLength)
        #expect(throws: Never.self) { try PublishRequest(json: ["room": .string(exact), "event": "e"]) }
    }

    // MARK: Bridges

    static let orderBridge: JSONValue = [
        "channel": "order:status-changed", "room": "order:{orderId}", "event": "order:updated",
        "fields": ["orderId": "orderId", "status": "newStatus"],
    ]

    @Test func theIssuesExampleBridge() throws {
        let bridge = try BridgeDefinition(json: Self.orderBridge)
        #expect(bridge.name == "order:status-changed")
        #expect(bridge.source == .channel("order:status-changed"))
        let request = try bridge.request(for: ByteBuffer(string: #"{"orderId":"123","newStatus":"shipped","secret":"x"}"#))
        #expect(request == PublishRequest(rooms: ["order:123"], event: "order:updated", args: [["orderId": "123", "status": "shipped"]]))
        // Fields keep the configured order, so clients see a stable object.
        #expect(request.args[0].jsonString == #"{"orderId":"123","status":"shipped"}"#)
    }

    @Test("bridge messages that do not fit", arguments: [
        (#"{"newStatus":"shipped"}"#, "field orderId is missing"),
        (#"{"orderId":"","newStatus":"x"}"#, "non-empty string or an integer"),
        (#"{"orderId":1.5,"newStatus":"x"}"#, "non-empty string or an integer"),
        (#"{"orderId":true,"newStatus":"x"}"#, "non-empty string or an integer"),
        (#"{"orderId":{"a":1},"newStatus":"x"}"#, "non-empty string or an integer"),
        (#"{"orderId":null,"newStatus":"x"}"#, "non-empty string or an integer"),
        (#"{"orderId":"1"}"#, "field newStatus is missing"),
        (#"{"orderId":"a\u0000b","newStatus":"x"}"#, "room name contains a control character"),
        (#"["orderId"]"#, "must be a JSON object"),
        ("{nope", "malformed JSON"),
    ])
    func bridgeRejects(message: String, expectedMessage: String) throws {
        let bridge = try BridgeDefinition(json: Self.orderBridge)
        do {
            let request = try bridge.request(for: ByteBuffer(string: message))
            Issue.record("delivered \(message) as \(request)")
        } catch {
            #expect(error.description.contains(expectedMessage), "\(message): \(error)")
        }
    }

    @Test func bridgeTemplatesNestedPathsNumbersAndBraces() throws {
        let bridge = try BridgeDefinition(json: [
            "pattern": "orders:*", "name": "orders", "namespace": "/shop",
            "rooms": ["user:{customer.id}", "order:{order.id}", "{{literal}}-{order.id}"],
            "except": ["user:{actor}"], "event": "order:changed",
        ])
        #expect(bridge.source == .pattern("orders:*"))
        #expect(bridge.name == "orders")
        let message: JSONValue = ["customer": ["id": 42], "order": ["id": "A-1"], "actor": "7"]
        let request = try bridge.request(for: message)
        #expect(request.namespace == "/shop")
        #expect(request.rooms == ["user:42", "order:A-1", "{literal}-A-1"])
        #expect(request.except == ["user:7"])
        // Without fields the whole message is the data.
        #expect(request.args == [message])
        // Nested path through a non-object is missing.
        #expect(throws: PublishRequestError.self) { try bridge.request(for: ["customer": "x", "order": ["id": "1"], "actor": "7"]) }
    }

    @Test func bridgeFieldsKeepNullsAndNestedValues() throws {
        let bridge = try BridgeDefinition(json: [
            "channel": "c", "room": "r:{id}", "event": "e", "fields": ["id": "id", "note": "meta.note", "all": "meta"],
        ])
        let request = try bridge.request(for: ["id": 1, "meta": ["note": nil]])
        #expect(request.rooms == ["r:1"])
        #expect(request.args == [["id": 1, "note": nil, "all": ["note": nil]]])
    }

    @Test("bridge configuration errors", arguments: [
        (#"{"room":"r","event":"e"}"#, "channel or pattern is required"),
        (#"{"channel":"c","pattern":"p*","room":"r","event":"e"}"#, "not both"),
        (#"{"channel":"c","event":"e"}"#, "room or rooms is required"),
        (#"{"channel":"c","room":"r"}"#, "event is required"),
        (#"{"channel":"c","room":"r","event":"connect"}"#, "reserved"),
        (#"{"channel":"c","room":"r:{id","event":"e"}"#, "unmatched {"),
        (#"{"channel":"c","room":"r:id}","event":"e"}"#, "unmatched }"),
        (#"{"channel":"c","room":"r:{}","event":"e"}"#, "field path"),
        (#"{"channel":"c","room":"r:{a..b}","event":"e"}"#, "field path"),
        (#"{"channel":"c","room":"r:{a{b}","event":"e"}"#, "nested"),
        (#"{"channel":"c","room":"","event":"e"}"#, "non-empty string"),
        (#"{"channel":"c","rooms":[],"event":"e"}"#, "non-empty array"),
        (#"{"channel":"c","room":"r","event":"e","namespace":"x"}"#, "must start with"),
        (#"{"channel":"c","room":"r","event":"e","fields":["a"]}"#, "fields must be an object"),
        (#"{"channel":"c","room":"r","event":"e","fields":{"a":1}}"#, "fields.a must be a string"),
        (#"{"channel":"c","room":"r","event":"e","feilds":{}}"#, "unknown bridge key \"feilds\""),
    ])
    func bridgeConfigurationRejects(json: String, expectedMessage: String) throws {
        do {
            _ = try BridgeDefinition(json: try JSONValue(parsing: json))
            Issue.record("accepted \(json)")
        } catch let error as PublishRequestError {
            #expect(error.description.contains(expectedMessage), "\(json): \(error)")
        }
    }

    @Test func configurationFileBridges() throws {
        let file = #"{"other":{"x":1},"bridges":[{"channel":"order:status-changed","room":"order:{orderId}","event":"order:updated","fields":{"orderId":"orderId","status":"newStatus"}}]}"#
        let bridges = try BridgeDefinition.parseConfigurationFile(ByteBuffer(string: file))
        #expect(bridges == [try BridgeDefinition(json: Self.orderBridge)])
        #expect(try BridgeDefinition.parseConfigurationFile(ByteBuffer(string: "{}")).isEmpty)
        do {
            _ = try BridgeDefinition.parseConfigurationFile(ByteBuffer(string: #"{"bridges":[{"channel":"c"}]}"#))
            Issue.record("accepted a bridge without room")
        } catch {
            #expect(error.description.contains("bridges[0]"), "\(error)")
        }
    }

    // MARK: Key comparison and idempotency

    @Test func constantTimeComparison() {
        #expect(constantTimeEquals("secret-key", "secret-key"))
        #expect(constantTimeEquals("", ""))
        #expect(!constantTimeEquals("secret-key", "secret-kez"))
        #expect(!constantTimeEquals("secret-key", "Secret-key"))
        #expect(!constantTimeEquals("secret-key", "secret-key-longer"))
        #expect(!constantTimeEquals("secret-key", "secret"))
        #expect(!constantTimeEquals("secret", ""))
        #expect(!constantTimeEquals("", "x"))
        // A prefix padded with NULs must not pass for the shorter key.
        #expect(!constantTimeEquals([UInt8(0x61)], [0x61, 0x00]))
        #expect(!constantTimeEquals("é", "e\u{301}"))
    }

    @Test func idempotencyWindowAndCapacity() {
        let clock = ManualClock()
        let store = InMemoryIdempotencyStore(window: .seconds(300), capacity: 3, now: { clock.now })
        #expect(store.claim("a"))
        #expect(!store.claim("a"))
        clock.advance(.seconds(299))
        #expect(!store.claim("a"), "still inside the window")
        clock.advance(.seconds(1))
        #expect(store.claim("a"), "the window counts from the first use, and has passed")
        #expect(store.claim("b"))
        #expect(store.claim("c"))
        #expect(!store.claim("a"), "a is now the most recently used")
        #expect(store.claim("d"), "over capacity: b, the least recently used, goes")
        #expect(store.count == 3)
        #expect(!store.claim("a"))
        #expect(!store.claim("c"))
        #expect(store.claim("b"), "b was evicted, so it counts as new")
        for index in 0..<1_000 { _ = store.claim("k\(index)"); _ = store.claim("k\(index)") }
        #expect(store.count == 3)
    }

    /// A publish the cluster did not take (the API answers 503) releases its key: the retry with the same key
    /// is delivered, and a repeat of that retry is not.
    @Test func aFailedPublishReleasesItsIdempotencyKey() async throws {
        struct Unreachable: Error {}
        let failing = Mutex(true)
        let deliveries = Mutex(0)
        let publisher = Publisher(idempotency: InMemoryIdempotencyStore(window: .seconds(60), capacity: 10),
                                  deliver: { _, _ in }, deliverConfirmed: { _ in
            if failing.withLock({ $0 }) { throw Unreachable() }
            deliveries.withLock { $0 += 1 }
        })
        let request = try PublishRequest(json: ["room": "r", "event": "e", "idempotencyKey": "k1"])
        await #expect(throws: Unreachable.self) { try await publisher.publishConfirmed(request) }
        failing.withLock { $0 = false }
        #expect(try await publisher.publishConfirmed(request) == .delivered)
        #expect(try await publisher.publishConfirmed(request) == .duplicate)
        #expect(deliveries.withLock { $0 } == 1)
    }

    @Test func documentedDefaults() throws {
        let defaults = PublishingConfiguration()
        #expect(defaults.apiHost == "127.0.0.1")
        #expect(defaults.apiPort == nil)
        #expect(defaults.apiKey == nil)
        #expect(defaults.maxBodySize == 1_048_576)
        #expect(defaults.idempotencyWindow == .seconds(300))
        #expect(defaults.idempotencyCapacity == 10_000)
        #expect(defaults.channel == "herald:publish")
        #expect(defaults.bridges.isEmpty)
    }

    @Test func settingsFromEnvironment() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("herald-bridges-\(UUID().uuidString).json")
        try Data(#"{"bridges":[{"channel":"c","room":"r:{id}","event":"e"}]}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        var configuration = HeraldConfiguration()
        try configuration.apply([
            "HERALD_API_HOST": "0.0.0.0", "HERALD_API_PORT": "3001", "HERALD_API_KEY": "k", "HERALD_API_MAX_BODY": "2048",
            "HERALD_IDEMPOTENCY_WINDOW": "1000", "HERALD_IDEMPOTENCY_CAPACITY": "5", "HERALD_PUBLISH_CHANNEL": "pub",
            "HERALD_CONFIG": file.path,
        ])
        let publishing = configuration.publishing
        #expect(publishing.apiHost == "0.0.0.0")
        #expect(publishing.apiPort == 3001)
        #expect(publishing.apiKey == "k")
        #expect(publishing.maxBodySize == 2048)
        #expect(publishing.idempotencyWindow == .seconds(1))
        #expect(publishing.idempotencyCapacity == 5)
        #expect(publishing.channel == "pub")
        #expect(publishing.bridges.map(\.name) == ["c"])

        var keyless = HeraldConfiguration()
        #expect(throws: HeraldConfiguration.SettingError.self) { try keyless.apply(["HERALD_API_PORT": "3001"]) }
        #expect(throws: HeraldConfiguration.SettingError.self) { try keyless.apply(["HERALD_API_PORT": "3001", "HERALD_API_KEY": ""]) }
        var badFile = HeraldConfiguration()
        #expect(throws: HeraldConfiguration.SettingError.self) { try badFile.apply(["HERALD_CONFIG": "/nonexistent/herald.json"]) }
    }
}

/// The Redis side with a fake subscriber: subscriptions made, deliveries, counters.
@Suite struct PublishingListenerTests {
    final class FakeSubscriber: PublishingSource {
        typealias Handler = @Sendable (String, ByteBuffer) -> Void
        let subscriptions = Mutex<[(name: String, pattern: Bool, handler: Handler)]>([])

        func subscribe(channel: String, namedHandler: @escaping Handler) async throws {
            subscriptions.withLock { $0.append((channel, false, namedHandler)) }
        }

        func subscribe(pattern: String, handler: @escaping Handler) async throws {
            subscriptions.withLock { $0.append((pattern, true, handler)) }
        }

        var names: [String] { subscriptions.withLock { $0.map { ($0.pattern ? "p:" : "c:") + $0.name } } }

        /// What Redis would do: hand the message to the subscription named `name`.
        func publish(_ payload: String, to name: String, channel: String? = nil) {
            for subscription in subscriptions.withLock({ $0 }) where subscription.name == name {
                subscription.handler(channel ?? name, ByteBuffer(string: payload))
            }
        }
    }

    final class Recorder: Sendable {
        let deliveries = Mutex<[(PublishRequest, PublishDeliveryScope)]>([])
        var requests: [PublishRequest] { deliveries.withLock { $0.map(\.0) } }
        var scopes: [PublishDeliveryScope] { deliveries.withLock { $0.map(\.1) } }
    }

    static func make(bridges: [JSONValue]) throws -> (PublishingListener, FakeSubscriber, Recorder) {
        let recorder = Recorder()
        // The server serves "/" and "/admin" only.
        let publisher = Publisher(idempotency: InMemoryIdempotencyStore(window: .seconds(60), capacity: 100),
                                  serves: { ["/", "/admin"].contains($0) }) { request, scope in
            recorder.deliveries.withLock { $0.append((request, scope)) }
        }
        let definitions = try bridges.map { try BridgeDefinition(json: $0) }
        let listener = PublishingListener(channel: "herald:publish", bridges: definitions, publisher: publisher, logger: .init(label: "test"))
        return (listener, FakeSubscriber(), recorder)
    }

    @Test func envelopeChannelDeliversLocallyAndCountsBadMessages() async throws {
        let (listener, subscriber, recorder) = try Self.make(bridges: [])
        try await listener.start(on: subscriber)
        #expect(subscriber.names == ["c:herald:publish"])

        subscriber.publish(#"{"room":"order:1","event":"order:updated","data":{"s":1},"idempotencyKey":"k"}"#, to: "herald:publish")
        subscriber.publish(#"{"room":"order:1","event":"order:updated","data":{"s":1},"idempotencyKey":"k"}"#, to: "herald:publish")
        subscriber.publish("garbage", to: "herald:publish")
        subscriber.publish(#"{"room":"order:1","event":"disconnect"}"#, to: "herald:publish")
        subscriber.publish(#"{"rooms":["a","b"],"except":["c"],"event":"x","args":[1,2]}"#, to: "herald:publish")
        // Ignored and counted as bad: a publish never creates a namespace.
        subscriber.publish(#"{"namespace":"/invented","room":"a","event":"x"}"#, to: "herald:publish")

        #expect(recorder.requests == [
            PublishRequest(rooms: ["order:1"], event: "order:updated", args: [["s": 1]], idempotencyKey: "k"),
            PublishRequest(rooms: ["a", "b"], except: ["c"], event: "x", args: [1, 2]),
        ])
        // Every node receives the message: each delivers to its own members only.
        #expect(recorder.scopes == [.local, .local])
        #expect(listener.currentStats.envelope == .init(delivered: 2, duplicates: 1, bad: 3))
    }

    @Test func bridgesDeliverAndCountPerBridge() async throws {
        let (listener, subscriber, recorder) = try Self.make(bridges: [
            PublishingDecodingTests.orderBridge,
            ["pattern": "shipments:*", "name": "shipments", "room": "shipment:{id}", "event": "shipment:moved"],
        ])
        try await listener.start(on: subscriber)
        #expect(subscriber.names == ["c:herald:publish", "c:order:status-changed", "p:shipments:*"])

        subscriber.publish(#"{"orderId":"123","newStatus":"shipped"}"#, to: "order:status-changed")
        subscriber.publish(#"{"newStatus":"lost"}"#, to: "order:status-changed")
        subscriber.publish("{{{", to: "order:status-changed")
        subscriber.publish(#"{"id":9,"at":"dock"}"#, to: "shipments:*", channel: "shipments:eu")
        subscriber.publish(#"{"orderId":7,"newStatus":"paid"}"#, to: "order:status-changed")

        #expect(recorder.requests == [
            PublishRequest(rooms: ["order:123"], event: "order:updated", args: [["orderId": "123", "status": "shipped"]]),
            PublishRequest(rooms: ["shipment:9"], event: "shipment:moved", args: [["id": 9, "at": "dock"]]),
            PublishRequest(rooms: ["order:7"], event: "order:updated", args: [["orderId": 7, "status": "paid"]]),
        ])
        let stats = listener.currentStats
        #expect(stats.bridge(named: "order:status-changed") == .init(delivered: 2, bad: 2))
        #expect(stats.bridge(named: "shipments") == .init(delivered: 1, bad: 0))
        #expect(stats.envelope == .init())
    }

    /// A source keeps one handler per name: bridges sharing a channel (even the envelope's) subscribe it once, and
    /// each message reaches every one of them.
    @Test func bridgesSharingAChannelSubscribeItOnceAndAllDeliver() async throws {
        let (listener, subscriber, recorder) = try Self.make(bridges: [
            ["channel": "herald:publish", "name": "also-envelope", "room": "audit", "event": "audit"],
            ["channel": "orders", "name": "first", "room": "order:{id}", "event": "one"],
            ["channel": "orders", "name": "second", "room": "order:{id}", "event": "two"],
        ])
        try await listener.start(on: subscriber)
        #expect(subscriber.names == ["c:herald:publish", "c:orders"])

        subscriber.publish(#"{"id":1}"#, to: "orders")
        subscriber.publish(#"{"room":"r","event":"e"}"#, to: "herald:publish")
        #expect(recorder.requests.map(\.event) == ["one", "two", "e", "audit"])
        #expect(listener.currentStats.bridge(named: "first") == .init(delivered: 1, bad: 0))
        #expect(listener.currentStats.bridge(named: "second") == .init(delivered: 1, bad: 0))
        #expect(listener.currentStats.envelope == .init(delivered: 1, duplicates: 0, bad: 0))
    }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let current = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { current.withLock { $0 } }
    func advance(_ duration: Duration) { current.withLock { $0 += duration } }
}
