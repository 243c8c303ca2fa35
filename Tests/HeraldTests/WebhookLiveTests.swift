import Foundation
import Herald
import HeraldTesting
import SocketIOProtocol
import Testing

/// Webhooks from two live nodes to a real HTTP receiver (Tests/python/webhook_receiver.py) that checks every
/// signature and refuses the first requests.
@Suite struct WebhookLiveTests {
    static let secret = "webhook-live-test-secret"

    /// The receiver process: one JSON line per request it answered.
    final class Receiver: Sendable {
        let process: ManagedProcess
        /// Its stdin: closing it (or this process ending) ends the receiver.
        let input = Pipe()
        let lines = Mailbox<String>("webhook receiver line")
        let port: Int

        /// With `certificates`, an HTTPS receiver presenting their server certificate.
        init(python: String, directory: URL, fail: Int, certificates: TestCertificates? = nil) async throws {
            let stdout = Pipe()
            let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/python/webhook_receiver.py").path
            let tls = certificates.map { [$0.serverCertificateFile, $0.serverKeyFile] } ?? []
            process = try ManagedProcess(name: "webhook receiver", executable: python,
                                         arguments: [script, WebhookLiveTests.secret, "\(fail)"] + tls,
                                         logURL: directory.appendingPathComponent("receiver-\(UUID().uuidString.prefix(8)).log"), standardInput: input,
                                         standardOutput: stdout)
            lines.receiveLines(from: stdout.fileHandleForReading)
            let first = try await lines.next(timeout: .seconds(20))
            port = try #require(first.flatMap { try? JSONValue(parsing: $0) }?["port"]?.intValue, "receiver said \(first ?? "nothing")")
        }

        func stop() async {
            try? input.fileHandleForWriting.close()
            if await !process.waitForExit(timeout: .seconds(5)) { await process.stop() }
        }

        func next() async throws -> JSONValue {
            let line = try #require(try await lines.next(timeout: .seconds(15)), "the receiver exited\n\(process.logTail())")
            return try JSONValue(parsing: line)
        }
    }

    @Test func eventsAreSignedRetriedAndSentOncePerClusterTransition() async throws {
        let python = try #require(TestEnvironment.python, "HERALD_TEST_PYTHON")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-webhook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let receiver = try await Receiver(python: python, directory: directory, fail: 2)
        defer { Task { await receiver.stop(); try? FileManager.default.removeItem(at: directory) } }
        try await PresenceLiveTests.withPresenceCluster(extra: [
            "--webhook-url", "http://127.0.0.1:\(receiver.port)/hooks", "--webhook-secret", Self.secret, "--webhook-events", "note",
            "--webhook-retry-min", "50", "--webhook-retry-max", "200",
        ]) { fixture in
        let (a, b) = (fixture.nodes[0], fixture.nodes[1])
        try await PresenceLiveTests.join(fixture, "alice-1", sub: "alice", node: a, room: "doc:1")
        try await PresenceLiveTests.join(fixture, "alice-2", sub: "alice", node: b, room: "doc:1")
        try await PresenceLiveTests.join(fixture, "bob", sub: "bob", node: b, room: "doc:1")
        try await fixture.agent.call("emit", ["name": "alice-1", "event": "note", "data": ["text": "hi"]])
        for name in ["alice-1", "alice-2", "bob"] { try await fixture.agent.call("close", ["name": .string(name)]) }

        // Two nodes, two tabs of alice: each transition once, whichever node saw it.
        let expected: [String] = [
            "user.connected alice", "user.connected bob", "room.occupied doc:1", "presence.join doc:1 alice", "presence.join doc:1 bob",
            "client.event note alice", "presence.leave doc:1 alice", "presence.leave doc:1 bob", "room.vacated doc:1",
            "user.disconnected alice", "user.disconnected bob",
        ]
        var events: [JSONValue] = []
        var refused = 0
        while events.count < expected.count {
            let request = try await receiver.next()
            #expect(request["valid"] == true, "\(request)")
            if request["status"] == 503 { refused += 1 }
            if request["status"] == 204 { events += request["events"]?.arrayValue ?? [] }
        }
        #expect(refused == 2)
        func key(_ event: JSONValue) -> String {
            let type = event["type"]?.stringValue ?? "?"
            let detail: [String?] = [event["room"]?.stringValue, event["event"]?.stringValue,
                                     (event["member"]?["sub"] ?? event["sub"])?.stringValue]
            return ([type] + detail.compactMap { $0 }).joined(separator: " ")
        }
        #expect(events.map(key).sorted() == expected.sorted(), "\(events)")
        #expect(Set(events.compactMap { $0["id"]?.stringValue }).count == events.count)
        #expect(events.first { key($0) == "client.event note alice" }?["args"] == [["text": "hi"]])
        #expect(events.first { key($0) == "presence.join doc:1 bob" }?["member"]?["claims"] == ["name": "Bob"])
        // One room's events in the cluster's order of transitions: occupied with the first join, vacated with the last leave.
        let room = events.filter { $0["room"] == "doc:1" }.sorted { ($0["seq"]?.intValue ?? 0) < ($1["seq"]?.intValue ?? 0) }
        #expect(room.first.map(key) == "room.occupied doc:1" || room.dropFirst().first.map(key) == "room.occupied doc:1", "\(room.map(key))")
        #expect(room.last.map(key) == "room.vacated doc:1" || room.dropLast().last.map(key) == "room.vacated doc:1", "\(room.map(key))")
        let seq = { (name: String) in events.first { key($0) == name }?["seq"]?.intValue ?? -1 }
        #expect(seq("room.occupied doc:1") == min(seq("presence.join doc:1 alice"), seq("presence.join doc:1 bob")))
        #expect(seq("room.vacated doc:1") == max(seq("presence.leave doc:1 alice"), seq("presence.leave doc:1 bob")))
        #expect(max(seq("presence.join doc:1 alice"), seq("presence.join doc:1 bob")) < min(seq("presence.leave doc:1 alice"), seq("presence.leave doc:1 bob")))
        }
        await receiver.stop()
    }

    @Test func httpsReceiversAreVerifiedAgainstTheConfiguredCA() async throws {
        let python = try #require(TestEnvironment.python, "HERALD_TEST_PYTHON")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-webhook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let trusted = try TestCertificates.make(), other = try TestCertificates.make()
        let receiver = try await Receiver(python: python, directory: directory, fail: 0, certificates: trusted)
        // Its certificate chains to a CA the node does not trust: the node must refuse it.
        let impostor = try await Receiver(python: python, directory: directory, fail: 0, certificates: other)
        defer {
            Task {
                await receiver.stop()
                await impostor.stop()
                trusted.remove()
                other.remove()
                try? FileManager.default.removeItem(at: directory)
            }
        }
        try await PresenceLiveTests.withPresenceCluster(extra: [
            "--webhook-url", "https://hook:p%40ss@127.0.0.1:\(receiver.port)/hooks,https://localhost:\(impostor.port)/hooks",
            "--webhook-secret", Self.secret, "--webhook-tls-ca", trusted.caFile, "--webhook-retry-min", "50", "--webhook-retry-max", "200",
        ]) { fixture in
            try await PresenceLiveTests.join(fixture, "alice", sub: "alice", node: fixture.nodes[0], room: "doc:1")
            var types: [String] = []
            while types.count < 3 {
                let request = try await receiver.next()
                #expect(request["valid"] == true && request["status"] == 204, "\(request)")
                // The URL's credentials, percent-decoded, as Basic authorization.
                #expect(request["authorization"] == .string("Basic " + Data("hook:p@ss".utf8).base64EncodedString()), "\(request)")
                types += (request["events"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue }
            }
            #expect(types == ["user.connected", "room.occupied", "presence.join"])
            // The impostor never gets a request; the node counts its failed attempts.
            let failing = await eventually {
                let metrics = try? await fixture.api(fixture.nodes[0], "GET", "/metrics").body
                let line = metrics?.split(separator: "\n").first { $0.hasPrefix("herald_webhook_failed_attempts_total ") }
                return (line?.split(separator: " ").last).flatMap { Double($0) }.map { $0 > 0 } ?? false
            }
            #expect(failing)
        }
    }
}
