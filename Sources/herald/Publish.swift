import ArgumentParser
import Foundation
import Herald
import SocketIOProtocol

/// Publishes one event through a node's publish API, for operators and scripts.
struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish one event to rooms through a herald node's publish API.",
        discussion: "Prints the API's JSON answer; exits non-zero when the API answers with an error status.")

    @Option(help: "The publish API's base URL [HERALD_API_URL; default: the api-host and api-port of the node's own settings, HERALD_API_PORT or apiPort in HERALD_CONFIG].") var url: String?
    @Option(help: "The API key [default: the node's api-key setting, HERALD_API_KEY or apiKey in HERALD_CONFIG].") var key: String?
    @Option(help: "A room to deliver to (repeat for several).") var room: [String] = []
    @Option(help: "A room to leave out (repeat for several).") var except: [String] = []
    @Option(help: "The event name.") var event: String
    @Option(help: "The event's data, as JSON (default: no data).") var data: String?
    @Option(help: "The namespace [default /].") var namespace: String?
    @Option(help: "Delivered once however often it is retried within the node's window.") var idempotencyKey: String?

    func validate() throws {
        guard !room.isEmpty else { throw ValidationError("give at least one --room") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        // The node's own settings (environment and HERALD_CONFIG) say where its API listens and with which key.
        let node = try loadConfiguration(key.map { ["--api-key", $0] } ?? []).configuration.publishing
        guard let key = key ?? node.apiKey, !key.isEmpty else {
            throw ValidationError("give --key or set HERALD_API_KEY")
        }
        let url: String
        if let given = self.url ?? environment["HERALD_API_URL"] {
            url = given
        } else if let port = node.apiPort {
            let host = ["0.0.0.0", "::", ""].contains(node.apiHost) ? "127.0.0.1" : node.apiHost
            url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        } else {
            throw ValidationError("give --url, or set HERALD_API_PORT (the node's publish API port)")
        }
        var body: JSONObject = ["rooms": .array(room.map { .string($0) }), "event": .string(event)]
        if !except.isEmpty { body["except"] = .array(except.map { .string($0) }) }
        if let namespace { body["namespace"] = .string(namespace) }
        if let data {
            do {
                body["data"] = try JSONValue(parsing: data)
            } catch {
                throw ValidationError("--data is not JSON: \(error)")
            }
        }
        let response = try await PublishClient.publish(
            url: url, key: key, body: JSONValue.object(body).jsonString, idempotencyKey: idempotencyKey)
        print(response.body)
        guard (200..<300).contains(response.status) else {
            FileHandle.standardError.write(Data("herald publish: HTTP \(response.status)\n".utf8))
            throw ExitCode(1)
        }
    }
}
