import ArgumentParser
import Foundation
import Herald
import HeraldBench
import NIOPosix
import Synchronization

extension Bench {
    struct Reconnect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Clients on node A, events published through node B; A is drained (SIGTERM) or killed and restarted: who comes back, when, and what they missed.",
            discussion: """
                Starts a redis-server and two `herald serve` nodes (this executable) with JWT auth (every client's \
                token has sub "bench", so all are in room user:bench), the publish API on node B and, with \
                --recovery, connection state recovery. The clients behave like socket.io-client 4: websocket only, \
                backoff 1 s initial, 5 s max, randomization 0.5, reconnecting after a lost transport and not after a \
                Socket.IO DISCONNECT ("io server disconnect"); with --recovery they send pid and offset.
                """)
        @Option(help: "Clients (all start on node A).") var clients = 2000
        @Option(help: "drain (SIGTERM) or kill (SIGKILL) node A.") var action = "drain"
        @Flag(help: "Connection state recovery on (the nodes' recovery window: 60 s).") var recovery = false
        @Option(help: "Where a client reconnects: next (the other node first), random, same.") var pick = "next"
        @Option(help: "Published events per second (through node B's API).") var rate: Double = 20
        @Option(help: "Node A listens here, node B on the next port; their APIs on +10 and +11.") var basePort = 3310
        @Option(help: "Redis URL; default: start a redis-server on --redis-port.") var redisURL: String?
        @Option(help: "Port of the redis-server the bench starts.") var redisPort = 6395
        @Option(help: "Event loop threads per node.") var nodeThreads = 1
        @Option(help: "Load generator event loop threads.") var threads = 2
        @Option(help: "Seconds between node A's exit and its restart (negative: no restart).") var restartDelay: Double = 0.5
        @Option(help: "Seconds of publishing before the disruption.") var before: Double = 2
        @Option(help: "Seconds of publishing after every client is back.") var after: Double = 2
        @Option(help: "Longest wait for every client to be back, seconds.") var maxWait: Double = 60
        @Option(help: "Node drain timeout in ms (HERALD_DRAIN_TIMEOUT).") var drainTimeout = 10_000
        @Option(help: "Node pre-drain delay in ms (HERALD_PRE_DRAIN_DELAY; default: the node's).") var preDrainDelay: Int?
        @Option(help: "Node drain window in ms (HERALD_DRAIN_WINDOW; default: the node's).") var drainWindow: Int?
        @Option(help: "Write the result as JSON to this file.") var output: String?
        @Option(help: "Directory for the nodes' logs.") var logs = "/tmp"
        @Option(help: "The herald executable to run the nodes with (default: this one), e.g. another branch's build.") var nodeExecutable: String?

        func run() async throws {
            FileDescriptorLimit.raiseToHard()
            let (nodeThreads, drainTimeout, recovery, basePort, logs) = (nodeThreads, drainTimeout, recovery, basePort, logs)
            let drainFlags = (preDrainDelay.map { ["--pre-drain-delay", "\($0)"] } ?? []) + (drainWindow.map { ["--drain-window", "\($0)"] } ?? [])
            guard ["drain", "kill"].contains(action) else { throw ValidationError("--action: drain or kill") }
            let executable = URL(fileURLWithPath: nodeExecutable ?? CommandLine.arguments[0]).resolvingSymlinksInPath()
            var redis: Process?
            if redisURL == nil {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["redis-server", "--port", "\(redisPort)", "--save", "", "--appendonly", "no"]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                redis = process
                print("redis-server on port \(redisPort)")
            }
            defer {
                // SIGTERM first; redis-server may refuse it (its shutdown can wait on a save), so SIGKILL after 1 s.
                if let redis {
                    redis.terminate()
                    let deadline = Date().addingTimeInterval(1)
                    while redis.isRunning && Date() < deadline { usleep(10_000) }
                    if redis.isRunning { kill(redis.processIdentifier, SIGKILL) }
                }
            }
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            if let redis {
                // A node started before its Redis listens is not ready for a while (its reconnect backoff).
                let deadline = ContinuousClock.now + .seconds(10)
                while await !BenchHTTP.accepts(BenchEndpoint(host: "127.0.0.1", port: redisPort), group: group) {
                    guard redis.isRunning, ContinuousClock.now < deadline else { throw ValidationError("redis-server did not start on port \(redisPort)") }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let redisURL = redisURL ?? "redis://127.0.0.1:\(redisPort)"
            let secret = "herald-bench-reconnect-secret-\(getpid())-0123456789abcdef", key = "bench-key-\(getpid())"
            let token = try await TokenSigner.hs256(secret: secret, claims: ["sub": "bench"], ttl: .seconds(3600))
            let nodes = (0..<2).map { BenchEndpoint(host: "127.0.0.1", port: basePort + $0) }
            let start: @Sendable (Int) async throws -> Process = { index in
                let process = Process()
                process.executableURL = executable
                process.arguments = [
                    "serve", "--host", "127.0.0.1", "--port", "\(nodes[index].port)", "--threads", "\(nodeThreads)",
                    "--redis-url", redisURL, "--jwt-secret", secret, "--api-port", "\(basePort + 10 + index)", "--api-key", key,
                    "--recovery-window", recovery ? "60000" : "0", "--drain-timeout", "\(drainTimeout)",
                    "--log-level", "warning",
                ] + drainFlags
                let log = URL(fileURLWithPath: "\(logs)/herald-reconnect-node\(index).log")
                _ = FileManager.default.createFile(atPath: log.path, contents: nil)
                let handle = try FileHandle(forWritingTo: log)
                handle.seekToEndOfFile()
                process.standardOutput = handle
                process.standardError = handle
                try process.run()
                let deadline = ContinuousClock.now + .seconds(30)
                while await BenchHTTP.status(nodes[index], path: "/ready", group: group) != 200 {
                    guard process.isRunning, ContinuousClock.now < deadline else {
                        // Not yet in `processes`: nothing else would stop it.
                        if process.isRunning { process.terminate() }
                        throw ValidationError("node \(index) did not become ready (log: \(log.path))")
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                return process
            }
            let processes = Locked<[Process]>([])
            // SIGKILL: the measurement is over, and SIGTERM would drain for seconds, holding the ports of the next run.
            defer { for process in processes.withLock({ $0 }) where process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            let first = try await start(0), second = try await start(1)
            processes.withLock { $0 = [first, second] }
            print("nodes ready: \(nodes.map(\.description).joined(separator: ", "))")
            let options = ReconnectOptions(
                clients: clients, nodes: nodes, authMembers: "\"token\":\"\(token)\"", recovery: recovery, pick: pick,
                publishAPI: BenchEndpoint(host: "127.0.0.1", port: basePort + 11), apiKey: key, room: "user:bench",
                rate: rate, before: before, after: after, maxWait: maxWait, threads: threads)
            let signal = action == "kill" ? SIGKILL : SIGTERM
            let restartDelay = self.restartDelay
            let restarted = Locked<Task<Void, Never>?>(nil)
            let result = try await BenchScenarios.reconnect(
                options: options, action: action,
                nodePIDs: { processes.withLock { $0.map { $0.isRunning ? $0.processIdentifier : nil } } },
                disrupt: {
                    let node = processes.withLock { $0[0] }
                    kill(node.processIdentifier, signal)
                    while node.isRunning { try await Task.sleep(for: .milliseconds(2)) }
                    guard restartDelay >= 0 else { return }
                    let task = Task {
                        try? await Task.sleep(for: benchDuration(restartDelay))
                        if let again = try? await start(0) { processes.withLock { $0[0] = again } }
                    }
                    restarted.withLock { $0 = task }
                },
                progress: { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) })   // unbuffered
            await restarted.withLock { $0 }?.value
            print(BenchReport.text(result))
            if let output {
                try BenchReport.json(result).write(to: URL(fileURLWithPath: output))
                print("wrote \(output)")
            }
            try? await group.shutdownGracefully()
        }
    }
}

/// A value behind a lock that closures and tasks can share (a `Mutex` cannot be captured by an escaping closure).
final class Locked<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { value.withLock { body(&$0) } }
}
