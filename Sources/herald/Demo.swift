import ArgumentParser
import Foundation
import Herald
import Logging
import ServiceLifecycle

/// `herald demo`: one node on embedded defaults with the demo pages and a simulated shop behind them.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a demo node: pages at /demo, a simulated shop, a chat bot (no Redis or PostgreSQL needed).")

    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Option(help: "Listen port.") var port = 3000
    @Option(help: "Milliseconds between two order status changes.") var orderInterval = 2000
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "warning"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535, got \(port)") }
        guard orderInterval >= 10 else { throw ValidationError("--order-interval must be at least 10 ms, got \(orderInterval)") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \(logLevel)") }
    }

    func run() async throws {
        // One node and no load balancer: nothing to wait for or hand clients to, so shutdown closes at once.
        var configuration = HeraldConfiguration(host: host, port: port, preDrainDelay: .zero, drainWindow: .zero)
        configuration.logLevel = Logger.Level(rawValue: logLevel)!
        configuration.logFormat = .text
        configuration.demo = DemoConfiguration(orderInterval: .milliseconds(orderInterval))
        bootstrapLogging(format: configuration.logFormat, level: configuration.logLevel)
        let logger = Logger(label: "herald")
        let node = HeraldNode(configuration: configuration, logger: logger)
        let host = self.host
        let announce = Task {
            guard let address = try? await node.listeningAddress(), let bound = address.port else { return }
            let shown = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
            let base = "http://\(shown.contains(":") ? "[\(shown)]" : shown):\(bound)"
            // Written straight to the file descriptor: print() is block-buffered when stdout is a pipe.
            FileHandle.standardOutput.write(Data("""
                Herald demo running (Ctrl-C stops it):
                  \(base)/demo                    the three pages
                  \(base)/demo/orders?user=alice  order tracking
                  \(base)/demo/chat?user=alice    chat (open ?user=bob in a second window)
                  \(base)/demo/dashboard          live dashboard
                  \(base)/herald.js               the browser client

                """.utf8))
        }
        defer { announce.cancel() }
        let group = ServiceGroup(configuration: .init(
            services: [node], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
