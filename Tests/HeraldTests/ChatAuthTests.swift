import Foundation
import Herald
import HeraldTesting
import Logging
import NIOCore
import NIOPosix
import SocketIOProtocol
import HeraldStore
import Testing

/// With auth on, chat rooms obey the room rules, for `chat:join` and for the history API.
@Suite struct ChatAuthTests {
    static let rules = #"""
        {"auth": {"rooms": [{"pattern": "chat:{id}", "allow": [{"claim": "chats", "contains": "{id}"}]}]}}
        """#

    @Test func chatRoomsFollowTheRoomRules() async throws {
        var logger = Logger(label: "chat-auth-test")
        logger.logLevel = .critical
        var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, preDrainDelay: .zero, drainWindow: .zero, drainTimeout: .seconds(1))
        configuration.auth = AuthConfiguration(hmacSecret: AuthLiveTests.secret)
        try configuration.auth.applyFile(Self.rules)
        configuration.dashboard.enabled = false
        configuration.chat.database = .sqliteMemory
        let node = HeraldNode(configuration: configuration, logger: logger)
        let running = Task { try await node.run() }
        defer { running.cancel() }
        let port = try #require(try await withTimeout(.seconds(10)) { try await node.listeningAddress() }.port)

        let token = try await AuthLiveTests.token(["chats": ["7"]])
        let client = try await RawSocketIOClient.open(port: port, group: MultiThreadedEventLoopGroup.singleton)
        try await client.connect(auth: AuthLiveTests.authJSON(token))
        client.emit("chat:join", #"{"room":"chat:8"}"#, ackID: 1)
        let refused = try await client.nextText()
        #expect(refused.hasPrefix(#"431[{"ok":false"#), "\(refused)")
        client.emit("chat:join", #"{"room":"chat:7"}"#, ackID: 2)
        #expect(try await client.nextText().hasPrefix(#"432[{"ok":true"#))

        let anonymous = try await RawHTTP.get("/api/rooms/chat:7/messages", port: port)
        #expect(anonymous.status == 403)
    }
}
