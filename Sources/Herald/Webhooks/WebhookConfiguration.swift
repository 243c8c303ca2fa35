import Foundation

/// Webhooks (see docs/webhooks.md): signed JSON batches of cluster events POSTed to the backend.
public struct WebhookConfiguration: Sendable {
    /// Receivers, `http://host:port/path` (`HERALD_WEBHOOK_URL`, comma-separated). Default none: webhooks off.
    public var urls: [String]
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

    public init(urls: [String] = [], secret: String? = nil, clientEvents: Set<String> = [], maxQueue: Int = 10_000,
                maxBatch: Int = 100, minRetryDelay: Duration = .milliseconds(500), maxRetryDelay: Duration = .seconds(30),
                timeout: Duration = .seconds(10)) {
        self.urls = urls
        self.secret = secret
        self.clientEvents = clientEvents
        self.maxQueue = maxQueue
        self.maxBatch = maxBatch
        self.minRetryDelay = minRetryDelay
        self.maxRetryDelay = maxRetryDelay
        self.timeout = timeout
    }

    public var isEnabled: Bool { !urls.isEmpty }

    public mutating func apply(_ settings: [String: String]) throws {
        typealias SettingError = HeraldConfiguration.SettingError
        func list(_ text: String) -> [String] {
            text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        func int(_ name: String, minimum: Int = 1) throws -> Int? { try HeraldConfiguration.integer(name, in: settings, minimum: minimum) }
        if let text = settings["HERALD_WEBHOOK_URL"] {
            let urls = list(text)
            for url in urls {
                do {
                    _ = try PublishClient.Target(url)
                } catch {
                    throw SettingError(description: "HERALD_WEBHOOK_URL: \(url) is not http://host[:port][/path]")
                }
            }
            self.urls = urls
        }
        if let secret = settings["HERALD_WEBHOOK_SECRET"], !secret.isEmpty { self.secret = secret }
        if let text = settings["HERALD_WEBHOOK_EVENTS"] { clientEvents = Set(list(text)) }
        if let count = try int("HERALD_WEBHOOK_MAX_QUEUE") { maxQueue = count }
        if let count = try int("HERALD_WEBHOOK_MAX_BATCH") { maxBatch = count }
        if let ms = try int("HERALD_WEBHOOK_RETRY_MIN") { minRetryDelay = .milliseconds(ms) }
        if let ms = try int("HERALD_WEBHOOK_RETRY_MAX") { maxRetryDelay = .milliseconds(ms) }
        if let ms = try int("HERALD_WEBHOOK_TIMEOUT") { timeout = .milliseconds(ms) }
        if isEnabled, (secret ?? "").isEmpty {
            throw SettingError(description: "HERALD_WEBHOOK_URL is set but HERALD_WEBHOOK_SECRET is not: receivers could not tell herald's calls from forgeries")
        }
    }
}
