import Foundation
import Synchronization

// ManagedProcess: lock-protected (its exit flag is a Mutex; the rest is set once in init).

/// A child process with its output in a log file, stopped with a bounded wait.
public final class ManagedProcess: @unchecked Sendable {
    public let name: String
    public let logURL: URL
    private let process = Process()
    private let exits = Mailbox<Int32>("exit of process")
    private let exited = ExitFlag()

    /// A class, so the termination handler can share it (a Mutex cannot be captured).
    private final class ExitFlag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    public init(name: String, executable: String, arguments: [String], logURL: URL,
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
    public var isRunning: Bool { !exited.isSet }
    public var pid: Int32 { process.processIdentifier }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    public func stop(grace: Duration = .seconds(5)) async {
        guard isRunning else { return }
        Foundation.kill(pid, SIGTERM)
        if await !waitForExit(timeout: grace) { await kill() }
    }

    /// Whether the process exited within `timeout`.
    public func waitForExit(timeout: Duration) async -> Bool {
        guard isRunning else { return true }
        _ = try? await exits.next(timeout: timeout)
        return !isRunning
    }

    /// SIGKILL (a crash, as far as the process's peers can tell), and wait for the exit.
    public func kill() async {
        guard isRunning else { return }
        Foundation.kill(pid, SIGKILL)
        _ = await waitForExit(timeout: .seconds(10))
    }

    /// The last `limit` characters of the log, for failure messages.
    public func logTail(_ limit: Int = 3000) -> String {
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return "--- \(name) (\(logURL.lastPathComponent)) ---\n" + String(text.suffix(limit))
    }
}

/// Thrown when a process never became ready; carries its log so the failure explains itself.
public struct NotReady: Error, CustomStringConvertible {
    public var what: String
    public var detail: String
    public init(what: String, detail: String) {
        self.what = what
        self.detail = detail
    }
    public var description: String { "\(what) not ready: \(detail)" }
}

/// Polls `probe` until it answers nil (ready) or `timeout` passes; a probe's non-nil answer says what is
/// still wrong. Readiness has no event to await from outside the process, so polling is the honest way.
public func waitUntilReady(_ what: String, timeout: Duration = .seconds(15), process: ManagedProcess? = nil,
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
