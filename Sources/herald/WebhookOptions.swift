import ArgumentParser

/// Webhooks to the backend (docs/webhooks.md).
struct WebhookOptions: ParsableArguments {
    @Option(help: "Webhook receivers, http://host:port/path, comma-separated; webhooks are off without [HERALD_WEBHOOK_URL].") var webhookURL: String?
    @Option(help: "HMAC-SHA256 key of X-Herald-Signature, required with a URL [HERALD_WEBHOOK_SECRET].") var webhookSecret: String?
    @Option(help: "Client events forwarded as client.event, comma-separated [HERALD_WEBHOOK_EVENTS].") var webhookEvents: String?
    @Option(help: "Events waiting per receiver before new ones are dropped [HERALD_WEBHOOK_MAX_QUEUE, default 10000].") var webhookMaxQueue: Int?
    @Option(help: "Events per POST [HERALD_WEBHOOK_MAX_BATCH, default 100].") var webhookMaxBatch: Int?
    @Option(help: "First retry delay in ms, doubling per failure [HERALD_WEBHOOK_RETRY_MIN, default 500].") var webhookRetryMin: Int?
    @Option(help: "Longest retry delay in ms [HERALD_WEBHOOK_RETRY_MAX, default 30000].") var webhookRetryMax: Int?
    @Option(help: "Time for a receiver to answer, ms [HERALD_WEBHOOK_TIMEOUT, default 10000].") var webhookTimeout: Int?

    var settings: [String: String?] {
        [
            "HERALD_WEBHOOK_URL": webhookURL, "HERALD_WEBHOOK_SECRET": webhookSecret, "HERALD_WEBHOOK_EVENTS": webhookEvents,
            "HERALD_WEBHOOK_MAX_QUEUE": webhookMaxQueue.map(String.init), "HERALD_WEBHOOK_MAX_BATCH": webhookMaxBatch.map(String.init),
            "HERALD_WEBHOOK_RETRY_MIN": webhookRetryMin.map(String.init), "HERALD_WEBHOOK_RETRY_MAX": webhookRetryMax.map(String.init),
            "HERALD_WEBHOOK_TIMEOUT": webhookTimeout.map(String.init),
        ]
    }
}
