import Foundation
import Herald
import Logging
import SocketIOProtocol
import Testing

@Suite struct WebhookDispatcherTests {
    /// The scheme docs/webhooks.md gives receivers, checked against Python's hmac for the same bytes.
    @Test func signatureCoversTimestampAndBody() {
        let signature = WebhookSignature.sign(body: Array(#"{"events":[]}"#.utf8), timestamp: 1_700_000_000, secret: "key")
        #expect(signature == "sha256=7df62a1bacc5aaabea3fd97f17eb7da317e09d87f25b1933b81d619dfc0e21fb")
    }

    /// A receiver that never answers cannot grow the queue: past `maxQueue` events are dropped and counted.
    @Test func theQueueIsBoundedAndCountsWhatItDrops() {
        let configuration = WebhookConfiguration(urls: ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"], secret: "s", maxQueue: 3)
        let dispatcher = WebhookDispatcher(configuration: configuration, node: "n", logger: Logger(label: "test"))
        for index in 0..<10 { dispatcher.enqueue(["type": "test", "n": .int(index)]) }
        #expect(dispatcher.stats.queued == 6)
        #expect(dispatcher.stats.dropped == 14)
    }

    @Test func retryDelaysDoubleWithJitterUpToTheMaximum() {
        let configuration = WebhookConfiguration(urls: ["http://127.0.0.1:9/"], secret: "s", minRetryDelay: .milliseconds(100),
                                                 maxRetryDelay: .seconds(1))
        let dispatcher = WebhookDispatcher(configuration: configuration, node: "n", logger: Logger(label: "test"))
        for (failures, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (1000, 1000)] {
            let delay = dispatcher.retryDelay(after: failures)
            #expect(delay >= .milliseconds(full / 2) && delay <= .milliseconds(full), "after \(failures): \(delay)")
        }
    }

    @Test func settingsAreCheckedAndAURLNeedsASecret() throws {
        var configuration = HeraldConfiguration()
        #expect(throws: HeraldConfiguration.SettingError.self) { try configuration.apply(["HERALD_WEBHOOK_URL": "http://h:1/x"]) }
        #expect(throws: HeraldConfiguration.SettingError.self) {
            try configuration.apply(["HERALD_WEBHOOK_URL": "ftp://h/x", "HERALD_WEBHOOK_SECRET": "s"])
        }
        #expect(throws: HeraldConfiguration.SettingError.self) { try configuration.apply(["HERALD_PRESENCE_ROOMS": "a:{"]) }
        try configuration.apply(["HERALD_WEBHOOK_URL": "http://a:1/x, https://u:p@b:2", "HERALD_WEBHOOK_SECRET": "s",
                                 "HERALD_WEBHOOK_TLS_CA": "/etc/hooks-ca.pem",
                                 "HERALD_WEBHOOK_EVENTS": "chat:send,note", "HERALD_WEBHOOK_MAX_QUEUE": "5",
                                 "HERALD_PRESENCE_ROOMS": "doc:{id},lobby", "HERALD_PRESENCE_NODE_TIMEOUT": "1500"])
        #expect(configuration.webhooks.urls == ["http://a:1/x", "https://u:p@b:2"] && configuration.webhooks.caFile == "/etc/hooks-ca.pem")
        #expect(configuration.webhooks.clientEvents == ["chat:send", "note"])
        #expect(configuration.webhooks.maxQueue == 5)
        #expect(configuration.presence.rooms == ["doc:{id}", "lobby"] && configuration.presence.nodeTimeout == .milliseconds(1500))
        let defaults = WebhookConfiguration()
        #expect(defaults.maxQueue == 10_000 && defaults.maxBatch == 100 && defaults.minRetryDelay == .milliseconds(500)
            && defaults.maxRetryDelay == .seconds(30) && defaults.timeout == .seconds(10))
        let presence = PresenceConfiguration()
        #expect(presence.claims == ["name"] && presence.maxClaimBytes == 256 && presence.maxMembers == 100 && presence.nodeTimeout == .seconds(30))
        #expect(HeraldConfiguration().publishing.maxBatchMessages == 100)
    }
}
