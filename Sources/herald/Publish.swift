import ArgumentParser
import Foundation
import Herald
import SocketIOProtocol

/// Publishes one event through a node's publish API, for operators and scripts.
struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish one event to rooms through a herald node's publish API.",
        discussion: "Prints the API's JSON answer; exits non-zero when the API answers with an error status.")

    @OptionGroup var api: APIOptions
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
        let (url, key) = try api.resolve()
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
            url: url, key: key, body: JSONValue.object(body).jsonString, idempotencyKey: idempotencyKey, tls: url.hasPrefix("https://") ? try api.tls() : nil)
        print(response.body)
        guard (200..<300).contains(response.status) else {
            FileHandle.standardError.write(Data("herald publish: HTTP \(response.status)\n".utf8))
            throw ExitCode(1)
        }
    }
}
