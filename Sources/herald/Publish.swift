import ArgumentParser
import Foundation
import Herald
import SocketIOProtocol

/// Publishes one event through a node's publish API, for operators and scripts.
struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish one event to rooms through a herald node's publish API.",
        discussion: "Prints the API's JSON answer; exits non-zero when the API answers with an error status.")

    @Option(help: "The publish API's base URL [HERALD_API_URL, default http://127.0.0.1:$HERALD_API_PORT].") var url: String?
    @Option(help: "The API key [HERALD_API_KEY].") var key: String?
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
        guard let key = key ?? environment["HERALD_API_KEY"], !key.isEmpty else {
            throw ValidationError("give --key or set HERALD_API_KEY")
        }
        let url = url ?? environment["HERALD_API_URL"] ?? "http://127.0.0.1:\(environment["HERALD_API_PORT"] ?? "3001")"
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

/// The publishing flags of `herald serve`, mapped onto the same HERALD_* names as the environment.
struct PublishingOptions: ParsableArguments {
    @Option(help: "Publish API listen address [HERALD_API_HOST, default 127.0.0.1].") var apiHost: String?
    @Option(help: "Publish API port; the API is off without it [HERALD_API_PORT].") var apiPort: Int?
    @Option(help: "Publish API key, required with the API [HERALD_API_KEY].") var apiKey: String?
    @Option(help: "Largest publish request body in bytes [HERALD_API_MAX_BODY, default 1048576].") var apiMaxBody: Int?
    @Option(help: "Idempotency window in ms [HERALD_IDEMPOTENCY_WINDOW, default 300000].") var idempotencyWindow: Int?
    @Option(help: "Messages one POST /api/publish/batch may carry [HERALD_API_MAX_BATCH, default 100].") var apiMaxBatch: Int?
    @Option(help: "Idempotency keys remembered [HERALD_IDEMPOTENCY_CAPACITY, default 10000].") var idempotencyCapacity: Int?
    @Option(help: "Redis channel for publish envelopes [HERALD_PUBLISH_CHANNEL, default herald:publish].") var publishChannel: String?
    @Option(help: "Configuration file (JSON) with Redis bridges [HERALD_CONFIG].") var config: String?

    var settings: [String: String?] {
        [
            "HERALD_API_HOST": apiHost, "HERALD_API_PORT": apiPort.map(String.init), "HERALD_API_KEY": apiKey,
            "HERALD_API_MAX_BODY": apiMaxBody.map(String.init), "HERALD_IDEMPOTENCY_WINDOW": idempotencyWindow.map(String.init),
            "HERALD_IDEMPOTENCY_CAPACITY": idempotencyCapacity.map(String.init), "HERALD_PUBLISH_CHANNEL": publishChannel,
            "HERALD_CONFIG": config, "HERALD_API_MAX_BATCH": apiMaxBatch.map(String.init),
        ]
    }
}
