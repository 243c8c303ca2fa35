import ArgumentParser
import Foundation
import Herald
import NIOCore
import NIOHTTP1
import HeraldRedis
import NIOSSL
import SocketIOProtocol

/// Where a node's API listens and its key, for the commands that call it (`publish`, `users`, `presence`, `kick`).
struct APIOptions: ParsableArguments {
    @Option(help: "The API's base URL [HERALD_API_URL; default: the api-host and api-port of the node's own settings, HERALD_API_PORT or apiPort in HERALD_CONFIG].") var url: String?
    @Option(help: "The API key [default: the node's api-key setting, HERALD_API_KEY or apiKey in HERALD_CONFIG].") var key: String?
    @Option(help: "PEM file of the CAs an https:// API's certificate must come from [default: the system's trust roots].") var caFile: String?
    @Option(help: "PEM client certificate for an API that requires one (api-tls-client-ca), with --client-key.") var clientCert: String?
    @Option(help: "PEM key of --client-cert.") var clientKey: String?

    /// How to reach an `https://` API: the system's trust roots unless `--ca-file`, a client certificate if given
    /// (the Redis TLS settings' code, which wants both files or neither).
    func tls() throws -> NIOSSLContext {
        try RedisTLSConfiguration(caFile: caFile, certificateFile: clientCert, keyFile: clientKey).makeContext()
    }

    /// The URL and key from the flags, else from the node's own settings (environment and HERALD_CONFIG).
    func resolve() throws -> (url: String, key: String) {
        let environment = ProcessInfo.processInfo.environment
        let node = try loadConfiguration(key.map { ["--api-key", $0] } ?? []).configuration.publishing
        guard let key = key ?? node.apiKey, !key.isEmpty else {
            throw ValidationError("give --key or set HERALD_API_KEY")
        }
        if let given = self.url ?? environment["HERALD_API_URL"] { return (given, key) }
        guard let port = node.apiPort else { throw ValidationError("give --url, or set HERALD_API_PORT (the node's API port)") }
        let host = ["0.0.0.0", "::", ""].contains(node.apiHost) ? "127.0.0.1" : node.apiHost
        let scheme = node.apiTLS.isEnabled ? "https" : "http"
        return ("\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)", key)
    }

    /// One API call: prints the JSON answer, exits non-zero on an error status.
    func call(_ command: String, _ method: HTTPMethod, _ path: String, body: String? = nil) async throws {
        let (url, key) = try resolve()
        let response = try await PublishClient.send(method, url: url, path: path, headers: [("Authorization", "Bearer \(key)")],
                                                    body: body.map { ByteBuffer(string: $0) }, tls: url.hasPrefix("https://") ? try tls() : nil)
        print(response.body)
        guard (200..<300).contains(response.status) else {
            FileHandle.standardError.write(Data("herald \(command): HTTP \(response.status)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// A path segment percent-encoded (a sub or a room may hold `/`, `?`, `#`, `%`).
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~:@"))) ?? text
    }
}

/// `herald users [SUB]`: the cluster's users (stats) or one user's connections and rooms.
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the cluster's connections and users (GET /api/stats), or one user (GET /api/users/SUB).")
    @OptionGroup var api: APIOptions
    @Argument(help: "A user's sub.") var sub: String?

    func run() async throws {
        if let sub {
            try await api.call("users", .GET, "/api/users/" + APIOptions.segment(sub))
        } else {
            try await api.call("users", .GET, "/api/stats")
        }
    }
}

/// `herald presence ROOM`.
struct Presence: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show who is in a presence room (GET /api/rooms/ROOM/presence).")
    @OptionGroup var api: APIOptions
    @Argument(help: "The room.") var room: String

    func run() async throws {
        try await api.call("presence", .GET, "/api/rooms/" + APIOptions.segment(room) + "/presence")
    }
}

/// `herald kick SUB`.
struct Kick: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Disconnect every connection of a user on the cluster (POST /api/users/SUB/disconnect).",
        discussion: "Each connection gets herald:disconnect {reason} and a Socket.IO DISCONNECT, after which clients do not reconnect by themselves.")
    @OptionGroup var api: APIOptions
    @Argument(help: "The user's sub.") var sub: String
    @Option(help: "The reason the client is shown.") var reason: String?

    func run() async throws {
        let body = reason.map { JSONValue.object(["reason": .string($0)]).jsonString } ?? "{}"
        try await api.call("kick", .POST, "/api/users/" + APIOptions.segment(sub) + "/disconnect", body: body)
    }
}
