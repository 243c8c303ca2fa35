import HeraldTesting
import Foundation
import SocketIOProtocol
import Testing

/// One `herald serve` process.
struct HeraldNodeProcess: Sendable {
    let name: String
    let port: Int
    let apiPort: Int
    let process: ManagedProcess
    var url: String { "http://127.0.0.1:\(port)" }
}

/// redis-server, herald nodes A and B sharing rooms through it, nginx in front of both (deploy/nginx/herald.conf
/// with a 3 s read timeout), and optionally a control: node C with a heartbeat slower than that timeout behind
/// its own nginx. Every process is this fixture's own, on free ports, logging into one temporary directory.
final class ClusterFixture: @unchecked Sendable {
    static let apiKey = "cluster-live-test-key"
    /// nginx's read timeout in the test; the nodes ping every second, the control node every 8 s.
    static let readTimeout = 3

    let directory: URL
    let agent: ClientAgent
    /// Whether `stop()` ends the agent (false for one lent by the caller, e.g. the official client's browser).
    private let ownsAgent: Bool
    let redisPort: Int
    private(set) var redis: ManagedProcess?
    private(set) var nodes: [HeraldNodeProcess] = []
    private(set) var nginxPort = 0
    private(set) var slowNode: HeraldNodeProcess?
    private(set) var slowNginxPort = 0
    private var nginxes: [ManagedProcess] = []
    /// Extra `herald serve` arguments of nodes A and B (recovery, drain timings).
    private var nodeArguments: [String] = []
    private var heraldPath = ""

    var nginxURL: String { "http://127.0.0.1:\(nginxPort)" }
    var slowNginxURL: String { "http://127.0.0.1:\(slowNginxPort)" }

    private init(directory: URL, agent: ClientAgent, ownsAgent: Bool, redisPort: Int) {
        self.directory = directory
        self.agent = agent
        self.ownsAgent = ownsAgent
        self.redisPort = redisPort
    }

    /// Starts everything, or stops what it started and throws.
    /// `agent`: one the caller keeps (not stopped with the cluster); by default the cluster starts its own.
    static func start(slowNode: Bool = false, nodeArguments: [String] = [], agent lentAgent: ClientAgent? = nil) async throws -> ClusterFixture {
        guard let python = TestEnvironment.python, let herald = ClusterLiveEnvironment.herald,
              let nginx = ClusterLiveEnvironment.nginx, ClusterLiveEnvironment.redisServer != nil else {
            throw NotReady(what: "cluster", detail: "missing: \(ClusterLiveEnvironment.missing.joined(separator: ", ")); run scripts/test.sh")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let agent: ClientAgent
        do {
            if let lentAgent { agent = lentAgent } else { agent = try await ClientAgent(python: python, directory: directory) }
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        let fixture = ClusterFixture(directory: directory, agent: agent, ownsAgent: lentAgent == nil, redisPort: try await freePort())
        fixture.nodeArguments = nodeArguments
        fixture.heraldPath = herald
        do {
            try await fixture.startRedis()
            for name in ["A", "B"] {
                fixture.nodes.append(try await fixture.startNode(name, herald: herald, pingInterval: 1000, clustered: true))
            }
            fixture.nginxPort = try await fixture.startNginx("nginx", nginx: nginx, upstreams: fixture.nodes)
            if slowNode {
                // The control needs no Redis: it only shows what nginx does to an idle connection.
                let node = try await fixture.startNode("C", herald: herald, pingInterval: 8000, clustered: false)
                fixture.slowNode = node
                fixture.slowNginxPort = try await fixture.startNginx("nginx-slow", nginx: nginx, upstreams: [node])
            }
        } catch {
            await fixture.stop()
            throw error
        }
        return fixture
    }

    /// Stops every process (bounded), newest first, and removes the directory.
    func stop() async {
        if ownsAgent { await agent.close() }
        for nginx in nginxes { await nginx.stop() }
        for node in nodes + [slowNode].compactMap({ $0 }) { await node.process.stop() }
        if let redis, redis.isRunning {
            // Children of the test runner inherit its blocked signal mask, SIGTERM included, and redis-server
            // (unlike herald and nginx) does not unblock it: ask over RESP; the connection closing is its answer.
            _ = try? await tcpExchange("SHUTDOWN NOSAVE\r\n", port: redisPort)
            if await !redis.waitForExit(timeout: .seconds(5)) { await redis.kill() }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: redis-server

    /// Starts (or restarts, on the same port) an empty, non-persistent redis-server.
    func startRedis() async throws {
        let redis = try ManagedProcess(
            name: "redis-server", executable: ClusterLiveEnvironment.redisServer!,
            arguments: ["--port", "\(redisPort)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--dir", directory.path],
            logURL: directory.appendingPathComponent("redis-\(UUID().uuidString.prefix(8)).log"))
        self.redis = redis
        let port = redisPort
        try await waitUntilReady("redis-server on \(port)", process: redis) {
            do {
                let reply = try await tcpExchange("PING\r\nQUIT\r\n", port: port)
                return reply.hasPrefix("+PONG") ? nil : "answered \(reply.debugDescription)"
            } catch {
                return "\(error)"
            }
        }
    }

    /// SIGKILL: the nodes see their Redis connections drop, as in a crash.
    func killRedis() async {
        await redis?.kill()
    }

    // MARK: herald

    private func startNode(_ name: String, herald: String, pingInterval: Int, clustered: Bool,
                           ports: (port: Int, api: Int)? = nil) async throws -> HeraldNodeProcess {
        let port: Int, apiPort: Int
        if let ports {
            (port, apiPort) = ports
        } else {
            (port, apiPort) = (try await freePort(), try await freePort())
        }
        var arguments = [
            "serve", "--host", "127.0.0.1", "--port", "\(port)", "--threads", "1",
            "--api-port", "\(apiPort)", "--api-key", Self.apiKey,
            // nginx's read timeout only sees the interval; a pong timeout above it spares a CPU-starved CI run.
            "--ping-interval", "\(pingInterval)", "--ping-timeout", "\(max(pingInterval, 3000))",
            "--log-format", "text", "--drain-timeout", "1000", "--pre-drain-delay", "0", "--drain-window", "0",
        ]
        if clustered { arguments += ["--redis-url", "redis://127.0.0.1:\(redisPort)"] + nodeArguments }
        // A restarted node logs into a new file, so the first run's log stays readable.
        let log = directory.appendingPathComponent("herald-\(name)-\(UUID().uuidString.prefix(8)).log")
        let process = try ManagedProcess(name: "herald \(name)", executable: herald, arguments: arguments, logURL: log)
        let node = HeraldNodeProcess(name: name, port: port, apiPort: apiPort, process: process)
        // Ready = both listeners answer and, when clustered, Redis is connected ("ok", not "degraded").
        try await waitUntilReady("herald \(name)", process: process) { [self] in
            do {
                let health = try await self.health(node)
                guard health["status"] == "ok" else { return "/health says \(health)" }
                let api = try await RawHTTP.get("/api/health", port: apiPort, timeout: .seconds(2))
                return api.status == 200 ? nil : "/api/health answered \(api.status)"
            } catch {
                return "\(error)"
            }
        }
        return node
    }

    /// Starts node `index` (A or B) again on its ports after it stopped, and waits until it is ready.
    func restartNode(_ index: Int) async throws {
        let old = nodes[index]
        precondition(!old.process.isRunning, "restart a stopped node only")
        nodes[index] = try await startNode(old.name, herald: heraldPath, pingInterval: 1000, clustered: true,
                                           ports: (old.port, old.apiPort))
    }

    /// Every log of a restarted node's earlier runs, for failure messages.
    private func earlierNodeLogs() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasPrefix("herald-") && $0.hasSuffix(".log") }.sorted().map { file in
            let text = (try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)) ?? ""
            return "--- \(file) ---\n" + String(text.suffix(1500))
        }.joined(separator: "\n")
    }

    /// The node's public `/health` body.
    func health(_ node: HeraldNodeProcess) async throws -> JSONValue {
        let response = try await RawHTTP.get("/health", port: node.port, timeout: .seconds(2))
        return try JSONValue(parsing: response.body)
    }

    /// Waits (bounded, failing) until every node's `/health` status is `status`.
    func waitForHealth(_ status: String, timeout: Duration = .seconds(20)) async throws {
        for node in nodes {
            try await waitUntilReady("herald \(node.name) /health \(status)", timeout: timeout, process: node.process) {
                do {
                    let health = try await self.health(node)
                    return health["status"]?.stringValue == status ? nil : "/health says \(health)"
                } catch {
                    return "\(error)"
                }
            }
        }
    }

    /// The node that holds all `sessions` client sessions, and the other one. Through nginx every client of
    /// this test comes from 127.0.0.1, so the hash on the client address sends them all to the same node.
    func homeAndOther(sessions: Int = 1) async throws -> (home: HeraldNodeProcess, other: HeraldNodeProcess) {
        var counts: [Int] = []
        for node in nodes { counts.append(try await health(node)["sessions"]?.intValue ?? -1) }
        guard counts.sorted() == [0, sessions] else {
            throw NotReady(what: "client placement", detail: "sessions per node \(counts), want \(sessions) on one node")
        }
        let home = counts[0] == sessions ? 0 : 1
        return (nodes[home], nodes[1 - home])
    }

    /// `POST /api/publish` on the node's API listener.
    func publish(via node: HeraldNodeProcess, room: String, event: String, data: JSONValue,
                 idempotencyKey: String? = nil) async throws -> RawHTTP.Response {
        var fields: JSONObject = ["room": .string(room), "event": .string(event), "data": data]
        if let idempotencyKey { fields["idempotencyKey"] = .string(idempotencyKey) }
        let body = JSONValue.object(fields).jsonString
        let request = "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1:\(node.apiPort)\r\nConnection: close\r\n"
            + "Authorization: Bearer \(Self.apiKey)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        return try await RawHTTP.exchange(request, port: node.apiPort)
    }

    // MARK: nginx

    /// Runs nginx in the foreground on its own prefix with deploy/nginx/herald.conf adapted to the test.
    private func startNginx(_ name: String, nginx: String, upstreams: [HeraldNodeProcess]) async throws -> Int {
        let port = try await freePort()
        let prefix = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: prefix, withIntermediateDirectories: true)
        let deploy = try String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("deploy/nginx/herald.conf"),
                                encoding: .utf8)
        let site = try Self.adapt(deploy, port: port, upstreams: upstreams.map(\.port), readTimeout: Self.readTimeout)
        let conf = prefix.appendingPathComponent("nginx.conf")
        try Self.wrap(site, prefix: prefix.path).write(to: conf, atomically: true, encoding: .utf8)
        let process = try ManagedProcess(
            name: name, executable: nginx,
            arguments: ["-p", prefix.path, "-c", conf.path, "-e", prefix.appendingPathComponent("error.log").path,
                        "-g", "daemon off; pid \(prefix.path)/nginx.pid;"],
            logURL: prefix.appendingPathComponent("stderr.log"))
        nginxes.append(process)
        try await waitUntilReady(name, process: process) {
            do {
                let health = try await RawHTTP.get("/health", port: port, timeout: .seconds(2))
                return health.status == 200 ? nil : "/health through nginx answered \(health.status)"
            } catch {
                return "\(error)"
            }
        }
        return port
    }

    /// The shipped site config with the test's listen port, upstream servers and read/send timeouts; throws
    /// if the file no longer has what it replaces, so the test keeps testing the real file.
    static func adapt(_ deploy: String, port: Int, upstreams: [Int], readTimeout: Int) throws -> String {
        var text = deploy
        func replace(_ pattern: String, _ replacement: (Int) -> String) throws {
            let regex = try Regex(pattern).anchorsMatchLineEndings()
            let matches = text.matches(of: regex)
            guard !matches.isEmpty else {
                throw NotReady(what: "deploy/nginx/herald.conf", detail: "no line matches \(pattern)")
            }
            for (index, match) in matches.enumerated().reversed() {
                text.replaceSubrange(match.range, with: replacement(index))
            }
        }
        // The shipped server parameters (max_fails, fail_timeout…) stay: the test runs them.
        let parameters = try Regex(#"^[ \t]*server[ \t]+[^ \t;{]+:\d+([^;\n]*);"#).anchorsMatchLineEndings()
        let shipped = text.firstMatch(of: parameters).map { String($0.output[1].substring ?? "") } ?? ""
        let servers = upstreams.map { "    server 127.0.0.1:\($0)\(shipped);\n" }.joined()
        try replace(#"^[ \t]*server[ \t]+[^ \t;{]+:\d+[^;\n]*;\n"#) { $0 == 0 ? servers : "" }
        try replace(#"^([ \t]*)listen[ \t]+\d+;"#) { _ in "    listen 127.0.0.1:\(port);" }
        try replace(#"proxy_read_timeout[ \t]+\w+;"#) { _ in "proxy_read_timeout \(readTimeout)s;" }
        try replace(#"proxy_send_timeout[ \t]+\w+;"#) { _ in "proxy_send_timeout \(readTimeout)s;" }
        return text
    }

    /// A complete nginx.conf around the site: everything nginx writes goes under `prefix`.
    static func wrap(_ site: String, prefix: String) -> String {
        """
        worker_processes 1;
        error_log \(prefix)/error.log info;
        events { worker_connections 256; }
        http {
            access_log \(prefix)/access.log;
            client_body_temp_path \(prefix)/client_body;
            proxy_temp_path \(prefix)/proxy;
            fastcgi_temp_path \(prefix)/fastcgi;
            uwsgi_temp_path \(prefix)/uwsgi;
            scgi_temp_path \(prefix)/scgi;
        \(site)
        }

        """
    }

    /// nginx's error log for the nginx in front of the main nodes (`slow: false`) or of the control node.
    func nginxErrorLog(slow: Bool) -> String {
        let name = slow ? "nginx-slow" : "nginx"
        return (try? String(contentsOf: directory.appendingPathComponent("\(name)/error.log"), encoding: .utf8)) ?? ""
    }

    /// Every log's tail, for a failure message.
    func logs() -> String {
        ([redis].compactMap { $0 } + [slowNode?.process].compactMap { $0 } + nginxes)
            .map { $0.logTail(1500) }.joined(separator: "\n") + "\n" + earlierNodeLogs() + "\n" + agent.logTail()
    }
}

/// Starts a cluster, runs `body`, and always stops it; the logs are attached when the body throws.
func withCluster(slowNode: Bool = false, nodeArguments: [String] = [], agent: ClientAgent? = nil,
                 _ body: (ClusterFixture) async throws -> Void) async throws {
    let cluster = try await ClusterFixture.start(slowNode: slowNode, nodeArguments: nodeArguments, agent: agent)
    do {
        try await body(cluster)
    } catch {
        Issue.record("cluster logs:\n\(cluster.logs())")
        await cluster.stop()
        throw error
    }
    await cluster.stop()
}
