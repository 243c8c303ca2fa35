import Foundation
import NIOCore

/// Backend publishing: the HTTP publish API, the Redis envelope channel and the bridges.
public struct PublishingConfiguration: Sendable {
    /// API listen address. Default `127.0.0.1`: the API is for backends, not for the internet.
    public var apiHost: String
    /// API listen port; nil (the default) leaves the API off.
    public var apiPort: Int?
    /// The key clients present as `Authorization: Bearer <key>` or `X-API-Key`; required when the API is on.
    public var apiKey: String?
    /// Largest request body. Default 1 MiB (1 048 576 bytes).
    public var maxBodySize: Int
    /// How long an idempotency key suppresses repeats, from its first use. Default 5 minutes.
    public var idempotencyWindow: Duration
    /// Most idempotency keys remembered; the least recently used go first. Default 10 000.
    public var idempotencyCapacity: Int
    /// The Redis channel carrying publish envelopes. Default `herald:publish`.
    public var channel: String
    /// Redis bridges, from the configuration file's `bridges`. Default none.
    public var bridges: [BridgeDefinition]
    /// Messages one `POST /api/publish/batch` may carry (`HERALD_API_MAX_BATCH`); the body stays within
    /// `maxBodySize` too. Default 100.
    public var maxBatchMessages = 100

    public init(
        apiHost: String = "127.0.0.1",
        apiPort: Int? = nil,
        apiKey: String? = nil,
        maxBodySize: Int = 1 << 20,
        idempotencyWindow: Duration = .seconds(300),
        idempotencyCapacity: Int = 10_000,
        channel: String = "herald:publish",
        bridges: [BridgeDefinition] = []
    ) {
        self.apiHost = apiHost
        self.apiPort = apiPort
        self.apiKey = apiKey
        self.maxBodySize = maxBodySize
        self.idempotencyWindow = idempotencyWindow
        self.idempotencyCapacity = idempotencyCapacity
        self.channel = channel
        self.bridges = bridges
    }
}

extension PublishingConfiguration {
    /// Applies the publishing `HERALD_*` settings, reading the `HERALD_CONFIG` file for bridges.
    public mutating func apply(_ settings: [String: String]) throws {
        typealias SettingError = HeraldConfiguration.SettingError
        func int(_ name: String, minimum: Int = 0) throws -> Int? {
            try HeraldConfiguration.integer(name, in: settings, minimum: minimum)
        }
        if let host = settings["HERALD_API_HOST"] { apiHost = host }
        if let port = try int("HERALD_API_PORT") {
            guard port <= 65_535 else { throw SettingError(description: "HERALD_API_PORT must be at most 65535, got \(port)") }
            apiPort = port
        }
        if let key = settings["HERALD_API_KEY"] { apiKey = key }
        if let bytes = try int("HERALD_API_MAX_BODY", minimum: 1) { maxBodySize = bytes }
        if let count = try int("HERALD_API_MAX_BATCH", minimum: 1) { maxBatchMessages = count }
        if let ms = try int("HERALD_IDEMPOTENCY_WINDOW") { idempotencyWindow = .milliseconds(ms) }
        if let count = try int("HERALD_IDEMPOTENCY_CAPACITY", minimum: 1) { idempotencyCapacity = count }
        if let channel = settings["HERALD_PUBLISH_CHANNEL"] {
            guard !channel.isEmpty else { throw SettingError(description: "HERALD_PUBLISH_CHANNEL must not be empty") }
            self.channel = channel
        }
        if let path = settings["HERALD_CONFIG"] {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw SettingError(description: "HERALD_CONFIG: cannot read \(path): \(error.localizedDescription)")
            }
            do {
                bridges = try BridgeDefinition.parseConfigurationFile(ByteBuffer(bytes: data))
            } catch {
                throw SettingError(description: "HERALD_CONFIG \(path): \(error)")
            }
        }
        // An open publish API would let anyone push to every client.
        if apiPort != nil, (apiKey ?? "").isEmpty {
            throw SettingError(description: "HERALD_API_PORT is set but HERALD_API_KEY is not: the publish API needs a key")
        }
    }
}
