import Foundation
import HeraldTesting
import SocketIOClient
import SocketIOProtocol
import Synchronization
import Testing

/// Deploys and crashes, live: redis-server, two `herald serve` nodes with connection state recovery, nginx in
/// front (deploy/nginx/herald.conf), python-socketio clients that reconnect like applications and the official
/// socket.io-client 4.8.1 in headless Chromium (fetched by scripts/test.sh, see `DrainLiveEnvironment`).
@Suite(.serialized, .enabled(if: DrainLiveEnvironment.missing.isEmpty || TestEnvironment.isCI,
                              "needs redis-server, nginx, chromium, HERALD_TEST_PYTHON, HERALD_SOCKETIO_JS and a built herald: run scripts/test.sh"))
struct DrainLiveTests {
    init() {
        let missing = DrainLiveEnvironment.missing
        if !missing.isEmpty { Issue.record("missing for the drain tests: \(missing.joined(separator: ", "))") }
    }

    static let room = "chat:deploy"

    /// SIGTERM: `/ready` says 503 at once while handshakes are still taken for the pre-drain delay, then they are
    /// refused (503, Retry-After) and the open transports close in paced batches; every python-socketio client
    /// (websocket and polling) reconnects through nginx to the other node.
    @Test("drain: /ready 503, pre-drain delay, refusals, paced closes, clients reconnect elsewhere")
    func drainMovesClientsToTheOtherNode() async throws {
        // The pre-drain delay is long enough for the checks below to run inside it on a loaded machine.
        try await withCluster(nodeArguments: ["--recovery-window", "60000", "--pre-drain-delay", "1500",
                                              "--drain-window", "2000"]) { cluster in
            let agent = cluster.agent
            let names = ["ws-1", "ws-2", "ws-3", "ws-4", "poll-1", "poll-2"]
            for name in names {
                _ = try await agent.connect(name, url: cluster.nginxURL, transport: name.hasPrefix("ws") ? "websocket" : "polling",
                                            reconnect: true, join: Self.room)
                try await agent.call("connected", ["name": .string(name), "count": 1])
            }
            let (home, other) = try await cluster.homeAndOther(sessions: names.count)
            #expect(try await RawHTTP.get("/ready", port: home.port).status == 200)

            let signalled = ContinuousClock.now
            kill(home.process.pid, SIGTERM)
            try await waitUntilReady("/ready 503 on \(home.name)", timeout: .seconds(5)) {
                let ready = try? await RawHTTP.get("/ready", port: home.port, timeout: .seconds(1))
                return ready?.status == 503 ? nil : "answered \(ready?.status ?? 0)"
            }
            let notReadyAfter = ContinuousClock.now - signalled
            // Still in the pre-drain delay: a new connection is taken.
            let early = try await RawHTTP.get("/socket.io/?EIO=4&transport=polling", port: home.port)
            #expect(early.status == 200 && early.body.hasPrefix("0{"), "during the pre-drain delay: \(early.raw)")

            // After it the drain starts: handshakes are refused (retryably). Asked every 250 ms from now on, while
            // the node is surely up (the drain window is 2 s): each accepted one is one more session to drain, and
            // more than the window's 40 batches would put two websocket clients in one batch.
            var refusal: RawHTTP.Response?
            while refusal == nil, ContinuousClock.now - signalled < .seconds(10) {
                let answer = try await RawHTTP.get("/socket.io/?EIO=4&transport=polling", port: home.port)
                if answer.status == 503 { refusal = answer } else { try await Task.sleep(for: .milliseconds(250)) }
            }
            let refusedAfter = ContinuousClock.now - signalled
            #expect(refusedAfter >= .milliseconds(1500), "a handshake was refused \(refusedAfter) after SIGTERM, inside the pre-drain delay")
            #expect(refusal?.header("Retry-After") == "1", "\(refusal?.raw ?? "no refusal")")
            let firstClosed = try await agent.call("disconnected", ["name": .string(names[0])], timeout: .seconds(10))
            let drainedAfter = ContinuousClock.now - signalled
            #expect(drainedAfter >= .milliseconds(1500), "a transport closed \(drainedAfter) after SIGTERM, inside the pre-drain delay")
            #expect(firstClosed["reason"]?.stringValue != "io server disconnect", "\(firstClosed)")

            // Every client comes back, on the other node (the home node refuses and then exits).
            for name in names {
                try await agent.call("connected", ["name": .string(name), "count": 2], timeout: .seconds(20))
            }
            let backAfter = ContinuousClock.now - signalled
            #expect(await home.process.waitForExit(timeout: .seconds(10)), "home node still running after the drain")
            let exitedAfter = ContinuousClock.now - signalled
            #expect(try await cluster.health(other)["sessions"]?.intValue == names.count)

            // The transports were closed over the window, as the clients saw it (one clock: the agent's).
            var closedAt: [Double] = []
            for name in names {
                let state = try await agent.call("state", ["name": .string(name)])
                #expect((state["disconnects"]?.arrayValue?.count ?? 0) >= 1, "\(name): \(state)")
                // Not "io server disconnect": python-socketio reports a dropped transport, and reconnected.
                #expect(state["disconnects"]?[0]?.stringValue != "io server disconnect", "\(name): \(state)")
                closedAt.append(try #require(state["disconnected_at"]?[0]?.doubleValue, "\(name): \(state)"))
            }
            let offsets = zip(names, closedAt).map { "\($0)+\(String(format: "%.3f", $1 - (closedAt.min() ?? 0)))" }
            // Up to 14 sessions (six clients, the early handshake, those the refusal probe opened) in a 2 s window:
            // one per batch, at least 1/7 s apart. The
            // websocket clients see their batch; polling clients behind nginx leave sooner: nginx counts the
            // node's first refusal (503) as a failure and sends their next poll to the other node (fail_timeout).
            let webSocketCloses = zip(names, closedAt).filter { $0.0.hasPrefix("ws") }.map(\.1).sorted()
            let gaps = zip(webSocketCloses.dropFirst(), webSocketCloses).map { $0 - $1 }
            #expect(gaps.allSatisfy { $0 >= 0.1 }, "websocket closes not in separate batches: \(offsets)")
            let spread = (webSocketCloses.last ?? 0) - (webSocketCloses.first ?? 0)

            // They receive again, in the room they joined again.
            let data: JSONValue = ["after": "drain"]
            #expect(try await cluster.publish(via: other, room: Self.room, event: "news", data: data).status == 202)
            for name in names { #expect(try await agent.next(name, event: "news").first == data, "\(name)") }
            print("drain timings: /ready 503 after \(notReadyAfter), first close after \(drainedAfter), "
                  + "websocket closes spread over \(String(format: "%.3f", spread)) s (window 2 s; close times \(offsets)), "
                  + "all back after \(backAfter), exit after \(exitedAfter)")
        }
    }

    /// The rolling restart of issue 10: under steady publishing through the API, node 1 then node 2 is stopped
    /// (SIGTERM) and started again behind nginx. Every client reconnects; the official JavaScript client
    /// recovers (`socket.recovered`) after each drain and gets every acknowledged publish exactly once.
    @Test("rolling restart behind nginx: every client back, recovered, nothing acknowledged lost or doubled")
    func rollingRestart() async throws {
        let script = try #require(TestEnvironment.socketIOJS)
        try await withCluster(nodeArguments: ["--recovery-window", "60000", "--pre-drain-delay", "200",
                                              "--drain-window", "400"]) { cluster in
            let agent = cluster.agent
            let pythons = ["py-ws", "py-poll"]
            for name in pythons {
                _ = try await agent.connect(name, url: cluster.nginxURL, transport: name == "py-ws" ? "websocket" : "polling",
                                            reconnect: true, join: Self.room)
                try await agent.call("connected", ["name": .string(name), "count": 1])
            }
            try await agent.call("browser", ["name": "js", "url": .string(cluster.nginxURL), "room": .string(Self.room),
                                             "script": .string(script)], timeout: .seconds(30))
            // Herald's Swift client as an application uses it: websocket through nginx, joined to the room once.
            let swiftClient = SwiftClientRecord()
            let manager = SocketIOManager(host: "127.0.0.1", port: cluster.nginxPort, configuration: SocketIOClientConfiguration(
                transports: [.websocket], reconnectionDelay: .milliseconds(100), reconnectionDelayMax: .milliseconds(300)))
            let swift = manager.socket()
            swiftClient.follow(swift)
            defer { manager.close() }
            try await swift.connect()
            #expect(try await swift.emitWithAck("chat:join", ["room": .string(Self.room)], timeout: .seconds(10)).first?["ok"] == true)
            let (first, _) = try await cluster.homeAndOther(sessions: 4)
            let order = first.name == cluster.nodes[0].name ? [0, 1] : [1, 0]

            let publisher = SteadyPublisher(cluster: cluster)
            let publishing = Task { await publisher.run() }
            var connects = 1
            for index in order {
                try await publisher.waitForAcknowledged(atLeast: publisher.acknowledgedCount + 5)
                let node = cluster.nodes[index]
                kill(node.process.pid, SIGTERM)
                #expect(await node.process.waitForExit(timeout: .seconds(10)), "\(node.name) did not stop after SIGTERM")
                connects += 1
                for name in pythons {
                    try await agent.call("connected", ["name": .string(name), "count": .int(connects)], timeout: .seconds(20))
                }
                try await waitUntilReady("the JavaScript client's connect #\(connects)", timeout: .seconds(20)) {
                    let state = try? await agent.call("browser_state", ["name": "js"])
                    let count = state?["connects"]?.arrayValue?.count ?? 0
                    return count >= connects ? nil : "connects: \(state.map { "\($0)" } ?? "none")"
                }
                try await waitUntilReady("the Swift client's connect #\(connects)", timeout: .seconds(20)) {
                    swiftClient.connects.count >= connects ? nil : "connects: \(swiftClient.connects)"
                }
                // Started again once every client is on the other node, the one the next round drains: a client
                // whose backoff outlasted a quick restart would come back here (nginx hashes every client of
                // 127.0.0.1 to one node) and sit out the next drain.
                try await cluster.restartNode(index)
            }
            try await publisher.waitForAcknowledged(atLeast: publisher.acknowledgedCount + 5)
            publishing.cancel()
            await publishing.value
            // A last event through each node marks the end: once it arrived, every earlier one had its chance.
            let end: JSONValue = ["end": true]
            #expect(try await cluster.publish(via: cluster.nodes[0], room: Self.room, event: "news", data: end).status == 202)
            for name in pythons {
                while try await agent.next(name, event: "news", timeout: .seconds(10)).first != end {}
            }
            try await waitUntilReady("the JavaScript client's end marker", timeout: .seconds(10)) {
                let state = try? await agent.call("browser_state", ["name": "js"])
                let events = state?["events"]?["news"]?.arrayValue ?? []
                return events.contains { $0[0] == end } ? nil : "\(events.count) news events"
            }

            try await waitUntilReady("the Swift client's end marker", timeout: .seconds(10)) {
                swiftClient.sawEnd ? nil : "\(swiftClient.news.count) news events"
            }
            let acknowledged = publisher.acknowledged
            // The Swift client: back after each drain with its session (same id), every acknowledged event once.
            let swiftConnects = swiftClient.connects
            #expect(swiftConnects.count == 3 && swiftConnects.dropFirst().allSatisfy(\.recovered), "\(swiftConnects)")
            #expect(Set(swiftConnects.map(\.id)).count == 1, "a recovered socket keeps its id: \(swiftConnects)")
            let swiftSeqs = swiftClient.news
            #expect(swiftSeqs.count == Set(swiftSeqs).count, "Swift client duplicates: \(swiftSeqs)")
            #expect(Set(swiftSeqs) == acknowledged, "Swift client missed \(acknowledged.subtracting(swiftSeqs).sorted()), extra \(Set(swiftSeqs).subtracting(acknowledged).sorted())")
            #expect(!swiftClient.serverDisconnected)
            let browser = try await agent.call("browser_state", ["name": "js"])
            let jsConnects = browser["connects"]?.arrayValue ?? []
            #expect(jsConnects.count == 3, "\(browser)")
            #expect(jsConnects.dropFirst().allSatisfy { $0["recovered"] == true }, "not recovered after a drain: \(jsConnects)")
            #expect(Set(jsConnects.compactMap { $0["id"]?.stringValue }).count == 1, "a recovered socket keeps its id: \(jsConnects)")
            let jsSeqs = (browser["events"]?["news"]?.arrayValue ?? []).compactMap { $0[0]?["seq"]?.intValue }
            #expect(jsSeqs.count == Set(jsSeqs).count, "duplicates: \(jsSeqs)")
            #expect(Set(jsSeqs).isSubset(of: acknowledged), "extra \(Set(jsSeqs).subtracting(acknowledged).sorted())")
            let received = (browser["events"]?["news"]?.arrayValue ?? []).map { "\($0[0]?["seq"]?.intValue ?? -1)@\($0[1]?.stringValue ?? "?")" }
            #expect(Set(jsSeqs) == acknowledged, "missed \(acknowledged.subtracting(jsSeqs).sorted()) (published via \(publisher.via)); received in order: \(received); connects \(jsConnects)")
            #expect(browser["disconnects"]?.arrayValue?.contains("io server disconnect") == false, "\(browser)")

            // python-socketio has no recovery: it reconnects as a new session and misses what was sent meanwhile,
            // but never gets an event twice.
            for name in pythons {
                let seqs = try await agent.call("received", ["name": .string(name), "event": "news"])["args"]?.arrayValue?
                    .compactMap { $0[0]?["seq"]?.intValue } ?? []
                #expect(seqs.count == Set(seqs).count, "\(name) duplicates: \(seqs)")
                #expect(Set(seqs).isSubset(of: acknowledged), "\(name)")
            }
            print("rolling restart: \(acknowledged.count) acknowledged publishes, \(publisher.refusedCount) refused, "
                  + "JS client got \(jsSeqs.count) exactly once, recovered \(jsConnects.dropFirst().map { $0["recovered"] == true })")
        }
    }

    /// SIGKILL: nothing was saved, so the clients come back to the other node as new sessions: the official
    /// client reports `recovered == false` and the application refetches.
    @Test("crash: clients reconnect elsewhere without recovery")
    func crashIsNotRecovered() async throws {
        let script = try #require(TestEnvironment.socketIOJS)
        try await withCluster(nodeArguments: ["--recovery-window", "60000", "--pre-drain-delay", "0", "--drain-window", "0"]) { cluster in
            let agent = cluster.agent
            _ = try await agent.connect("py", url: cluster.nginxURL, transport: "websocket", reconnect: true, join: Self.room)
            try await agent.call("connected", ["name": "py", "count": 1])
            let first = try await agent.call("browser", ["name": "js", "url": .string(cluster.nginxURL), "room": .string(Self.room),
                                                         "script": .string(script)], timeout: .seconds(30))
            let (home, other) = try await cluster.homeAndOther(sessions: 2)
            await home.process.kill()
            try await agent.call("connected", ["name": "py", "count": 2], timeout: .seconds(20))
            try await waitUntilReady("the JavaScript client back", timeout: .seconds(20)) {
                let state = try? await agent.call("browser_state", ["name": "js"])
                return (state?["connects"]?.arrayValue?.count ?? 0) >= 2 ? nil : "\(state.map { "\($0)" } ?? "none")"
            }
            let browser = try await agent.call("browser_state", ["name": "js"])
            let second = try #require(browser["connects"]?[1])
            #expect(second["recovered"] == false, "\(browser)")
            #expect(second["id"] != first["id"], "a new session after a crash: \(browser)")
            #expect(try await cluster.health(other)["sessions"]?.intValue == 2)
            let data: JSONValue = ["after": "crash"]
            #expect(try await cluster.publish(via: other, room: Self.room, event: "news", data: data).status == 202)
            #expect(try await agent.next("py", event: "news").first == data)
        }
    }
}

/// What the Swift client saw in a test: each connect (recovered? which id), the `news` numbers, the end marker.
final class SwiftClientRecord: Sendable {
    struct Connect: Sendable, CustomStringConvertible {
        let id: String?
        let recovered: Bool
        var description: String { "\(id ?? "-")\(recovered ? " recovered" : "")" }
    }

    private struct State {
        var connects: [Connect] = []
        var news: [Int] = []
        var sawEnd = false
        var serverDisconnected = false
    }

    private let state = Mutex(State())
    var connects: [Connect] { state.withLock { $0.connects } }
    var news: [Int] { state.withLock { $0.news } }
    var sawEnd: Bool { state.withLock { $0.sawEnd } }
    var serverDisconnected: Bool { state.withLock { $0.serverDisconnected } }

    func follow(_ socket: SocketIOClientSocket) {
        socket.onStateChange { [self] change in
            switch change {
            case .connected:
                let connect = Connect(id: socket.id, recovered: socket.recovered)
                state.withLock { $0.connects.append(connect) }
            case .disconnected(.ioServerDisconnect):
                state.withLock { $0.serverDisconnected = true }
            default:
                break
            }
        }
        socket.on("news") { [self] event in
            state.withLock { state in
                if let seq = event.args.first?["seq"]?.intValue { state.news.append(seq) }
                if event.args.first?["end"] == true { state.sawEnd = true }
            }
        }
    }
}

/// What the drain tests need beyond the cluster's programs: Chromium and the official client's bundle.
enum DrainLiveEnvironment {
    static var missing: [String] {
        ClusterLiveEnvironment.missing + OfficialBrowser.missingBrowser
    }
}

/// Publishes numbered events to the test room through the nodes' APIs, one every 50 ms, as a backend would: to
/// whichever node answers (the other while one restarts), keeping the numbers that were acknowledged (202).
final class SteadyPublisher: Sendable {
    private let cluster: ClusterFixture
    /// The nodes as they were at the start: a restarted node keeps its ports, and the fixture's list changes.
    private let targets: [HeraldNodeProcess]
    private let state = Mutex(State())
    private let progress = Mailbox<Int>("acknowledged publish")

    struct State {
        var next = 0
        var acknowledged: Set<Int> = []
        var refused = 0
        var via: [Int: String] = [:]
    }

    init(cluster: ClusterFixture) {
        self.cluster = cluster
        self.targets = cluster.nodes
    }

    var acknowledged: Set<Int> { state.withLock { $0.acknowledged } }
    var acknowledgedCount: Int { state.withLock { $0.acknowledged.count } }
    var refusedCount: Int { state.withLock { $0.refused } }
    /// The node whose API acknowledged each publish.
    var via: [Int: String] { state.withLock { $0.via } }

    func run() async {
        while !Task.isCancelled {
            let seq = state.withLock { state in
                defer { state.next += 1 }
                return state.next
            }
            var done = false
            for node in targets where !done {
                let answer = try? await cluster.publish(via: node, room: DrainLiveTests.room, event: "news", data: ["seq": .int(seq)])
                if answer?.status == 202 {
                    let count = state.withLock { state in
                        state.acknowledged.insert(seq)
                        state.via[seq] = node.name
                        return state.acknowledged.count
                    }
                    progress.send(count)
                    done = true
                }
            }
            if !done { state.withLock { $0.refused += 1 } }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Waits (bounded) until `count` publishes were acknowledged.
    func waitForAcknowledged(atLeast count: Int) async throws {
        while acknowledgedCount < count {
            _ = try await progress.next(timeout: .seconds(10))
        }
    }
}
