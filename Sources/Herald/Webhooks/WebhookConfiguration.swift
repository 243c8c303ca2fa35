import Foundation

/// Webhooks (see docs/webhooks.md): signed JSON batches of cluster events POSTed to the backend.
public struct WebhookConfiguration: Sendable {
    /// Receivers, `http://host:port/path` or `https://…`; `user:password@` before the host is sent as
    /// `Authorization: Basic` (`HERALD_WEBHOOK_URL`, comma-separated). Default none: webhooks off.
    public var urls: [String]
    /// PEM file of the CAs that `https://` receivers' certificates must chain to (`HERALD_WEBHOOK_TLS_CA`). Default
    /// nil: the system's roots.
    public var caFile: String?
    /// Key of the `X-Herald-Signature` HMAC-SHA256 (`HERALD_WEBHOOK_SECRET`); required with `urls`.
    public var secret: String?
    /// Client events forwarded as `client.event` (`HERALD_WEBHOOK_EVENTS`, comma-separated, e.g. `chat:send`). Default none.
    public var clientEvents: Set<String>
    /// Events waiting per receiver; beyond it new events are dropped and counted (`HERALD_WEBHOOK_MAX_QUEUE`). Default 10 000.
    public var maxQueue: Int
    /// Events per POST (`HERALD_WEBHOOK_MAX_BATCH`). Default 100.
    public var maxBatch: Int
    /// First retry delay; it doubles per failure up to `maxRetryDelay`, each drawn between half and all of it
    /// (`HERALD_WEBHOOK_RETRY_MIN`, ms). Default 500 ms.
    public var minRetryDelay: Duration
    /// Longest retry delay (`HERALD_WEBHOOK_RETRY_MAX`, ms). Default 30 s.
    public var maxRetryDelay: Duration
    /// Time for a receiver to answer one POST (`HERALD_WEBHOOK_TIMEOUT`, ms). Default 10 s.
    public var timeout: Duration

    public init(urls: [String] = [], caFile: String? = nil, secret: String? = nil, clientEvents: Set<String> = [], maxQueue: Int = 10_000,
                maxBatch: Int = 100, minRetryDelay: Duration = .milliseconds(500), maxRetryDelay: Duration = .seconds(30),
                timeout: Duration = .seconds(10)) {
        self.urls = urls
        self.caFile = caFile
        self.secret = secret
        self.clientEvents = clientEvents
        self.maxQueue = maxQueue
        self.maxBatch = maxBatch
        self.minRetryDelay = minRetryDelay
        self.maxRetryDelay = maxRetryDelay
        self.timeout = timeout
    }

    public var isEnabled: Bool { !urls.isEmpty }
}
