import EngineIO

/// The public listener's refusals and timeouts (see docs/security.md), as Prometheus counters.
extension HeraldMetrics {
    func update(edge: EngineIOEdgeStats) {
        count("herald_edge_refusals_total", [("limit", "connections")], total: edge.connectionsRefused)
        count("herald_edge_refusals_total", [("limit", "handshakes")], total: edge.handshakesRefused)
        count("herald_edge_timeouts_total", [("timeout", "request_head")], total: edge.requestHeadTimeouts)
        count("herald_edge_timeouts_total", [("timeout", "keep_alive")], total: edge.keepAliveTimeouts)
    }
}
