import ArgumentParser
import Foundation
import Herald
import Logging
import ServiceLifecycle

/// `herald demo`: one node on embedded defaults with the demo pages and a simulated shop behind them.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a demo node: pages at /demo, a simulated shop, a chat bot (no Redis or PostgreSQL needed).")

    @Option(help: "Milliseconds between two order status changes.") var orderInterval = 2000
    @Argument(parsing: .allUnrecognized,
              help: "Any herald serve setting as --name value (herald serve --help); the demo's defaults differ: host 127.0.0.1, log level warning, text logs, no drain delays.")
    var settings: [String] = []

    func validate() throws {
        guard orderInterval >= 10, orderInterval <= 3_600_000 else {
            throw ValidationError("--order-interval must be 10…3600000 ms, got \(orderInterval)")
        }
    }

    func run() async throws {
        // One node and no load balancer: nothing to wait for or hand clients to, so shutdown closes at once.
        var base = HeraldConfiguration(host: "127.0.0.1", preDrainDelay: .zero, drainWindow: .zero)
        base.logLevel = .warning
        base.logFormat = .text
        var configuration = try loadConfiguration(settings, base: base).configuration
        configuration.demo = DemoConfiguration(orderInterval: .milliseconds(orderInterval))
        bootstrapLogging(format: configuration.logFormat, level: configuration.logLevel)
        let logger = Logger(label: "herald")
        let node = HeraldNode(configuration: configuration, logger: logger)
        let host = configuration.host
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
