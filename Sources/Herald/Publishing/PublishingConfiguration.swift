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
    /// Messages one `POST /api/publish/batch` may carry; the body stays within `maxBodySize` too. Default 100.
    public var maxBatchMessages = 100
    /// TLS on the API listener (with `clientCAFile`, clients must show a certificate from those CAs). Default: off.
    public var apiTLS = ListenerTLSConfiguration()

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
