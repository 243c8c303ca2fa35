import CoreMetrics
import Synchronization

/// Cumulative counts kept elsewhere (auth, publishing), turned into Prometheus counters once per tick.
extension HeraldMetrics {
    /// Brings the counter `label{dimensions}` up to `total`, creating it on first sight.
    func count(_ label: String, _ dimensions: [(String, String)] = [], total: Int) {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        let (counter, delta) = gatewayCounters.withLock { counters -> (CoreMetrics.Counter, Int) in
            let entry = counters[key] ?? (CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory), 0)
            counters[key] = (entry.counter, max(total, entry.counted))
            return (entry.counter, max(0, total - entry.counted))
        }
        if delta > 0 { counter.increment(by: delta) }
    }

    func update(auth: AuthStats) {
        count("herald_auth_connections_total", [("result", "accepted")], total: auth.accepted)
        for (code, n) in auth.refused { count("herald_auth_connections_total", [("result", code.rawValue)], total: n) }
        count("herald_auth_subscriptions_total", [("result", "ok")], total: auth.subscribed)
        for (code, n) in auth.subscribeRefused { count("herald_auth_subscriptions_total", [("result", code.rawValue)], total: n) }
        count("herald_auth_refreshes_total", [("result", "ok")], total: auth.refreshed)
        count("herald_auth_refreshes_total", [("result", "refused")], total: auth.refreshRefused)
        count("herald_auth_expired_total", total: auth.expired)
        for (code, n) in auth.limited { count("herald_limits_exceeded_total", [("limit", code.rawValue)], total: n) }
        count("herald_abusive_disconnects_total", total: auth.abusiveDisconnects)
    }

    func update(publishing: PublishingStats) {
        func counters(_ source: String, _ c: PublishingStats.Counters) {
            count("herald_published_total", [("source", source), ("outcome", "delivered")], total: c.delivered)
            count("herald_published_total", [("source", source), ("outcome", "duplicate")], total: c.duplicates)
            count("herald_published_total", [("source", source), ("outcome", "bad")], total: c.bad)
        }
        counters("envelope", publishing.envelope)
        for bridge in publishing.bridges { counters("bridge:" + bridge.name, bridge.counters) }
    }

    func update(webhooks: WebhookStats) {
        count("herald_webhook_events_total", [("outcome", "delivered")], total: webhooks.delivered)
        count("herald_webhook_events_total", [("outcome", "dropped")], total: webhooks.dropped)
        count("herald_webhook_failed_attempts_total", total: webhooks.failedAttempts)
    }
}
