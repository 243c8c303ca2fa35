import Foundation
import Herald
import HeraldTesting
import SocketIOProtocol
import HeraldStore
import Synchronization
import Testing

/// Chat on a real PostgreSQL server that the test stops and starts. Skipped locally without the binaries;
/// with `CI` set it always runs, so missing binaries fail the run.
@Suite(.enabled(if: PostgresServerProcess.liveTestsEnabled), .serialized)
struct ChatPostgresLiveTests {
    /// A node on its own cluster, so stopping the server affects no other test.
    static func start(storeTimeout: Duration) async throws -> (PostgresServerProcess, ChatTestNode) {
        let server = try await PostgresServerProcess.start()
        do {
            try await server.createDatabase("chat")
            let node = try await ChatTestNode.start(
                database: try MessageStoreLocation(url: server.url(database: "chat")), storeTimeout: storeTimeout)
            return (server, node)
        } catch {
            server.destroy()
            throw error
        }
    }

    /// Sends until one is acknowledged ok: the pool reconnects on its own schedule, and nothing announces it.
    static func sendUntilOK(_ client: ChatTestClient, room: String, text: String, clientMessageID: String,
                            within bound: Duration = .seconds(60)) async throws -> JSONValue {
        let deadline = ContinuousClock.now + bound
        while true {
            let ack = try await client.send(room, text, clientMessageID: clientMessageID)
            if ack["ok"] == true { return ack }
            #expect(ack.errorCode == "storage_unavailable", "\(ack)")
            guard ContinuousClock.now < deadline else { throw TestFailure("no ok ack within \(bound): \(ack)") }
            // A pause between retries, as a client would back off; the retry reuses the client id.
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    @Test func aSendWhilePostgresIsDownIsAnErrorAndSendsWorkAgainWhenItIsBack() async throws {
        let (server, node) = try await Self.start(storeTimeout: .seconds(2))
        defer { server.destroy() }
        let client = try await node.client()
        try await client.join("chat:outage")
        _ = try await client.next("chat:history")
        let before = try await client.send("chat:outage", "before", clientMessageID: "b")
        #expect(before["ok"] == true, "\(before)")
        _ = try await client.next("chat:message")

        try await server.stop(immediate: true)
        // Never a fake success while the server is away.
        let during = try await client.send("chat:outage", "during", clientMessageID: "d")
        #expect(during["ok"] == false, "\(during)")
        #expect(during.errorCode == "storage_unavailable", "\(during)")
        let history = try await node.get("/api/rooms/chat:outage/messages")
        #expect(history.status == 503 && history.body["error"]?["code"] == "storage_unavailable", "\(history)")

        try await server.launch()
        // The same node, no restart: once the pool reconnects, sends are stored again.
        let after = try await Self.sendUntilOK(client, room: "chat:outage", text: "after", clientMessageID: "a")
        let texts = try await node.get("/api/rooms/chat:outage/messages").body["messages"]?.arrayValue?.compactMap { $0["text"]?.stringValue }
        // "during" got an error ack; its write was not cancelled, so it may have landed once the server was back.
        #expect(texts?.first == "before" && texts?.contains("after") == true, "\(String(describing: texts))")
        #expect(Set(texts ?? []).isSubset(of: ["before", "during", "after"]) && texts?.count == Set(texts ?? []).count,
                "\(String(describing: texts))")
        #expect(after["id"] != before["id"])
        await client.close()
        try await node.stop()
    }

    @Test func aPostgresRestartDuringChatLosesNoAcknowledgedMessage() async throws {
        let (server, node) = try await Self.start(storeTimeout: .seconds(2))
        defer { server.destroy() }
        let client = try await node.client()
        try await client.join("chat:restart")

        // Sends go on, one after another, while the server is crashed and restarted underneath.
        var acknowledged: [String: String] = [:]   // id → text
        var failures = 0
        var index = 0
        func sendOne() async throws {
            index += 1
            let ack = try await client.send("chat:restart", "message \(index)", clientMessageID: "m\(index)")
            if ack["ok"] == true, let id = ack["id"]?.stringValue {
                acknowledged[id] = "message \(index)"
            } else {
                #expect(ack.errorCode == "storage_unavailable", "\(ack)")
                failures += 1
            }
        }
        for _ in 0..<20 { try await sendOne() }
        let restarted = RestartFlag()
        let restart = Task {
            try await server.stop(immediate: true)
            try await server.launch()
            restarted.value.store(true, ordering: .sequentiallyConsistent)
        }
        // Keep sending until the restart is over and then a few more have been stored after it.
        var okAfterRestart = 0
        let deadline = ContinuousClock.now + .seconds(90)
        while okAfterRestart < 20 {
            guard ContinuousClock.now < deadline else { throw TestFailure("sends did not recover after the restart") }
            let before = acknowledged.count
            try await sendOne()
            if restarted.value.load(ordering: .sequentiallyConsistent), acknowledged.count > before { okAfterRestart += 1 }
            if acknowledged.count == before { try await Task.sleep(for: .milliseconds(50)) }
        }
        try await restart.value

        var stored: [String: String] = [:]
        var cursor: String? = nil
        repeat {
            let page = try await node.get("/api/rooms/chat:restart/messages?limit=200" + (cursor.map { "&before=\($0)" } ?? ""))
            #expect(page.status == 200, "\(page.body)")
            for message in page.body["messages"]?.arrayValue ?? [] {
                if let id = message["id"]?.stringValue, let text = message["text"]?.stringValue { stored[id] = text }
            }
            cursor = page.body["next"]?.stringValue
        } while cursor != nil
        for (id, text) in acknowledged {
            #expect(stored[id] == text, "acknowledged message \(id) (\(text)) missing after the restart")
        }
        #expect(acknowledged.count >= 40, "\(acknowledged.count) acknowledged, \(failures) failed")
        await client.close()
        try await node.stop()
    }
}

final class RestartFlag: Sendable {
    let value = Atomic(false)
}
