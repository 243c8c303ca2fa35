import ArgumentParser

@main
struct HeraldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herald",
        abstract: "Herald: a real-time push server speaking Socket.IO (Engine.IO v4, Socket.IO v5).",
        subcommands: [Serve.self, Config.self, Demo.self, Publish.self, Users.self, Presence.self, Kick.self, Token.self, Conformance.self, Bench.self, BenchServer.self],
        defaultSubcommand: Serve.self
    )
}
