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

    public init(python: String, directory: URL) async throws {
        let stdin = Pipe()
        let stdout = Pipe()
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/python/cluster_agent.py").path
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
    public func connect(_ name: String, url: String, transport: String, reconnect: Bool = false, join: String? = nil) async throws -> String {
        var fields: JSONObject = ["name": .string(name), "url": .string(url), "transport": .string(transport), "reconnect": .bool(reconnect)]
        if let join { fields["join"] = .string(join) }
        let answer = try await call("connect", fields)
        guard answer["transport"]?.stringValue == transport, let sid = answer["sid"]?.stringValue else {
            throw Failed(command: "connect \(name) over \(transport)", answer: "\(answer)")
        }
        return sid
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
}
