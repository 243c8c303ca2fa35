import ArgumentParser
import EngineIO
import Foundation
import Herald
import Logging
import ServiceLifecycle
import SocketIO
import UnixSignals

/// `herald serve`: every setting is declared once in `HeraldSettings`, which parses the flags itself (so flags,
/// environment variables and file keys cannot drift apart) and writes the settings part of the help.
struct Serve: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: "Run a herald node (defaults: port 3000, in-memory adapter, no external services).",
            discussion: HeraldSettings.helpText())
    }

    @Argument(parsing: .allUnrecognized, help: "Settings as --name value (listed below).") var settings: [String] = []

    func run() async throws {
        let loaded = try loadConfiguration(settings)
        let configuration = loaded.configuration
        bootstrapLogging(format: configuration.logFormat, level: configuration.logLevel)
        let logger = Logger(label: "herald")
        if !loaded.unknownVariables.isEmpty {
            logger.warning("ignoring environment variables that name no setting (see herald serve --help)",
                           metadata: ["variables": "\(loaded.unknownVariables.joined(separator: ","))"])
        }
        let node = HeraldNode(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [node], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // SIGHUP reads the TLS certificate and key files again (renewals); a bad file is logged, never fatal.
        let reloading = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) { node.reloadTLS() }
        }
        defer { reloading.cancel() }
        try await group.run()
    }
}

/// `herald config`: what `herald serve` with the same flags and environment would run with.
struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the effective configuration and where each value came from (default, file, env, flag).",
        discussion: "Takes the same settings as `herald serve`. Secrets and URL passwords are masked.")

    @Flag(help: "Print the table of every setting (as in docs/configuration.md) instead.") var markdown = false
    @Argument(parsing: .allUnrecognized, help: "Settings as --name value, as for herald serve.") var settings: [String] = []

    func run() async throws {
        if markdown {
            print(HeraldSettings.markdownTable(), terminator: "")
            return
        }
        print(try loadConfiguration(settings).report(), terminator: "")
    }
}

/// Flags, then the environment, then the configuration file, then the defaults; a bad value stops here.
func loadConfiguration(_ arguments: [String], base: HeraldConfiguration = HeraldConfiguration()) throws -> HeraldConfiguration.Loaded {
    do {
        return try HeraldConfiguration.load(arguments: arguments, environment: ProcessInfo.processInfo.environment, base: base)
    } catch {
        throw ValidationError(error.description)
    }
}

func bootstrapLogging(format: HeraldConfiguration.LogFormat, level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = HeraldLogHandler(label: label, format: format)
        handler.logLevel = level
        return handler
    }
}
