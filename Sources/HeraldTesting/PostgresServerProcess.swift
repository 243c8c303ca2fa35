import Foundation
import NIOCore
import NIOPosix

/// A throwaway PostgreSQL cluster for live tests: `initdb` in a temp dir, `pg_ctl start` on a free port.
/// PostgreSQL refuses to run as root, so as root (CI) the server runs as the `postgres` OS user.
/// Locally the live tests are skipped when the binaries are missing; with `CI` set they run and fail.
public final class PostgresServerProcess: @unchecked Sendable {
    /// `HERALD_PG_BIN` (set by scripts/test.sh), else the newest /usr/lib/postgresql/*/bin, else `pg_ctl` on PATH.
    public static let binDirectory: String? = {
        let fm = FileManager.default
        if let dir = ProcessInfo.processInfo.environment["HERALD_PG_BIN"], fm.isExecutableFile(atPath: dir + "/pg_ctl") {
            return dir
        }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where fm.isExecutableFile(atPath: "/usr/lib/postgresql/\(version)/bin/pg_ctl") {
            return "/usr/lib/postgresql/\(version)/bin"
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where fm.isExecutableFile(atPath: "\(dir)/pg_ctl") && fm.isExecutableFile(atPath: "\(dir)/initdb") {
            return String(dir)
        }
        return nil
    }()

    public static var liveTestsEnabled: Bool {
        binDirectory != nil || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// The superuser `initdb` creates; trust authentication on 127.0.0.1, so no password.
    public static let user = "herald"

    public let port: Int
    /// Holds the data directory, the socket and the server log; removed by `destroy()`.
    public let directory: String
    private var running = false
    var dataDirectory: String { directory + "/data" }
    public var logFile: String { directory + "/postgres.log" }

    private init(port: Int, directory: String) {
        self.port = port
        self.directory = directory
    }

    /// `postgres://herald@127.0.0.1:PORT/database`
    public func url(database: String) -> String {
        "postgres://\(Self.user)@127.0.0.1:\(port)/\(database)"
    }

    /// initdb + start; the caller owns the cluster and should `destroy()` it.
    public static func start() async throws -> PostgresServerProcess {
        guard let bin = binDirectory else {
            throw TestFailure("PostgreSQL binaries not found (install the Debian package postgresql, or set HERALD_PG_BIN)")
        }
        let directory = try makeTemporaryDirectory()
        let server = PostgresServerProcess(port: try await freePort(), directory: directory)
        do {
            try await runAsServerUser(bin + "/initdb", [
                "-D", server.dataDirectory, "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync",
            ], log: directory + "/initdb.log")
            try await server.launch()
        } catch {
            server.destroy()
            throw error
        }
        return server
    }

    /// Starts (or restarts) the server on the same port and data; returns once it accepts connections.
    public func launch() async throws {
        guard let bin = Self.binDirectory else { throw TestFailure("PostgreSQL binaries not found") }
        // fsync off: the tests crash the server process, never the machine, and the page cache survives that.
        let options = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        try await Self.runAsServerUser(bin + "/pg_ctl", [
            "-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "-o", options, "start",
        ], log: directory + "/pg_ctl.log")
        running = true
    }

    /// Stops the server; `immediate` is a crash (no checkpoint, open connections cut), recovered from the WAL on launch.
    public func stop(immediate: Bool = true) async throws {
        guard running, let bin = Self.binDirectory else { return }
        try await Self.runAsServerUser(bin + "/pg_ctl", [
            "-D", dataDirectory, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60", "stop",
        ], log: directory + "/pg_ctl.log")
        running = false
    }

    /// Creates a database for one test, so tests sharing a cluster never see each other's rows.
    public func createDatabase(_ name: String) async throws {
        guard let bin = Self.binDirectory else { throw TestFailure("PostgreSQL binaries not found") }
        try await Self.run(bin + "/psql", [
            "-h", "127.0.0.1", "-p", String(port), "-U", Self.user, "-d", "postgres", "-v", "ON_ERROR_STOP=1",
            "-c", "CREATE DATABASE \"\(name)\"",
        ], log: directory + "/psql.log")
    }

    /// A fresh database on the cluster shared by this test process (started on first use, stopped at exit).
    public static func sharedDatabaseURL() async throws -> String {
        let server = try await SharedCluster.instance.server()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await server.createDatabase(name)
        return server.url(database: name)
    }

    /// Stops the server (synchronously, usable from deinit and atexit) and removes its directory.
    public func destroy() {
        if running, let bin = Self.binDirectory {
            _ = try? Self.spawnAndWait(Self.asServerUser(bin + "/pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"]),
                                       output: "/dev/null")
            running = false
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { destroy() }

    // MARK: Processes

    private static var isRoot: Bool { geteuid() == 0 }

    private static func makeTemporaryDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/herald-pg-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed: errno \(errno)") }
        let path = String(cString: made)
        if isRoot {
            // The server user must own its data directory (and be able to write its socket and log here).
            guard let entry = getpwnam("postgres") else {
                throw TestFailure("running as root but there is no postgres OS user (install the Debian package postgresql)")
            }
            guard chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
                throw TestFailure("chown \(path) to postgres failed: errno \(errno)")
            }
        }
        return path
    }

    /// As root, `runuser -u postgres -- command` (or `su postgres -c`); otherwise the command itself.
    static func asServerUser(_ executable: String, _ arguments: [String]) -> [String] {
        guard isRoot else { return [executable] + arguments }
        if let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            return [runuser, "-u", "postgres", "--", executable] + arguments
        }
        let command = ([executable] + arguments).map(shellQuoted).joined(separator: " ")
        return ["/bin/su", "postgres", "-s", "/bin/sh", "-c", command]
    }

    private static func runAsServerUser(_ executable: String, _ arguments: [String], log: String) async throws {
        try await run(asServerUser(executable, arguments), log: log)
    }

    private static func run(_ executable: String, _ arguments: [String], log: String) async throws {
        try await run([executable] + arguments, log: log)
    }

    private static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Runs to completion on NIO's blocking thread pool (never a concurrency thread); a non-zero exit throws
    /// with the output. posix_spawn + waitpid rather than Foundation's Process, whose exit notification was
    /// seen to miss a `runuser` that had exited (left a zombie, and the test hung).
    private static func run(_ argv: [String], log: String) async throws {
        let output = log + ".out"
        let status = try await NIOThreadPool.singleton.runIfActive { try spawnAndWait(argv, output: output) }
        guard status == 0 else {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw TestFailure("\(argv.joined(separator: " ")) exited with \(status):\n\(text.suffix(2000))")
        }
    }

    /// Spawns `argv` with stdout and stderr appended to `output`, waits, and returns its exit status.
    static func spawnAndWait(_ argv: [String], output: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        guard spawned == 0 else { throw TestFailure("cannot start \(argv[0]): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw TestFailure("waitpid \(argv[0]): errno \(errno)") }
        }
        // WIFEXITED / WEXITSTATUS by hand: the C macros are not imported.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

/// The one cluster a test process shares; torn down at process exit.
private actor SharedCluster {
    static let instance = SharedCluster()
    private var started: Task<PostgresServerProcess, any Error>?

    func server() async throws -> PostgresServerProcess {
        if let started { return try await started.value }
        let task = Task { () throws -> PostgresServerProcess in
            let server = try await PostgresServerProcess.start()
            SharedClusterExit.register(server)
            return server
        }
        started = task
        return try await task.value
    }
}

/// Stops the shared cluster when the test process exits, so no server outlives the run.
private enum SharedClusterExit {
    nonisolated(unsafe) static var server: PostgresServerProcess?

    static func register(_ server: PostgresServerProcess) {
        self.server = server
        atexit { SharedClusterExit.server?.destroy() }
    }
}
