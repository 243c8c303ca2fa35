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
        @Option(help: "Handshakes in progress at once while ramping (0 = unbounded).") var concurrency = 1000
        @Option(help: "Server pid, to read its RSS and CPU from /proc.") var serverPID: Int32?
        @Option(help: "Write the result as JSON to this file.") var output: String?

        func validate() throws {
            guard host.hasPrefix("127.") else { throw ValidationError("the bench only targets 127.0.0.0/8") }
        }

        var target: BenchTarget {
            BenchTarget(host: host, port: port, path: path, threads: threads, sourceAddresses: sourceAddresses,
                        concurrency: concurrency)
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

        func run() async throws {
            FileDescriptorLimit.raiseToHard()
            let result = try await BenchScenarios.idle(target: options.target, clients: clients, rate: ramp,
                                                       hold: .milliseconds(Int(hold * 1000)), probe: options.probe)
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
