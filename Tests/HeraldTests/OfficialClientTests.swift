import EngineIO
import Foundation
@testable import Herald
import HeraldTesting
import Logging
import NIOCore
import NIOPosix
import SocketIO
import SocketIOProtocol
import Synchronization
import Testing

/// The official JavaScript client (socket.io-client 4.8.1's browser bundle, fetched by scripts/test.sh) in headless
/// Chromium against herald: one test per row of the matrix in docs/conformance.md. The rows share one Chromium
/// page (`OfficialBrowser`); each row starts its own server: the SocketIO library where the gateway is not needed,
/// a `HeraldNode` for its JWT auth, two `herald serve` processes and Redis for the cluster. The Python rows are in
/// `PythonClientTests`.
@Suite(.serialized, .enabled(if: OfficialBrowser.missing.isEmpty || TestEnvironment.isCI,
                              "needs chromium, HERALD_TEST_PYTHON and HERALD_SOCKETIO_JS: run scripts/test.sh"))
struct OfficialClientTests {
    init() {
        let missing = OfficialBrowser.missing
        if !missing.isEmpty { Issue.record("missing for the official client tests: \(missing.joined(separator: ", "))") }
    }

    @Test("polling only: connects, both sides say polling, events and acks go through")
    func pollingOnly() async throws {
        try await withMatrixServer { server in
            let result = try await OfficialBrowser.run("""
                var socket = io(args.url, {transports: ["polling"], forceNew: true, reconnection: false});
                await once(socket, "connect");
                var server = await socket.emitWithAck("transport");
                var echo = await socket.emitWithAck("echo", {text: "héllo ✓", list: [1, null, true]});
                var transport = socket.io.engine.transport.name;
                socket.disconnect();
                return {transport: transport, server: server, echo: echo};
                """, url: server.url)
            #expect(result["transport"] == "polling", "\(result)")
            #expect(result["server"] == "polling", "\(result)")
            #expect(result["echo"] == ["text": "héllo ✓", "list": [1, nil, true]], "\(result)")
            #expect(await server.disconnectReasons() == [.clientNamespaceDisconnect])
        }
    }

    /// `["websocket"]` never polls; `["websocket", "polling"]` (polling as fallback) opens on the websocket too.
    @Test("websocket only, or websocket first with polling as fallback: opens on the websocket",
          arguments: [#"["websocket"]"#, #"["websocket", "polling"]"#])
    func opensOnTheWebSocket(transports: String) async throws {
        try await withMatrixServer { server in
            let result = try await OfficialBrowser.run("""
                var socket = io(args.url, {transports: \(transports), forceNew: true, reconnection: false});
                await once(socket, "connect");
                var server = await socket.emitWithAck("transport");
                var transport = socket.io.engine.transport.name;
                socket.disconnect();
                return {transport: transport, server: server};
                """, url: server.url)
            #expect(result == ["transport": "websocket", "server": "websocket"])
            #expect(server.connectTransports == ["websocket"])
        }
    }

    @Test("polling → websocket upgrade: the server moves the session to the websocket")
    func upgrade() async throws {
        try await withMatrixServer { server in
            let result = try await OfficialBrowser.run("""
                var socket = io(args.url, {forceNew: true, reconnection: false});
                var first = null;
                socket.io.on("open", function () { first = socket.io.engine.transport.name; });
                await once(socket, "connect");
                if (socket.io.engine.transport.name !== "websocket") await once(socket.io.engine, "upgrade");
                var server = await socket.emitWithAck("transport");
                var id = socket.id;
                socket.disconnect();
                return {first: first, now: socket.io.engine ? socket.io.engine.transport.name : "websocket", server: server};
                """, url: server.url)
            #expect(result["first"] == "polling", "\(result)")
            #expect(result["server"] == "websocket", "\(result)")
            #expect(server.connectTransports == ["polling"])
        }
    }

    /// ArrayBuffer, Blob and a typed array (the browser's Buffer) in, nested too; `Data` out as ArrayBuffer, in an
    /// event and in an ack.
    @Test("binary both directions", arguments: ["polling", "websocket"])
    func binary(transport: String) async throws {
        try await withMatrixServer { server in
            let result = try await OfficialBrowser.run("""
                var socket = io(args.url, {transports: [args.transport], forceNew: true, reconnection: false});
                await once(socket, "connect");
                var seen = await socket.emitWithAck("inspect", new Uint8Array([1, 2, 3]).buffer,
                    new Blob([new Uint8Array([4, 5])]), new Uint8Array([250, 255]),
                    {nested: [new Uint8Array([9]).buffer], text: "t"});
                var event = once(socket, "binary");
                var echoed = await socket.emitWithAck("echo", new Uint8Array([7, 0, 7]));
                socket.emit("send-binary");
                var args2 = await event;
                function bytes(value) { return value instanceof ArrayBuffer ? Array.from(new Uint8Array(value)) : "not an ArrayBuffer: " + typeof value; }
                socket.disconnect();
                return {seen: seen, echoed: bytes(echoed), event: [bytes(args2[0]), bytes(args2[1].inner), args2[1].text]};
                """, url: server.url, ["transport": .string(transport)])
            #expect(result["seen"] == ["bin:010203", "bin:0405", "bin:faff", ["nested": ["bin:09"], "text": "t"]], "\(result)")
            #expect(result["echoed"] == [7, 0, 7], "\(result)")
            #expect(result["event"] == [[0, 1, 2, 255], [128], "t"], "\(result)")
        }
    }

    @Test("acks both ways: emitWithAck from the client; the server's emitWithAck answered and timed out")
    func acks() async throws {
        try await withMatrixServer { server in
            let result = try await OfficialBrowser.run("""
                var socket = io(args.url, {transports: ["websocket"], forceNew: true, reconnection: false});
                await once(socket, "connect");
                var echo = await socket.emitWithAck("echo", "a", 2, [3]);
                socket.on("question", function (n, callback) { callback(n * 2, "sure"); });
                var answered = await socket.emitWithAck("ask", {n: 21, timeoutMs: 5000});
                socket.off("question");
                socket.on("question", function () {});  // heard, never acknowledged
                var unanswered = await socket.emitWithAck("ask", {n: 1, timeoutMs: 200});
                var clientTimeout = null;
                try { await socket.timeout(200).emitWithAck("no-ack"); } catch (error) { clientTimeout = error.message; }
                socket.disconnect();
                return {echo: echo, answered: answered, unanswered: unanswered, clientTimeout: clientTimeout};
                """, url: server.url)
            #expect(result["echo"] == "a", "the first ack argument: \(result)")
            #expect(result["answered"] == ["answer": [42, "sure"]], "\(result)")
            #expect(result["unanswered"] == ["error": "operation has timed out"], "\(result)")
            #expect(result["clientTimeout"] == "operation has timed out", "\(result)")
        }
    }

    @Test("several namespaces multiplexed on one Manager: one Engine.IO session")
    func namespacesOnOneManager() async throws {
        try await withMatrixServer { server in
            let result = try await OfficialBrowser.run("""
                var manager = new io.Manager(args.url, {transports: ["websocket"], reconnection: false});
                var main = manager.socket("/"), admin = manager.socket("/admin"), orders = manager.socket("/orders");
                await Promise.all([once(main, "connect"), once(admin, "connect"), once(orders, "connect")]);
                var stats = await admin.emitWithAck("stats");
                var names = [await main.emitWithAck("namespace"), await orders.emitWithAck("namespace")];
                var ids = [main.id, admin.id, orders.id];
                admin.disconnect();
                var still = await orders.emitWithAck("namespace");
                var statsAfter = await main.emitWithAck("stats");
                main.disconnect(); orders.disconnect();
                return {stats: stats, names: names, distinct: new Set(ids).size, still: still, statsAfter: statsAfter};
                """, url: server.url)
            #expect(result["stats"] == ["sessions": 1, "sockets": 3], "\(result)")
            #expect(result["names"] == ["/", "/orders"], "\(result)")
            #expect(result["distinct"] == 3, "\(result)")
            #expect(result["still"] == "/orders", "\(result)")
            #expect(result["statsAfter"] == ["sessions": 1, "sockets": 2], "\(result)")
        }
    }

    @Test("invalid namespace: connect_error \"Invalid namespace\", no retry, the session's other namespace unharmed")
    func invalidNamespace() async throws {
        try await withMatrixServer { server in
            let result = try await OfficialBrowser.run("""
                var manager = new io.Manager(args.url, {transports: ["websocket"]});
                var main = manager.socket("/"), nope = manager.socket("/nope");
                var refused = await once(nope, "connect_error");
                if (!main.connected) await once(main, "connect");
                var echo = main.connected ? await main.emitWithAck("echo", 1) : null;
                var answer = {message: refused[0].message, data: refused[0].data || null, active: nope.active, echo: echo};
                main.disconnect();
                return answer;
                """, url: server.url)
            #expect(result["message"] == "Invalid namespace", "\(result)")
            #expect(result["active"] == false, "the official client does not retry a refused namespace: \(result)")
            #expect(result["echo"] == 1, "\(result)")
        }
    }

    /// The gateway's JWT auth: each refusal is a `connect_error` whose `data.code` says what to do; the client
    /// does not retry it by itself.
    @Test("auth errors as connect_error with err.data (herald gateway)")
    func authErrors() async throws {
        var logger = Logger(label: "official-client-auth")
        logger.logLevel = .critical
        let secret = "official-client-test-secret-32-bytes!"
        var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, preDrainDelay: .zero,
                                                drainWindow: .zero, drainTimeout: .seconds(1))
        configuration.auth = AuthConfiguration(hmacSecret: secret)
        configuration.dashboard.enabled = false
        let expired = try await TokenSigner.hs256(secret: secret, claims: ["sub": "alice"], ttl: .seconds(-3600))
        let good = try await TokenSigner.hs256(secret: secret, claims: ["sub": "alice"], ttl: .seconds(600))
        try await withRunningNode(HeraldNode(configuration: configuration, logger: logger)) { _, port in
            let result = try await OfficialBrowser.run("""
                async function attempt(auth) {
                  var socket = io(args.url, {transports: ["websocket"], forceNew: true, auth: auth});
                  var outcome = await Promise.race([once(socket, "connect").then(function () { return {connected: true}; }),
                    once(socket, "connect_error").then(function (error) {
                      return {message: error[0].message, data: error[0].data || null, active: socket.active};
                    })]);
                  socket.disconnect();
                  return outcome;
                }
                return [await attempt({}), await attempt({token: "garbage"}), await attempt({token: args.expired}),
                        await attempt({token: args.good})];
                """, url: "http://127.0.0.1:\(port)", ["expired": .string(expired), "good": .string(good)])
            let codes = (result.arrayValue ?? []).map { $0["data"]?["code"] ?? .null }
            #expect(codes == ["token_missing", "token_invalid", "token_expired", nil], "\(result)")
            #expect((result.arrayValue ?? []).prefix(3).allSatisfy { $0["active"] == false && $0["message"]?.stringValue?.isEmpty == false },
                    "\(result)")
            #expect(result[3] == ["connected": true], "\(result)")
        }
    }

    @Test("volatile: delivered while connected, both ways; a volatile emit while disconnected is dropped")
    func volatileEmits() async throws {
        try await withMatrixServer { server in
            let result = try await OfficialBrowser.run("""
                var socket = io(args.url, {transports: ["websocket"], forceNew: true, reconnection: false});
                await once(socket, "connect");
                var volatile = once(socket, "volatile");
                var after = once(socket, "after-volatile");
                socket.emit("emit-volatile");
                var got = [(await volatile)[0], (await after)[0]];
                socket.volatile.emit("record", "volatile-connected");
                socket.disconnect();
                socket.volatile.emit("record", "volatile-disconnected");
                socket.emit("record", "buffered");
                socket.connect();
                await once(socket, "connect");
                var records = await socket.emitWithAck("records");
                socket.disconnect();
                return {got: got, records: records};
                """, url: server.url)
            #expect(result["got"] == [1, 2], "\(result)")
            #expect(result["records"] == ["volatile-connected", "buffered"], "\(result)")
        }
    }

    /// A transport loss within the recovery window: the client comes back with `socket.recovered`, its id, its
    /// rooms and what it missed meanwhile, except the volatile events.
    @Test("connection state recovery: socket.recovered after a transport loss")
    func recovery() async throws {
        try await withMatrixServer(recovery: true) { server in
            let result = try await OfficialBrowser.run("""
                var socket = io(args.url, {transports: ["websocket"], forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 200});
                await once(socket, "connect");
                var first = {id: socket.id, recovered: socket.recovered};
                await socket.emitWithAck("arm-gap");
                var events = [];
                socket.onAny(function (event) { events.push(event); });
                var gone = once(socket, "disconnect");
                var back = once(socket, "connect");
                socket.io.engine.close();  // the transport is lost; socket.io-client's own docs test recovery so
                var reason = (await gone)[0];
                var active = socket.active;
                await back;
                await socket.emitWithAck("echo", 1);  // a round trip after the replay: it arrived before
                var inRoom = await socket.emitWithAck("in-gap-room");
                var second = {id: socket.id, recovered: socket.recovered};
                socket.disconnect();
                return {first: first, reason: reason, active: active, second: second, events: events, inRoom: inRoom};
                """, url: server.url)
            #expect(result["first"]?["recovered"] == false, "\(result)")
            #expect(result["active"] == true, "\(result)")
            #expect(result["second"]?["recovered"] == true, "\(result)")
            #expect(result["second"]?["id"] == result["first"]?["id"], "\(result)")
            #expect(result["events"] == ["missed"], "the missed event replayed, the volatile one not: \(result)")
            #expect(result["inRoom"] == true, "\(result)")
        }
    }

    /// `disconnectSockets()` sends DISCONNECT: the official client reports "io server disconnect" and stays away.
    @Test("disconnectSockets: io server disconnect, no reconnection")
    func kickedStaysDisconnected() async throws {
        try await withMatrixServer { server in
            let result = try await OfficialBrowser.run("""
                var socket = io(args.url, {transports: ["websocket"], forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100});
                await once(socket, "connect");
                var gone = once(socket, "disconnect");
                socket.emit("kick");
                var reason = (await gone)[0];
                return {reason: reason, active: socket.active, connected: socket.connected};
                """, url: server.url)
            #expect(result == ["reason": "io server disconnect", "active": false, "connected": false])
            #expect(await server.disconnectReasons() == [.serverNamespaceDisconnect])
        }
    }

    /// A server that drains and goes away closes the transports without DISCONNECT: the client reconnects, here
    /// to the server started in its place on the same port.
    @Test("the server goes away (drain): the client reconnects to its successor")
    func reconnectsAfterDrain() async throws {
        try await withDrainedServerAndSuccessor { first in
            try await OfficialBrowser.run("""
                var socket = io(args.url, {transports: ["websocket"], forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 300});
                window.drainRow = {socket: socket, reasons: [], connects: 0};
                socket.on("disconnect", function (reason) { drainRow.reasons.push({reason: reason, active: socket.active}); });
                \(Self.resolveBackOnSecondConnect("drainRow"))
                await once(socket, "connect");
                return socket.id;
                """, url: first.url)
        } then: { opened, second in
            let result = try await OfficialBrowser.run(Self.awaitBack("drainRow") + """
                var answer = {reasons: drainRow.reasons.slice(), id: drainRow.socket.id, server: await drainRow.socket.emitWithAck("transport")};
                drainRow.socket.disconnect();
                return answer;
                """, url: second.url)
            #expect(result["reasons"] == [["reason": "transport close", "active": true]], "\(result)")
            #expect(result["server"] == "websocket", "\(result)")
            #expect(result["id"] != opened, "a new session on the new server: \(result)")
        }
    }

    /// Two `herald serve` nodes sharing rooms through Redis (the live cluster fixture, nginx unused here): a
    /// publish through node A's API reaches the official client connected to node B.
    @Test("a cluster of two nodes with Redis: an emit on one reaches a client on the other")
    func cluster() async throws {
        try #require(ClusterLiveEnvironment.missing.isEmpty || TestEnvironment.isCI, "\(ClusterLiveEnvironment.missing)")
        let agent = try await OfficialBrowser.shared.agentStarted()
        try await withCluster(agent: agent) { cluster in
            let (a, b) = (cluster.nodes[0], cluster.nodes[1])
            let joined = try await OfficialBrowser.run("""
                var socket = io(args.url, {transports: ["websocket"], forceNew: true, reconnection: false});
                await once(socket, "connect");
                window.clusterRow = {socket: socket, news: once(socket, "news", 10000)};
                return await socket.emitWithAck("chat:join", {room: "chat:matrix"});
                """, url: b.url)
            #expect(joined["ok"] == true, "\(joined)")
            #expect(try await cluster.health(b)["sessions"]?.intValue == 1)
            let data: JSONValue = ["from": "node A", "bytes": "é✓"]
            #expect(try await cluster.publish(via: a, room: "chat:matrix", event: "news", data: data).status == 202)
            let received = try await OfficialBrowser.run("""
                var news = await clusterRow.news;
                clusterRow.socket.disconnect();
                return news;
                """, url: b.url)
            #expect(received == [data], "\(received)")
        }
    }

    /// The same two rows with python-socketio's AsyncClient (held by the suite's agent), reconnecting like an
    /// application: the one the server disconnected stays away, the one whose server drained comes back.
    @Test("python-socketio: kicked stays disconnected; after a drain it reconnects to the successor")
    func pythonReconnection() async throws {
        let agent = try await OfficialBrowser.shared.agentStarted()
        let port = try await freePort()
        let first = try await MatrixServer.start(port: port)
        let kicked: String
        do {
            kicked = try await agent.connect("py-kicked", url: first.url, transport: "websocket", reconnect: true)
            _ = try await agent.connect("py-dropped", url: first.url, transport: "websocket", reconnect: true)
            try await first.io.in(kicked).disconnectSockets()
            let gone = try await agent.call("disconnected", ["name": "py-kicked"])
            #expect(gone["reason"] == "server disconnect", "python-socketio's name for io server disconnect: \(gone)")
            await first.io.drain(over: .zero)
        } catch {
            await first.stop()
            throw error
        }
        await first.stop()
        let second = try await MatrixServer.start(port: port)
        do {
            try await agent.call("connected", ["name": "py-dropped", "count": 2])
            let dropped = try await agent.call("state", ["name": "py-dropped"])
            // python-engineio names every websocket that closes without an Engine.IO close packet "transport
            // error"; the reference server's websocket close sends none either (engine.io's websocket doClose).
            #expect(dropped["disconnects"] == ["transport error"], "\(dropped)")
            let stayed = try await agent.call("state", ["name": "py-kicked"])
            #expect(stayed["connected"] == false && stayed["connects"]?.arrayValue?.count == 1, "\(stayed)")
            #expect(second.io.sockets.socketCount == 1, "only the dropped client came back")
            for name in ["py-kicked", "py-dropped"] { try await agent.call("close", ["name": .string(name)]) }
        } catch {
            await second.stop()
            throw error
        }
        await second.stop()
    }

    // MARK: herald.js (the demo's small client) behaves as the official one where both apply

    /// Loads herald.js (as served at /herald.js) into the shared page, once.
    private static let loadHeraldJS = """
        if (!window.herald) {
          var script = document.createElement("script");
          script.textContent = args.heraldJS;
          document.head.appendChild(script);
        }
        """

    @Test("herald.js: kicked by disconnectSockets, it stays disconnected (io server disconnect)")
    func heraldJSKickedStaysDisconnected() async throws {
        try await withMatrixServer { server in
            let result = try await OfficialBrowser.run(Self.loadHeraldJS + """
                var socket = herald(args.url, {transports: ["websocket"], reconnectionDelay: 50, reconnectionDelayMax: 100});
                await once(socket, "connect");
                var gone = once(socket, "disconnect");
                socket.emit("kick");
                var reason = (await gone)[0];
                var answer = {reason: reason, state: socket.state};
                socket.disconnect();
                return answer;
                """, url: server.url, ["heraldJS": .string(DemoAssets.heraldJS)])
            #expect(result == ["reason": "io server disconnect", "state": "disconnected"])
            #expect(await server.disconnectReasons() == [.serverNamespaceDisconnect])
        }
    }

    @Test("herald.js: the server goes away (drain), it reconnects to its successor")
    func heraldJSReconnectsAfterDrain() async throws {
        try await withDrainedServerAndSuccessor { first in
            try await OfficialBrowser.run(Self.loadHeraldJS + """
                var socket = herald(args.url, {transports: ["websocket"], reconnectionDelay: 100, reconnectionDelayMax: 300});
                window.heraldRow = {socket: socket, reasons: [], connects: 0};
                socket.on("disconnect", function (reason) { heraldRow.reasons.push(reason); });
                \(Self.resolveBackOnSecondConnect("heraldRow"))
                await once(socket, "connect");
                return socket.id;
                """, url: first.url, ["heraldJS": .string(DemoAssets.heraldJS)])
        } then: { _, second in
            let result = try await OfficialBrowser.run(Self.awaitBack("heraldRow") + """
                var answer = {reasons: heraldRow.reasons.slice(), server: await heraldRow.socket.emitWithAck("transport")};
                heraldRow.socket.disconnect();
                return answer;
                """, url: second.url)
            #expect(result == ["reasons": ["transport close"], "server": "websocket"])
        }
    }

    /// JS: `<row>.back` resolves when `socket` connects the second time (after the drain).
    private static func resolveBackOnSecondConnect(_ row: String) -> String {
        """
        \(row).back = new Promise(function (resolve) {
          socket.on("connect", function () { if (++\(row).connects === 2) resolve(); });
        });
        """
    }

    /// JS: waits for `<row>.back`, failing after 5 s with the disconnect reasons seen so far.
    private static func awaitBack(_ row: String) -> String {
        """
        await Promise.race([\(row).back, new Promise(function (_, reject) {
          setTimeout(function () { reject(new Error("not back within 5 s: " + JSON.stringify(\(row).reasons))); }, 5000);
        })]);

        """
    }

    /// Starts a server on a free port and lets `open` connect a page's client to it; drains and stops that server,
    /// starts its successor on the same port and runs `then` with what `open` returned (the successor is stopped
    /// afterwards either way).
    private func withDrainedServerAndSuccessor(
        _ open: (MatrixServer) async throws -> JSONValue, then: (JSONValue, MatrixServer) async throws -> Void
    ) async throws {
        let port = try await freePort()
        let first = try await MatrixServer.start(port: port)
        let opened = try await open(first)
        await first.io.drain(over: .zero)
        await first.stop()
        let second = try await MatrixServer.start(port: port)
        do {
            try await then(opened, second)
        } catch {
            await second.stop()
            throw error
        }
        await second.stop()
    }

    private func withMatrixServer(recovery: Bool = false, _ body: (MatrixServer) async throws -> Void) async throws {
        let server = try await MatrixServer.start(recovery: recovery)
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}

/// The official client's page, shared by every row of the suite: one agent (Tests/python/cluster_agent.py)
/// holding one Chromium, started on first use. Swift Testing has no suite teardown: the agent ends itself after
/// 20 s without a command (the rows follow each other well within that), or with the test process.
actor OfficialBrowser {
    static let shared = OfficialBrowser()
    private var agent: ClientAgent?

    static var missing: [String] {
        (TestEnvironment.python == nil ? ["HERALD_TEST_PYTHON (selenium)"] : []) + missingBrowser
    }

    /// The official client's bundle and Chromium.
    static var missingBrowser: [String] {
        var missing: [String] = []
        if TestEnvironment.socketIOJS == nil { missing.append("HERALD_SOCKETIO_JS (socket.io-client bundle)") }
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") { missing.append("chromium") }
        return missing
    }

    func agentStarted() async throws -> ClientAgent {
        if let agent, agent.isRunning { return agent }
        guard let python = TestEnvironment.python else { throw NotReady(what: "browser", detail: Self.missing.joined(separator: ", ")) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-official-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let agent = try await ClientAgent(python: python, directory: directory, exitWhenIdle: .seconds(20))
        self.agent = agent
        return agent
    }

    /// Runs a row's script with `args` = `fields` plus `url`.
    static func run(_ body: String, url: String, _ fields: JSONObject = [:], timeout: Duration = .seconds(15)) async throws -> JSONValue {
        guard let script = TestEnvironment.socketIOJS else { throw NotReady(what: "socket.io-client", detail: "run scripts/test.sh") }
        var args = fields
        args["url"] = .string(url)
        let agent = try await shared.agentStarted()
        return try await agent.javaScript(body, args: .object(args), socketIOJS: script, timeout: timeout)
    }
}

/// A SocketIO library server with the handlers the rows call, on 127.0.0.1 (CORS open: the page is a file://).
final class MatrixServer: Sendable {
    let io: SocketIOServer
    private let channel: any Channel
    private let state = MatrixRecorder()

    var url: String { "http://127.0.0.1:\(channel.localAddress?.port ?? 0)" }
    /// The transport of each socket of the default namespace when it connected.
    var connectTransports: [String] { state.locked { $0.transports } }

    private init(io: SocketIOServer, channel: any Channel) {
        self.io = io
        self.channel = channel
    }

    static func start(port: Int = 0, recovery: Bool = false) async throws -> MatrixServer {
        var logger = Logger(label: "official-client-matrix")
        logger.logLevel = .critical
        var configuration = SocketIOConfiguration()
        configuration.engine.cors = CORSConfiguration(origins: .any)
        if recovery { configuration.connectionStateRecovery = ConnectionStateRecovery(maxDisconnectionDuration: .seconds(30)) }
        let io = SocketIOServer(configuration: configuration, logger: logger)
        let channel = try await io.bind(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton)
        let server = MatrixServer(io: io, channel: channel)
        server.configure()
        return server
    }

    /// The server-side disconnect reasons of the default namespace, once every socket has left (bounded).
    func disconnectReasons() async -> [DisconnectReason] {
        _ = await eventually { self.io.sockets.socketCount == 0 }
        return state.locked { $0.reasons }
    }

    func stop() async {
        io.close()
        try? await channel.close()
    }

    private func configure() {
        let io = self.io
        let state = self.state
        io.onConnection { socket in
            state.locked { $0.transports.append(socket.transport.rawValue) }
            socket.on("echo") { event in event.ack(event.args) }
            socket.on("transport") { event in event.ack(.string(socket.transport.rawValue)) }
            socket.on("namespace") { event in event.ack("/") }
            socket.on("stats") { event in
                event.ack(["sessions": .int(io.engine.sessionCount), "sockets": .int(io.allNamespaces.map(\.socketCount).reduce(0, +))])
            }
            // Binary attachments come back as "bin:<hex>", nested where they were.
            socket.on("inspect") { event in event.ack(.array(event.args.map(Self.describe))) }
            socket.on("send-binary") { _ in
                socket.emit("binary", .binary(ByteBuffer(bytes: [0, 1, 2, 255])), ["inner": .binary(ByteBuffer(bytes: [128])), "text": "t"])
            }
            socket.onAsync("ask") { event in
                let n = event[0]?["n"]?.intValue ?? 0
                let timeout = Duration.milliseconds(event[0]?["timeoutMs"]?.intValue ?? 1000)
                do {
                    event.ack(["answer": .array(try await socket.emitWithAck("question", .int(n), timeout: timeout))])
                } catch {
                    event.ack(["error": .string("\(error)")])
                }
            }
            socket.onAsync("kick") { _ in try? await io.in(socket.id).disconnectSockets() }
            socket.on("emit-volatile") { _ in
                io.volatile.to(socket.id).emit("volatile", 1)
                socket.emit("after-volatile", 2)
            }
            socket.on("record") { event in state.locked { $0.records.append(event[0] ?? .null) } }
            socket.on("records") { event in event.ack(.array(state.locked { $0.records })) }
            // Recovery: once this socket's transport is lost, the server emits to its room, volatile first.
            socket.on("arm-gap") { event in
                socket.join("gap")
                socket.onDisconnect { _ in
                    io.volatile.to("gap").emit("missed-volatile", 1)
                    io.to("gap").emit("missed", 2)
                }
                event.ack(true)
            }
            socket.on("in-gap-room") { event in event.ack(.bool(socket.rooms.contains("gap"))) }
            socket.onDisconnect { reason in state.locked { $0.reasons.append(reason) } }
        }
        for name in ["/admin", "/orders"] {
            io.of(name).onConnection { socket in
                socket.on("namespace") { event in event.ack(.string(name)) }
                socket.on("stats") { event in
                    event.ack(["sessions": .int(io.engine.sessionCount), "sockets": .int(io.allNamespaces.map(\.socketCount).reduce(0, +))])
                }
            }
        }
    }

    private static func describe(_ value: JSONValue) -> JSONValue {
        switch value {
        case .binary(let buffer): .string("bin:" + buffer.readableBytesView.map { String(format: "%02x", $0) }.joined())
        case .array(let values): .array(values.map(describe))
        case .object(let object):
            .object(object.reduce(into: JSONObject()) { described, member in described[member.key] = describe(member.value) })
        default: value
        }
    }
}

/// What a `MatrixServer`'s handlers saw; a class so the handlers can share it.
final class MatrixRecorder: Sendable {
    struct Seen {
        var reasons: [DisconnectReason] = []
        var records: [JSONValue] = []
        var transports: [String] = []
    }

    private let seen = Mutex(Seen())

    func locked<T>(_ body: (inout Seen) -> T) -> T { seen.withLock { body(&$0) } }
}
