import ArgumentParser
import Herald
import Logging
import NIOCore
import NIOPosix
import SocketIO

/// The server half of `herald bench`: a plain SocketIOServer with the shootout's handlers, so the numbers
/// measure herald's core rather than the gateway's options (auth, publishing) that `serve` layers on.
struct BenchServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-server",
        abstract: "Serve the benchmark protocol for `herald bench` (broadcast, echo, fanout).",
        discussion: """
            CONNECT auth {"room": R} joins room R. Event `broadcast` (payload P, with ack): io.emit("broadcast", P), \
            then the ack answers P to the sender. Event `echo`: acks its arguments. Event `fanout` (payload P): \
            io.to("fanout").emit("tick", P).
            """)

    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Option(help: "Listen port.") var port = 3300
    @Option(help: "Event loop threads (default: cores).") var threads: Int?
    @Option(help: "Ping interval in ms.") var pingInterval = 25_000

    func run() async throws {
        bootstrapLogging(format: .text, level: .warning)
        FileDescriptorLimit.raiseToHard()
        var configuration = SocketIOConfiguration()
        configuration.engine.pingInterval = .milliseconds(pingInterval)
        let io = SocketIOServer(configuration: configuration, logger: Logger(label: "herald.bench-server"))
        Self.install(on: io)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads ?? System.coreCount)
        let channel = try await io.bind(host: host, port: port, group: group)
        print("bench-server listening on \(host):\(port)")
        try await channel.closeFuture.get()
    }

    /// Kept in step with the copy in Tests/HeraldBenchTests (tests cannot import an executable).
    static func install(on io: SocketIOServer) {
        io.onConnection { socket in
            if let room = socket.handshake.auth["room"]?.stringValue { socket.join(room) }
            socket.on("broadcast") { event in
                io.emit("broadcast", event[0] ?? .null)
                event.ack(event.args)
            }
            socket.on("echo") { event in event.ack(event.args) }
            socket.on("fanout") { event in io.to("fanout").emit("tick", event[0] ?? .null) }
        }
    }
}
