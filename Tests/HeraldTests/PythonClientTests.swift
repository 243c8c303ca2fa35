import HeraldTesting
import Foundation
import Logging
import NIOCore
import NIOPosix
import SocketIO
import SocketIOProtocol
import Synchronization
import Testing

/// Live tests: a real server on a real port, driven by python-socketio (a client nobody here wrote).
/// `scripts/test.sh` provides the Python; in CI a missing one fails instead of skipping.
@Suite(.serialized, .enabled(if: TestEnvironment.python != nil || TestEnvironment.isCI,
                              "HERALD_TEST_PYTHON is unset: run scripts/test.sh to set up python-socketio"))
struct PythonClientTests {
    /// Each transport with `socketio.AsyncClient` and `socketio.Client` (sync): refused auth as connect_error data,
    /// transports, binary both ways, acks both ways (the server's emitWithAck too), rooms, a second namespace.
    @Test("python-socketio scenarios", arguments: ["websocket", "polling", "upgrade"], ["async", "sync"])
    func scenarios(transport: String, flavour: String) async throws {
        try await withScenarioServer { fixture, python in
            let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/python/sio_scenarios.py").path
            let run = try await runProcess(python, [script, fixture.url, transport, flavour], timeout: .seconds(120))
            #expect(run.status == 0, "sio_scenarios.py \(transport) \(flavour) exited \(run.status)\nstdout: \(run.stdout)\nstderr: \(run.stderr)")
            #expect(run.stdout.contains(#""ok": true"#), "stdout: \(run.stdout)")

            // The server's half of the emitWithAck round trip.
            #expect(fixture.recorder.answers == [[42, .binary(ByteBuffer(bytes: [2, 1]))]])

            // Everything the clients made must be gone once they have left (rooms, sockets, sessions).
            let clean = await eventually { await fixture.leftovers().isEmpty }
            let leftovers = await fixture.leftovers()
            #expect(clean, "state left after every client disconnected: \(leftovers)")
            // alice on / and /admin, bob on /; the refused client never became a socket.
            let reasons = fixture.recorder.disconnects
            #expect(reasons.count == 3, "disconnects: \(reasons)")
            // python-engineio closes a websocket without flushing the queued DISCONNECT packets, so over
            // websocket "transport close" is what the server really sees; both mean the client left.
            #expect(reasons.allSatisfy { [.clientNamespaceDisconnect, .transportClose].contains($0.reason) }, "disconnects: \(reasons)")
            #expect(reasons.map(\.namespace).sorted() == ["/", "/", "/admin"], "disconnects: \(reasons)")
            if transport == "polling" {
                #expect(reasons.allSatisfy { $0.reason == .clientNamespaceDisconnect }, "disconnects: \(reasons)")
            }
        }
    }

    /// Hand-made packets (websocket-client, requests): an explicit DISCONNECT must be reported as such.
    @Test("explicit DISCONNECT then close", arguments: ["websocket", "polling"])
    func explicitDisconnect(transport: String) async throws {
        try await withScenarioServer { fixture, python in
            let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/python/raw_disconnect.py").path
            let run = try await runProcess(python, [script, fixture.url, transport], timeout: .seconds(60))
            #expect(run.status == 0, "raw_disconnect.py \(transport) exited \(run.status)\nstdout: \(run.stdout)\nstderr: \(run.stderr)")
            let clean = await eventually { await fixture.leftovers().isEmpty }
            let leftovers = await fixture.leftovers()
            #expect(clean, "state left after the client disconnected: \(leftovers)")
            let reasons = fixture.recorder.disconnects
            #expect(reasons.map(\.reason) == [.clientNamespaceDisconnect], "disconnects: \(reasons)")
        }
    }

    /// Starts the fixture, hands it the Python to run, and always stops it.
    private func withScenarioServer(_ body: (ScenarioServer, String) async throws -> Void) async throws {
        guard let python = TestEnvironment.python else {
            Issue.record("CI is set but HERALD_TEST_PYTHON is not: run scripts/test.sh, which installs the Python clients")
            return
        }
        let fixture = try await ScenarioServer.start()
        do {
            try await body(fixture, python)
        } catch {
            try? await fixture.stop()
            throw error
        }
        try await fixture.stop()
    }
}

/// What the fixture's handlers saw, for the Swift-side assertions.
final class ScenarioRecorder: Sendable {
    struct Disconnect: Sendable, CustomStringConvertible {
        var namespace: String
        var reason: DisconnectReason
        var description: String { "\(namespace): \(reason)" }
    }

    private let state = Mutex<(answers: [[JSONValue]], disconnects: [Disconnect])>(([], []))

    var answers: [[JSONValue]] { state.withLock { $0.answers } }
    var disconnects: [Disconnect] { state.withLock { $0.disconnects } }

    func answered(_ answer: [JSONValue]) { state.withLock { $0.answers.append(answer) } }
    func disconnected(_ namespace: String, _ reason: DisconnectReason) {
        state.withLock { $0.disconnects.append(Disconnect(namespace: namespace, reason: reason)) }
    }
}

/// The server the Python scenarios expect (see Tests/python/sio_scenarios.py).
struct ScenarioServer {
    let io: SocketIOServer
    let channel: any Channel
    let group: MultiThreadedEventLoopGroup
    let recorder: ScenarioRecorder

    var url: String {
        "http://127.0.0.1:\(channel.localAddress?.port ?? 0)"
    }

    static func start() async throws -> ScenarioServer {
        var logger = Logger(label: "live-test")
        logger.logLevel = .warning
        let io = SocketIOServer(configuration: SocketIOConfiguration(), logger: logger)
        let recorder = ScenarioRecorder()
        configure(io, recorder: recorder)
        // Two loops so that two clients may land on different room shards.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        do {
            let channel = try await io.bind(host: "127.0.0.1", port: 0, group: group)
            return ScenarioServer(io: io, channel: channel, group: group, recorder: recorder)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    static func configure(_ io: SocketIOServer, recorder: ScenarioRecorder) {
        let main = io.sockets
        io.use { socket in
            guard socket.handshake.auth["token"]?.stringValue == "secret" else {
                throw ConnectError("invalid token", data: ["reason": "bad-token"])
            }
            socket.data = ["user": socket.handshake.auth["user"] ?? "anonymous"]
        }
        io.onConnection { socket in
            let user = socket.data["user"]?.stringValue ?? "anonymous"
            socket.join("user:\(user)")  // personal room, addressed by user name
            socket.emit("welcome", [
                "id": .string(socket.id), "user": .string(user), "blob": .binary(ByteBuffer(bytes: [0, 1, 2, 255])),
            ])
            socket.on("echo") { event in event.ack(event.args) }
            socket.on("transport") { event in event.ack(.string(socket.transport.rawValue)) }
            socket.on("join") { event in
                guard let room = event[0]?.stringValue else { return event.ack(["error": "room required"]) }
                socket.join(room)
                event.ack(["rooms": .array(socket.rooms.sorted().map { .string($0) })])
            }
            socket.on("dm") { event in
                guard let to = event[0]?["to"]?.stringValue, let text = event[0]?["text"] else { return event.ack(false) }
                main.to("user:\(to)").emit("dm", ["from": .string(user), "text": text])
                event.ack(true)
            }
            socket.on("room-say") { event in
                guard let room = event[0]?["room"]?.stringValue, let text = event[0]?["text"] else { return event.ack(false) }
                socket.to(room).emit("room-say", ["from": .string(user), "text": text])
                // Sent after the room-say to everyone, sender included: an ordering barrier for the client.
                main.to(room).emit("room-marker", ["from": .string(user)])
                event.ack(true)
            }
            socket.onAsync("ask-me") { event in
                let n = event[0]?.intValue ?? 0
                do {
                    let answer = try await socket.emitWithAck(
                        "question", .int(n), .binary(ByteBuffer(bytes: [1, 2])), timeout: .seconds(10))
                    recorder.answered(answer)
                    event.ack(["ok": .bool(answer == [.int(n * 2), .binary(ByteBuffer(bytes: [2, 1]))])])
                } catch {
                    event.ack(["ok": false, "error": .string("\(error)")])
                }
            }
            socket.onDisconnect { reason in recorder.disconnected("/", reason) }
        }
        io.of("/admin").onConnection { socket in
            socket.on("stats") { event in
                event.ack(["namespace": "/admin", "sockets": .int(main.socketCount)])
            }
            socket.onDisconnect { reason in recorder.disconnected("/admin", reason) }
        }
    }

    /// Rooms, sockets and sessions still held by the server; empty when nothing leaked.
    func leftovers() async -> [String] {
        var found: [String] = []
        for name in ["/", "/admin"] {
            let namespace = io.of(name)
            if namespace.socketCount > 0 { found.append("\(name) sockets: \(namespace.socketCount)") }
            if let adapter = namespace.adapter as? InMemoryAdapter {
                let rooms = await adapter.roomCounts().filter { $0.value > 0 }
                if !rooms.isEmpty { found.append("\(name) rooms: \(rooms)") }
                // A room with no members should not linger as an empty entry either.
                let empty = await adapter.roomCounts().filter { $0.value == 0 }
                if !empty.isEmpty { found.append("\(name) empty rooms kept: \(empty.keys.sorted())") }
            } else {
                found.append("\(name) adapter is not InMemoryAdapter")
            }
        }
        if io.engine.sessionCount > 0 { found.append("engine sessions: \(io.engine.sessionCount)") }
        return found
    }

    func stop() async throws {
        io.close()
        try? await channel.close()
        try await group.shutdownGracefully()
    }
}

/// Polls `condition` until it holds or `timeout` passes (cleanup after a disconnect is asynchronous).
func eventually(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion, killing it after `timeout`; output goes through files so a chatty
/// child can never block on a full pipe.
func runProcess(_ executable: String, _ arguments: [String], timeout: Duration) async throws -> ProcessResult {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-live-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let stdoutURL = directory.appendingPathComponent("stdout")
    let stderrURL = directory.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
    let stdout = try FileHandle(forWritingTo: stdoutURL)
    let stderr = try FileHandle(forWritingTo: stderrURL)
    defer {
        try? stdout.close()
        try? stderr.close()
    }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = FileHandle.nullDevice
    var environment = ProcessInfo.processInfo.environment
    environment["PYTHONUNBUFFERED"] = "1"
    process.environment = environment

    let box = ProcessBox(process)
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { finished in continuation.resume(returning: finished.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
            return
        }
        // A hung child is killed, so the test fails rather than hangs.
        Task {
            try? await Task.sleep(for: timeout)
            if box.process.isRunning { box.process.terminate() }
        }
    }
    let out = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
    var err = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
    if status == SIGTERM && !box.process.isRunning && process.terminationReason == .uncaughtSignal {
        err += "\n(killed after \(timeout))"
    }
    return ProcessResult(status: status, stdout: out, stderr: err)
}

/// Process is thread-safe for isRunning/terminate but not marked Sendable.
final class ProcessBox: @unchecked Sendable {
    let process: Process
    init(_ process: Process) { self.process = process }
}
