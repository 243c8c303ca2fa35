import ArgumentParser
import Foundation
import Herald
import HeraldBench

/// `herald bench <scenario>`: the load generator. Run it against `herald bench-server` (broadcast and fanout
/// need its handlers; idle and storm work against `herald serve` too).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load-test a herald node: idle, storm, broadcast, fanout (cluster: not yet).",
        subcommands: [Idle.self, Storm.self, Broadcast.self, Fanout.self])

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

        func validate() throws {
            guard host.hasPrefix("127.") else { throw ValidationError("the bench only targets 127.0.0.0/8") }
        }

        var target: BenchTarget {
            BenchTarget(host: host, port: port, path: path, threads: threads, sourceAddresses: sourceAddresses,
                        concurrency: concurrency, firstSourceAddress: firstSourceAddress)
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
                hold: readyFile == nil ? .milliseconds(Int(hold * 1000)) : .seconds(3600), probe: options.probe,
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
            try await Task.sleep(for: .milliseconds(Int(hold * 1000)))
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

        func run() async throws {
            FileDescriptorLimit.raiseToHard()
            let result = try await BenchScenarios.fanout(target: options.target, members: members, events: events,
                                                         rate: rate, drain: .milliseconds(Int(drain * 1000)),
                                                         probe: options.probe)
            try options.report(result, BenchReport.text(result))
        }
    }
}
