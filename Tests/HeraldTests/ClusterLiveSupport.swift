import Foundation
import HeraldTesting
import NIOCore
import NIOPosix
import SocketIOProtocol
import Synchronization
import Testing

/// Where the live cluster's programs are. `scripts/test.sh` installs redis-server, nginx and the Python
/// clients and builds `herald`; in CI a missing one fails the suite instead of skipping it.
enum ClusterLiveEnvironment {
    static let redisServer = executable("redis-server")
    static let nginx = executable("nginx")

    /// The `herald` built next to this test bundle (`swift build` puts both in the same bin directory).
    static var herald: String? {
        if let path = ProcessInfo.processInfo.environment["HERALD_TEST_BINARY"], !path.isEmpty { return path }
        var candidates: [URL] = []
        if let bundle = Bundle.main.executableURL?.deletingLastPathComponent() {
            candidates.append(bundle.appendingPathComponent("herald"))
        }
        candidates.append(LiveTestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/herald"))
        return candidates.map(\.path).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var missing: [String] {
        var missing: [String] = []
        if TestEnvironment.python == nil { missing.append("HERALD_TEST_PYTHON (python-socketio)") }
        if redisServer == nil { missing.append("redis-server") }
        if nginx == nil { missing.append("nginx") }
        if herald == nil { missing.append("the herald binary (swift build)") }
        return missing
    }

    /// Searches PATH plus the sbin directories, where Debian puts nginx but a non-root PATH may not look.
    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/sbin"]
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// A child process with its output in a log file, stopped with a bounded wait.
final class ManagedProcess: @unchecked Sendable {
    let name: String
    let logURL: URL
    private let process = Process()
    private let exits = Mailbox<Int32>("exit of process")
    private let exited = ExitFlag()

    /// A class, so the termination handler can share it (a Mutex cannot be captured).
    private final class ExitFlag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    init(name: String, executable: String, arguments: [String], logURL: URL,
         standardInput: Any? = nil, standardOutput: Any? = nil) throws {
        self.name = name
        self.logURL = logURL
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = standardInput ?? FileHandle.nullDevice
        process.standardOutput = standardOutput ?? log
        process.standardError = log
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONUNBUFFERED"] = "1"
        process.environment = environment
        process.terminationHandler = { [exits, exited] finished in
            exited.set()
            exits.send(finished.terminationStatus)
        }
        try process.run()
        try? log.close()  // the child has its own copy
    }

    /// Whether the exit has not been seen yet. Tracked here rather than read from `Process.isRunning`, so a
    /// stop always ends with SIGKILL unless the exit was really observed (no redis-server left behind).
    var isRunning: Bool { !exited.isSet }
    var pid: Int32 { process.processIdentifier }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    func stop(grace: Duration = .seconds(5)) async {
        guard isRunning else { return }
        Foundation.kill(pid, SIGTERM)
        if await !waitForExit(timeout: grace) { await kill() }
    }

    /// Whether the process exited within `timeout`.
    func waitForExit(timeout: Duration) async -> Bool {
        guard isRunning else { return true }
        _ = try? await exits.next(timeout: timeout)
        return !isRunning
    }

    /// SIGKILL (a crash, as far as the process's peers can tell), and wait for the exit.
    func kill() async {
        guard isRunning else { return }
        Foundation.kill(pid, SIGKILL)
        _ = await waitForExit(timeout: .seconds(10))
    }

    /// The last `limit` characters of the log, for failure messages.
    func logTail(_ limit: Int = 3000) -> String {
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return "--- \(name) (\(logURL.lastPathComponent)) ---\n" + String(text.suffix(limit))
    }
}

/// Thrown when a process never became ready; carries its log so the failure explains itself.
struct NotReady: Error, CustomStringConvertible {
    var what: String
    var detail: String
    var description: String { "\(what) not ready: \(detail)" }
}

/// Polls `probe` until it answers nil (ready) or `timeout` passes; a probe's non-nil answer says what is
/// still wrong. Readiness has no event to await from outside the process, so polling is the honest way.
func waitUntilReady(_ what: String, timeout: Duration = .seconds(15), process: ManagedProcess? = nil,
                    _ probe: () async -> String?) async throws {
    let deadline = ContinuousClock.now + timeout
    var last = "never probed"
    while ContinuousClock.now < deadline {
        if let process, !process.isRunning {
            throw NotReady(what: what, detail: "the process exited\n\(process.logTail())")
        }
        guard let problem = await probe() else { return }
        last = problem
        try await Task.sleep(for: .milliseconds(50))
    }
    throw NotReady(what: what, detail: "after \(timeout): \(last)\n\(process?.logTail() ?? "")")
}

/// Sends raw bytes and reads until the peer closes (RESP and raw HTTP requests alike).
func tcpExchange(_ request: String, port: Int, timeout: Duration = .seconds(5)) async throws -> String {
    try await withTimeout(timeout) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var received = ByteBuffer()
            for try await var chunk in inbound { received.writeBuffer(&chunk) }
            return String(buffer: received)
        }
    }
}

/// The Python agent (Tests/python/cluster_agent.py): python-socketio clients that stay connected while the
/// test acts on the cluster. One JSON command per line in, one JSON answer per line out.
final class ClusterAgent: @unchecked Sendable {
    private let process: ManagedProcess
    private let input: FileHandle
    private let answers = Mailbox<String>("cluster agent answer")

    init(python: String, directory: URL) async throws {
        let stdin = Pipe()
        let stdout = Pipe()
        let script = LiveTestEnvironment.repositoryRoot.appendingPathComponent("Tests/python/cluster_agent.py").path
        process = try ManagedProcess(name: "agent", executable: python, arguments: [script],
                                     logURL: directory.appendingPathComponent("agent.log"),
                                     standardInput: stdin, standardOutput: stdout)
        input = stdin.fileHandleForWriting
        // A plain thread reads the pipe: blocking reads, lines handed to the mailbox as they complete.
        let output = stdout.fileHandleForReading
        let answers = self.answers
        Thread.detachNewThread {
            var pending = Data()
            while true {
                let chunk = output.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    answers.send(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending = Data(pending[pending.index(after: newline)...])
                }
            }
            answers.finish()
        }
        let hello = try await answers.next(timeout: .seconds(30))
        guard let hello, (try? JSONValue(parsing: hello))?["ready"] == true else {
            throw NotReady(what: "python agent", detail: "said \(hello ?? "nothing")\n\(process.logTail())")
        }
    }

    struct Failed: Error, CustomStringConvertible {
        var command: String
        var answer: String
        var description: String { "agent command \(command) failed: \(answer)" }
    }

    /// Runs one command; `timeout` bounds the agent's own wait, and the answer is awaited a little longer.
    @discardableResult
    func call(_ op: String, _ fields: JSONObject = [:], timeout: Duration = .seconds(10)) async throws -> JSONValue {
        var command = fields
        command["op"] = .string(op)
        command["timeout"] = .double(Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        let line = JSONValue.object(command).jsonString
        try input.write(contentsOf: Data((line + "\n").utf8))
        guard let text = try await answers.next(timeout: timeout + .seconds(5)) else {
            throw Failed(command: line, answer: "the agent exited\n\(process.logTail())")
        }
        let answer = try JSONValue(parsing: text)
        guard answer["ok"] == true else { throw Failed(command: line, answer: text + "\n" + process.logTail()) }
        return answer
    }

    /// Connects a named client; returns its Socket.IO session id. With `reconnect` it reconnects like an
    /// application (0.2–1 s backoff), joining chat room `join` again after every connect.
    func connect(_ name: String, url: String, transport: String, reconnect: Bool = false, join: String? = nil,
                 auth: JSONValue? = nil) async throws -> String {
        var fields: JSONObject = ["name": .string(name), "url": .string(url), "transport": .string(transport), "reconnect": .bool(reconnect)]
        if let join { fields["join"] = .string(join) }
        if let auth { fields["auth"] = auth }
        let answer = try await call("connect", fields)
        #expect(answer["transport"]?.stringValue == transport, "\(name): \(answer)")
        return try #require(answer["sid"]?.stringValue, "\(name): \(answer)")
    }

    /// Emits `event` with `data` from client `name` and returns the first argument of its acknowledgement.
    func call(_ name: String, _ event: String, _ data: JSONValue) async throws -> JSONValue {
        try await call("call", ["name": .string(name), "event": .string(event), "data": data])["answer"] ?? .null
    }

    /// The arguments of the next `event` that `name` received.
    func next(_ name: String, event: String, timeout: Duration = .seconds(10)) async throws -> [JSONValue] {
        let answer = try await call("event", ["name": .string(name), "event": .string(event)], timeout: timeout)
        return answer["args"]?.arrayValue ?? []
    }

    func close() async {
        try? input.close()  // the agent disconnects its clients and exits at end of input
        if await !process.waitForExit(timeout: .seconds(10)) { await process.stop() }
    }

    func logTail() -> String { process.logTail() }
}
