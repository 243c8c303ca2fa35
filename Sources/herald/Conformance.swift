import ArgumentParser
import Herald
import Logging
import NIOCore
import NIOPosix

/// Runs the server the official protocol test suites expect (they connect to localhost:3000).
struct Conformance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve what the Engine.IO v4 or Socket.IO v5 protocol test suite expects.")

    enum Suite: String, ExpressibleByArgument, CaseIterable {
        case engineIO = "engine.io"
        case socketIO = "socket.io"
    }

    @Argument(help: "engine.io (an echo server on /engine.io/) or socket.io (namespaces / and /custom on /socket.io/).")
    var suite: Suite
    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Option(help: "Listen port.") var port = 3000

    func run() async throws {
        bootstrapLogging(format: .text, level: .info)
        let logger = Logger(label: "herald.conformance")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let channel = switch suite {
        case .engineIO:
            try await ConformanceServers.bind(ConformanceServers.engineIOEcho(logger: logger), host: host, port: port, group: group)
        case .socketIO:
            try await ConformanceServers.socketIO(logger: logger).bind(host: host, port: port, group: group)
        }
        logger.info("serving the \(suite.rawValue) test suite's server on \(host):\(port)")
        try await channel.closeFuture.get()
    }
}
