import Foundation
import Herald
import HeraldTesting
import Logging
import NIOCore
import NIOPosix
import SocketIOProtocol
import HeraldStore
import Testing

/// A running HeraldNode for chat tests; `stop()` ends it.
struct ChatTestNode {
    let node: HeraldNode
    let port: Int
    let running: Task<Void, any Error>

    static func start(database: MessageStoreLocation = .sqliteMemory, storeTimeout: Duration = .seconds(5),
                      maxMessageLength: Int = 4000, historyOnJoin: Int = 50,
                      configure: (HeraldNode) -> Void = { _ in },
                      chat: (inout ChatConfiguration) -> Void = { _ in }) async throws -> ChatTestNode {
        var logger = Logger(label: "chat-test")
        logger.logLevel = .critical
        var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, preDrainDelay: .zero, drainWindow: .zero, drainTimeout: .milliseconds(200))
        configuration.chat = ChatConfiguration(database: database, maxMessageLength: maxMessageLength,
                                               historyOnJoin: historyOnJoin, storeTimeout: storeTimeout)
        chat(&configuration.chat)
        let node = HeraldNode(configuration: configuration, logger: logger)
        configure(node)
        let running = Task { try await node.run() }
        let address = try await withTimeout(.seconds(20)) { try await node.listeningAddress() }
        return ChatTestNode(node: node, port: try #require(address.port), running: running)
    }

    func stop() async throws {
        running.cancel()
        try await withTimeout(.seconds(10)) { try await running.value }
    }

    func client() async throws -> ChatTestClient {
        let raw = try await RawSocketIOClient.open(port: port, group: MultiThreadedEventLoopGroup.singleton)
        try await raw.connect()
        return ChatTestClient(raw: raw)
    }

    func get(_ path: String) async throws -> (status: Int, body: JSONValue) {
        let response = try await RawHTTP.get(path, port: port)
        return (response.status, try JSONValue(parsing: response.body))
    }
}

/// Speaks `chat:*` over the raw client: acks are matched by id, events received meanwhile are kept in order.
final class ChatTestClient {
    let raw: RawSocketIOClient
    private var nextAckID = 0
    private var events: [(name: String, payload: JSONValue)] = []

    init(raw: RawSocketIOClient) { self.raw = raw }

    /// Emits with an ack id and returns the ack's first argument.
    func emitWithAck(_ event: String, _ payload: JSONValue, timeout: Duration = .seconds(10)) async throws -> JSONValue {
        let id = nextAckID
        nextAckID += 1
        raw.send("42\(id)" + JSONValue.array([.string(event), payload]).jsonString)
        while true {
            let text = try await raw.nextText(timeout: timeout)
            if text.hasPrefix("43\(id)[") {
                let args = try JSONValue(parsing: String(text.dropFirst("43\(id)".count)))
                return args[0] ?? .null
            }
            try keep(text)
        }
    }

    /// The next event named `name`, skipping (and keeping) nothing else: other events are an error.
    func next(_ name: String, timeout: Duration = .seconds(10)) async throws -> JSONValue {
        if let index = events.firstIndex(where: { $0.name == name }) {
            return events.remove(at: index).payload
        }
        while true {
            let text = try await raw.nextText(timeout: timeout)
            try keep(text)
            if let index = events.firstIndex(where: { $0.name == name }) {
                return events.remove(at: index).payload
            }
        }
    }

    /// How many events named `name` arrived and were kept unread.
    func keptCount(_ name: String) -> Int { events.count { $0.name == name } }

    private func keep(_ text: String) throws {
        guard text.hasPrefix("42[") else { throw TestFailure("unexpected frame \(text)") }
        let array = try JSONValue(parsing: String(text.dropFirst(2)))
        guard case .string(let name)? = array[0] else { throw TestFailure("event without a name: \(text)") }
        events.append((name, array[1] ?? .null))
    }

    func join(_ room: String) async throws {
        let ack = try await emitWithAck("chat:join", ["room": .string(room)])
        #expect(ack == ["ok": true], "\(ack)")
    }

    func send(_ room: String, _ text: String, clientMessageID: String? = nil, timeout: Duration = .seconds(10)) async throws -> JSONValue {
        var payload: JSONObject = ["room": .string(room), "text": .string(text)]
        if let clientMessageID { payload["clientMessageId"] = .string(clientMessageID) }
        return try await emitWithAck("chat:send", .object(payload), timeout: timeout)
    }

    func close() async { await raw.disconnectTransport() }
}

extension JSONValue {
    var errorCode: String? { self["error"]?["code"]?.stringValue }
}
