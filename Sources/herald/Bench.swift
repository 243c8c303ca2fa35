import ArgumentParser
import Foundation
import Herald
import HeraldBench

/// `herald bench <scenario>`: the load generator. Run it against `herald bench-server` (broadcast and fanout
/// need its handlers; idle and storm work against `herald serve` too).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load-test a herald node: idle, storm, broadcast, fanout, soak; several nodes behind Redis: cluster, reconnect.",
        subcommands: [Idle.self, Storm.self, Broadcast.self, Fanout.self, Soak.self, Reconnect.self, Cluster.self])

    struct Options: ParsableArguments {
        @Option(help: "Server address (loopback only: 127.0.0.0/8).") var host = "127.0.0.1"
        @Option(help: "Server port.") var port = 3300
        @Option(help: "Socket.IO path.") var path = "/socket.io/"
        @Option(help: "Load generator event loop threads.") var threads = 2
        @Option(help: "Source addresses 127.0.0.1…N to bind (each gives ~28k ports).") var sourceAddresses = 1
        @Option(help: .hidden) var firstSourceAddress = 1
        @Option(help: "Handshakes in progress at once while ramping (0 = unbounded).") var concurrency = 1000
        @Option(help: "Server pid, to read its RSS and CPU from /proc.") var serverPID: Int32?
        @Option(help: "Write the result as JSON to this file.") var output: String?
        @Option(help: "Several servers (cluster nodes), comma-separated: ws://127.0.0.1:3301,ws://127.0.0.1:3302 (instead of --host/--port).") var servers: String?

        var endpoints: [BenchEndpoint] {
            (servers ?? "").split(separator: ",").compactMap { BenchEndpoint(url: $0.trimmingCharacters(in: .whitespaces)) }
        }

        func validate() throws {
            guard host.hasPrefix("127.") else { throw ValidationError("the bench only targets 127.0.0.0/8") }
            if let servers {
                let parsed = endpoints
                guard parsed.count == servers.split(separator: ",").count, !parsed.isEmpty else {
                    throw ValidationError("--servers: expected ws://HOST:PORT,… (got \(servers))")
                }
                guard parsed.allSatisfy({ $0.host.hasPrefix("127.") }) else { throw ValidationError("the bench only targets 127.0.0.0/8") }
            }
        }

        var target: BenchTarget {
            var target = BenchTarget(host: host, port: port, path: path, threads: threads, sourceAddresses: sourceAddresses,
                                     concurrency: concurrency, firstSourceAddress: firstSourceAddress)
            target.servers = endpoints
            return target
        }
        var probe: ServerProbe { ServerProbe(pid: serverPID) }

        func report<T: Encodable>(_ result: T, _ text: String) throws {
            print(text)
            if let output {
                try BenchReport.json(result).write(to: URL(fileURLWithPath: output))
                print("wrote \(output)")
            }
        }
    }

    struct Idle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "N idle clients: server RSS per connection, ramp-up rate.")
        @OptionGroup var options: Options
        @Option(help: "Clients.") var clients = 1000
        @Option(help: "Connections started per second (0 = as fast as --concurrency allows).") var ramp: Double = 0
        @Option(help: "Seconds to hold the clients before reading RSS.") var hold: Double = 2
        @Option(help: "Bench processes to spread the clients over (each has its own file-descriptor limit).") var processes = 1
        /// Worker mode: write the partial result here once every client is in, then hold until killed.
        @Option(help: .hidden) var readyFile: String?

        func run() async throws {
            FileDescriptorLimit.raiseToHard()
            if processes > 1 { return try await runSpread() }
            let readyFile = self.readyFile
            let result = try await BenchScenarios.idle(
                target: options.target, clients: clients, rate: ramp,
                hold: readyFile == nil ? benchDuration(hold) : .seconds(3600), probe: options.probe,
                afterRamp: { partial in
                    guard let readyFile else { return }
                    // Written then renamed, so the parent never reads half a file.
                    try BenchReport.json(partial).write(to: URL(fileURLWithPath: readyFile + ".tmp"))
                    _ = rename(readyFile + ".tmp", readyFile)
                })
            try options.report(result, BenchReport.text(result))
        }

        /// Starts `processes` workers at once on disjoint source addresses, reads the server's RSS when all
        /// are in, then stops them and merges their results.
        private func runSpread() async throws {
            let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-bench-\(getpid())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let perProcessSources = max(1, options.sourceAddresses / processes)
            let probe = options.probe
            let before = probe.pid.flatMap(ServerProcess.rssKiB(pid:))
            let serverCPUStart = probe.pid.flatMap(ServerProcess.cpuSeconds(pid:))
            let clock = ContinuousClock()
            let start = clock.now
            var workers: [(Process, String)] = []
            for index in 0..<processes {
                let share = clients / processes + (index < clients % processes ? 1 : 0)
                let ready = directory.appendingPathComponent("\(index).json").path
                let process = Process()
                process.executableURL = executable
                process.arguments = [
                    "bench", "idle", "--host", options.host, "--port", "\(options.port)", "--path", options.path,
                    "--threads", "\(options.threads)", "--source-addresses", "\(perProcessSources)",
                    "--first-source-address", "\(1 + index * perProcessSources)",
                    "--concurrency", "\(max(1, options.concurrency / processes))", "--clients", "\(share)",
                    "--ramp", "\(ramp / Double(processes))", "--ready-file", ready,
                ]
                process.standardOutput = FileHandle.nullDevice
                try process.run()
                workers.append((process, ready))
            }
            defer { for (process, _) in workers where process.isRunning { process.terminate() } }
            let deadline = clock.now + .seconds(300)
            while !workers.allSatisfy({ FileManager.default.fileExists(atPath: $0.1) }) {
                guard clock.now < deadline, workers.allSatisfy({ $0.0.isRunning }) else {
                    throw ValidationError("a bench worker exited or timed out before its clients were in")
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            let rampSeconds = (clock.now - start) / .seconds(1)
            var serverCPU: CPUShare?
            if let startCPU = serverCPUStart, let endCPU = probe.pid.flatMap(ServerProcess.cpuSeconds(pid:)) {
                serverCPU = CPUShare(cpuSeconds: endCPU - startCPU, wallSeconds: rampSeconds)
            }
            try await Task.sleep(for: benchDuration(hold))
            let after = probe.pid.flatMap(ServerProcess.rssKiB(pid:))
            let parts = try workers.map { try JSONDecoder().decode(IdleResult.self, from: Data(contentsOf: URL(fileURLWithPath: $0.1))) }
            for (process, _) in workers {
                process.terminate()
                process.waitUntilExit()
            }
            let result = BenchScenarios.merge(parts, rampSeconds: rampSeconds, hold: (before, after), serverCPU: serverCPU)
            try options.report(result, BenchReport.text(result))
        }
    }

    struct Storm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "N clients connect at once: handshakes/s, time until all are in.")
        @OptionGroup var options: Options
        @Option(help: "Clients.") var clients = 1000

        func run() async throws {
            FileDescriptorLimit.raiseToHard()
            let result = try await BenchScenarios.storm(target: options.target, clients: clients, probe: options.probe)
            try options.report(result, BenchReport.text(result))
        }
    }

    struct Soak: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cycles of connect, join, echo with ack, leave over websocket, polling, upgrade, TCP reset and ping timeout: RSS and leftovers.",
            discussion: """
                Against `herald bench-server --metrics` (give it a short --ping-interval/--ping-timeout, which the \
                ping-timeout cycles wait out). After the warm-up and after the run, waits until the node's gauges on \
                --metrics-url (sessions, sockets, rooms, heartbeat timer entries, Redis room subscriptions) are zero, \
                then reads its RSS (--server-pid). Exits 1 when a cycle failed or a gauge stayed above zero.
                """)
        @OptionGroup var options: Options
        @Option(help: "Measured cycles.") var cycles = 10_000
        @Option(help: "Warm-up cycles before the baseline RSS.") var warmup = 2_000
        @Option(help: "Cycles in progress at once.") var cycleConcurrency = 32
        @Option(help: "Comma-separated modes (websocket, polling, upgrade, reset, ping-timeout), taken in turn.")
        var modes = SoakMode.allCases.map(\.rawValue).joined(separator: ",")
        @Option(help: "The node's Prometheus page (default http://HOST:PORT/metrics).") var metricsURL: String?
        @Option(help: "Seconds a cycle may take before it is abandoned as failed.") var cycleTimeout: Double = 10
        @Option(help: "Seconds to wait for the gauges to return to zero.") var settleTimeout: Double = 30

        func run() async throws {
            FileDescriptorLimit.raiseToHard()
            let parsed = modes.split(separator: ",").map { SoakMode(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else { throw ValidationError("--modes: unknown mode in \(modes)") }
            let url = metricsURL ?? "http://\(options.host):\(options.port)/metrics"
            guard let endpoint = BenchEndpoint(url: url) else { throw ValidationError("--metrics-url: expected http://HOST:PORT/PATH") }
            let afterScheme = url.range(of: "://").map { url[$0.upperBound...] } ?? Substring(url)
            let path = afterScheme.firstIndex(of: "/").map { String(afterScheme[$0...]) } ?? "/metrics"
            let soakOptions = SoakOptions(
                cycles: cycles, warmup: warmup, concurrency: cycleConcurrency, modes: parsed.compactMap { $0 },
                metrics: (endpoint, path), cycleTimeout: benchDuration(cycleTimeout),
                settleTimeout: benchDuration(settleTimeout))
            let result = try await BenchScenarios.soak(target: options.target, options: soakOptions, probe: options.probe) { print($0) }
            try options.report(result, BenchReport.text(result))
            if !result.leftovers.isEmpty || result.failed > 0 { throw ExitCode(1) }
        }
    }

    struct Broadcast: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "websocket-shootout broadcast: round trip per client step.")
        @OptionGroup var options: Options
        @Option(help: "Clients added per step.") var step = 1000
        @Option(help: "Largest client count.") var maxClients = 10_000
        @Option(help: "Broadcasts per step.") var broadcasts = 200
        @Option(help: "Broadcasts in flight.") var inFlight = 4
        @Option(help: "Padding bytes per broadcast.") var padding = 200
        @Option(help: "Stop after the step whose p95 round trip passes this (ms).") var p95Limit: Double = 250

        func run() async throws {
            FileDescriptorLimit.raiseToHard()
            let result = try await BenchScenarios.broadcast(
                target: options.target, step: step, maxClients: maxClients, broadcasts: broadcasts,
                inFlight: inFlight, padding: padding, p95Limit: p95Limit, probe: options.probe)
            try options.report(result, BenchReport.text(result))
        }
    }

    struct Fanout: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sustained events to a room: deliveries/s, latency to the last member.")
        @OptionGroup var options: Options
        @Option(help: "Room members.") var members = 1000
        @Option(help: "Events to publish.") var events = 2000
        @Option(help: "Events per second (0 = as fast as the publisher writes).") var rate: Double = 200
        @Option(help: "Seconds to wait after the last send for deliveries still on their way.") var drain: Double = 30
        @Option(help: "With --servers: index of the node the members connect to.") var memberNode = 0
        @Option(help: "With --servers: index of the node the publisher connects to (another node: latency across the cluster).") var publisherNode = 0

        func run() async throws {
            FileDescriptorLimit.raiseToHard()
            let result = try await BenchScenarios.fanout(target: options.target, members: members, events: events,
                                                         rate: rate, drain: benchDuration(drain),
                                                         probe: options.probe, memberNode: memberNode, publisherNode: publisherNode)
            try options.report(result, BenchReport.text(result))
        }
    }
}

extension Bench {
    /// `cluster`: clients spread round robin over several bench servers joined by Redis, broadcasts to all.
    struct Cluster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Broadcasts to every client of several nodes behind Redis: latency to the last client on every node.",
            discussion: """
                Needs --servers (the nodes, `herald bench-server --redis-url …` each). Connection i goes to node \
                i % nodes; one more client per node publishes (from the first node, or with --rotate from each in \
                turn). With --processes P the clients are spread over P bench processes (each has its own \
                file-descriptor limit); this process then only publishes and merges. bench/cluster.sh starts it all.
                """)
        @OptionGroup var options: Options
        @Option(name: .customLong("server-pids"), help: "Server pids, comma-separated in --servers order, to read their CPU and RSS.") var serverPIDs: String?
        @Option(help: "Receiving clients, spread round robin over the nodes.") var clients = 3000
        @Option(help: "Broadcasts to send.") var broadcasts = 20
        @Option(help: "Broadcasts per second (0 = all at once).") var rate: Double = 2
        @Flag(help: "Publish from each node in turn (default: all from the first node).") var rotate = false
        @Option(help: "Padding bytes per broadcast.") var padding = 200
        @Option(help: "Connections started per second, in all (0 = as fast as --concurrency allows).") var ramp: Double = 0
        @Option(help: "Seconds to wait after the last send for deliveries still on their way.") var drain: Double = 30
        @Option(help: "Bench processes to spread the clients over.") var processes = 1
        // Worker mode (started by the parent with --processes).
        @Option(help: .hidden) var firstClient = 0
        @Option(help: .hidden) var readyFile: String?
        @Option(help: .hidden) var goFile: String?
        @Option(help: .hidden) var resultFile: String?

        func validate() throws {
            guard options.servers != nil else { throw ValidationError("cluster needs --servers ws://127.0.0.1:PORT,…") }
            guard processes >= 1, clients >= 0, broadcasts >= 1 else { throw ValidationError("--processes ≥ 1, --broadcasts ≥ 1") }
        }

        var probes: [ServerProbe] {
            (serverPIDs ?? "").split(separator: ",").map { ServerProbe(pid: Int32($0.trimmingCharacters(in: .whitespaces))) }
        }

        func run() async throws {
            FileDescriptorLimit.raiseToHard()
            if let resultFile { return try await runWorker(resultFile: resultFile) }
            let result: ClusterResult
            if processes > 1 {
                result = try await runSpread()
            } else {
                result = try await BenchScenarios.cluster(
                    target: options.target, clients: clients, broadcasts: broadcasts, rate: rate, rotate: rotate,
                    padding: padding, rampRate: ramp, drain: benchDuration(drain), probes: probes)
            }
            try options.report(result, BenchReport.text(result))
        }

        /// Ramps this worker's clients, says so in the ready file, counts from the go file on, and writes its part.
        private func runWorker(resultFile: String) async throws {
            let receivers = try ClusterReceivers(target: options.target, clients: firstClient..<(firstClient + clients))
            let rampSeconds = await receivers.ramp(rate: ramp)
            try await receivers.prepare(broadcasts: broadcasts)
            if let readyFile { try Self.writeAtomically("\(receivers.connected) \(receivers.failed)", to: readyFile) }
            let clock = ContinuousClock()
            while let goFile, !FileManager.default.fileExists(atPath: goFile) {
                guard getppid() != 1 else { return await receivers.shutdown() }   // the parent is gone
                try await Task.sleep(for: .milliseconds(1))
            }
            let started = clock.now
            let ownStart = ProcessCPU.now()
            let sending = rate > 0 ? Double(broadcasts) / rate : 0
            let drained = try await receivers.waitForDeliveries(
                broadcasts: broadcasts, deadline: started + benchDuration(sending + drain))
            let benchCPU = CPUShare(cpuSeconds: ProcessCPU.now().seconds - ownStart.seconds, wallSeconds: (clock.now - started) / .seconds(1))
            let part = try await receivers.tally(broadcasts: broadcasts, rampSeconds: rampSeconds, benchCPU: benchCPU, drainTimedOut: !drained)
            let data = try BenchReport.json(part)
            try data.write(to: URL(fileURLWithPath: resultFile + ".tmp"))
            _ = rename(resultFile + ".tmp", resultFile)
            await receivers.shutdown()
        }

        static func writeAtomically(_ text: String, to path: String) throws {
            try text.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
            _ = rename(path + ".tmp", path)
        }

        /// Starts `processes` workers at once (disjoint client ranges and source addresses), publishes once every
        /// worker has its clients in, and merges their parts.
        private func runSpread() async throws -> ClusterResult {
            let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-bench-cluster-\(getpid())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let perProcessSources = max(1, options.sourceAddresses / processes)
            let goFile = directory.appendingPathComponent("go").path
            let clock = ContinuousClock()
            let start = clock.now
            var workers: [(process: Process, ready: String, result: String)] = []
            defer { for worker in workers where worker.process.isRunning { worker.process.terminate() } }
            var first = 0
            for index in 0..<processes {
                let share = clients / processes + (index < clients % processes ? 1 : 0)
                let ready = directory.appendingPathComponent("\(index).ready").path
                let result = directory.appendingPathComponent("\(index).json").path
                let process = Process()
                process.executableURL = executable
                var arguments = [
                    "bench", "cluster", "--servers", options.servers ?? "", "--path", options.path,
                    "--threads", "\(options.threads)", "--concurrency", "\(max(1, options.concurrency / processes))",
                    "--clients", "\(share)", "--first-client", "\(first)", "--broadcasts", "\(broadcasts)",
                    "--rate", "\(rate)", "--drain", "\(drain)", "--ramp", "\(ramp / Double(processes))",
                    "--ready-file", ready, "--go-file", goFile, "--result-file", result,
                ]
                if options.sourceAddresses > 1 || options.firstSourceAddress > 1 {
                    arguments += ["--source-addresses", "\(perProcessSources)",
                                  "--first-source-address", "\(options.firstSourceAddress + index * perProcessSources)"]
                }
                process.arguments = arguments
                process.standardOutput = FileHandle.nullDevice
                try process.run()
                workers.append((process, ready, result))
                first += share
            }
            let started = workers
            func waitFor(_ path: KeyPath<(process: Process, ready: String, result: String), String>, until deadline: ContinuousClock.Instant, _ what: String) async throws {
                let workers = started
                while !workers.allSatisfy({ FileManager.default.fileExists(atPath: $0[keyPath: path]) }) {
                    guard clock.now < deadline else { throw ValidationError("bench workers timed out \(what)") }
                    guard workers.allSatisfy({ $0.process.isRunning || FileManager.default.fileExists(atPath: $0[keyPath: path]) }) else {
                        throw ValidationError("a bench worker exited \(what)")
                    }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            try await waitFor(\.ready, until: clock.now + .seconds(600), "before its clients were in")
            let rampSeconds = (clock.now - start) / .seconds(1)
            let ready = workers.map { (try? String(contentsOfFile: $0.ready, encoding: .utf8)) ?? "" }
            let connected = ready.compactMap { Int($0.split(separator: " ").first ?? "") }.reduce(0, +)
            print("\(connected) of \(clients) clients in after \(String(format: "%.1f", rampSeconds)) s over \(processes) processes; publishing")

            let publishers = try await ClusterPublishers(target: options.target)
            let servers = ClusterServerWindow(probes: probes)
            let ownStart = ProcessCPU.now()
            let sendStart = clock.now
            let firstSend = benchClockMicros()
            try Self.writeAtomically("go", to: goFile)
            try await publishers.publish(broadcasts: broadcasts, rate: rate, rotate: rotate, padding: padding)
            try await waitFor(\.result, until: clock.now + benchDuration(drain + 120), "before writing its result")
            let publisherCPU = CPUShare(cpuSeconds: ProcessCPU.now().seconds - ownStart.seconds, wallSeconds: (clock.now - sendStart) / .seconds(1))
            let serverStats = servers.finish()
            let parts = try workers.map { try JSONDecoder().decode(ClusterPart.self, from: Data(contentsOf: URL(fileURLWithPath: $0.result))) }
            let roundTrips = try await publishers.roundTrips()
            await publishers.shutdown()
            for worker in workers { worker.process.waitUntilExit() }
            return BenchScenarios.mergeCluster(
                parts, servers: options.target.endpoints, broadcasts: broadcasts, rate: rate, rotate: rotate, padding: padding,
                rampSeconds: rampSeconds, firstSendMicros: firstSend, roundTrips: roundTrips,
                publisherCPU: publisherCPU, serverStats: serverStats)
        }
    }
}
