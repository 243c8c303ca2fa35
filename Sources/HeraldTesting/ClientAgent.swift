import Foundation
import SocketIOProtocol

// ClientAgent: one caller at a time (a test awaits each command before the next); its answers arrive on a reader
// thread through a Mailbox, which is lock-protected.

/// The Python agent (Tests/python/cluster_agent.py): python-socketio clients and pages of the official
/// socket.io-client in headless Chromium, held open while a test acts on the servers. One JSON command per line
/// in, one JSON answer per line out; closing its input disconnects every client, quits Chromium and ends it.
public final class ClientAgent: @unchecked Sendable {
    private let process: ManagedProcess
    private let input: FileHandle
    private let answers = Mailbox<String>("client agent answer")

    /// `exitWhenIdle`: the agent ends itself after that long without a command (for an agent shared by a suite,
    /// which no teardown closes); then `isRunning` is false and the owner starts another.
    public init(python: String, directory: URL, exitWhenIdle: Duration? = nil) async throws {
        let stdin = Pipe()
        let stdout = Pipe()
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/python/cluster_agent.py").path
        let idle = exitWhenIdle.map { ["--exit-when-idle", "\($0.components.seconds)"] } ?? []
        process = try ManagedProcess(name: "agent", executable: python, arguments: [script] + idle,
                                     logURL: directory.appendingPathComponent("agent.log"),
                                     standardInput: stdin, standardOutput: stdout)
        input = stdin.fileHandleForWriting
        answers.receiveLines(from: stdout.fileHandleForReading)
        let hello = try await answers.next(timeout: .seconds(30))
        guard let hello, (try? JSONValue(parsing: hello))?["ready"] == true else {
            throw NotReady(what: "python agent", detail: "said \(hello ?? "nothing")\n\(process.logTail())")
        }
    }

    public struct Failed: Error, CustomStringConvertible {
        public var command: String
        public var answer: String
        public var description: String { "agent command \(command.prefix(600)) failed: \(answer)" }
    }

    /// Runs one command; `timeout` bounds the agent's own wait, and the answer is awaited a little longer.
    @discardableResult
    public func call(_ op: String, _ fields: JSONObject = [:], timeout: Duration = .seconds(10)) async throws -> JSONValue {
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
    /// `auth` is the CONNECT payload; `ca` the PEM file of the CAs an `https://` URL's certificate must come from.
    public func connect(_ name: String, url: String, transport: String, reconnect: Bool = false, join: String? = nil,
                        auth: JSONValue? = nil, ca: String? = nil) async throws -> String {
        var fields: JSONObject = ["name": .string(name), "url": .string(url), "transport": .string(transport), "reconnect": .bool(reconnect)]
        if let ca { fields["ca"] = .string(ca) }
        if let join { fields["join"] = .string(join) }
        if let auth { fields["auth"] = auth }
        let answer = try await call("connect", fields)
        guard answer["transport"]?.stringValue == transport, let sid = answer["sid"]?.stringValue else {
            throw Failed(command: "connect \(name) over \(transport)", answer: "\(answer)")
        }
        return sid
    }

    /// Emits `event` with `data` from client `name` and returns the first argument of its acknowledgement.
    public func call(_ name: String, _ event: String, _ data: JSONValue) async throws -> JSONValue {
        try await call("call", ["name": .string(name), "event": .string(event), "data": data])["answer"] ?? .null
    }

    /// The arguments of the next `event` that `name` received.
    public func next(_ name: String, event: String, timeout: Duration = .seconds(10)) async throws -> [JSONValue] {
        let answer = try await call("event", ["name": .string(name), "event": .string(event)], timeout: timeout)
        return answer["args"]?.arrayValue ?? []
    }

    /// Runs `script`, the body of an async JavaScript function of `args`, in the agent's Chromium page, where the
    /// official socket.io-client (`script` path of socket.io.min.js) is loaded as `io`; returns what it returns
    /// (JSON) or throws what it throws. State a later call needs goes on `window`.
    public func javaScript(_ body: String, args: JSONValue = .null, socketIOJS: String,
                           timeout: Duration = .seconds(10)) async throws -> JSONValue {
        let answer = try await call("js", ["body": .string(body), "args": args, "script": .string(socketIOJS)], timeout: timeout)
        return answer["value"] ?? .null
    }

    public func close() async {
        try? input.close()  // the agent disconnects its clients and exits at end of input
        if await !process.waitForExit(timeout: .seconds(10)) { await process.stop() }
    }

    public func logTail() -> String { process.logTail() }

    /// False once the agent has exited (its input closed, or idle past `exitWhenIdle`).
    public var isRunning: Bool { process.isRunning }
}
