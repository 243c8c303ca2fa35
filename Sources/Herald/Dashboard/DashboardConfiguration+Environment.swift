extension DashboardConfiguration {
    /// Applies the `HERALD_DASHBOARD*`, `HERALD_NODE_ID` and `HERALD_METRICS_LISTENER` settings present in `settings`.
    public mutating func apply(_ settings: [String: String]) throws {
        typealias SettingError = HeraldConfiguration.SettingError
        if let flag = settings["HERALD_DASHBOARD"] {
            guard flag == "0" || flag == "1" else { throw SettingError(description: "HERALD_DASHBOARD must be 0 or 1, got \(flag)") }
            enabled = flag == "1"
        }
        if let ms = try HeraldConfiguration.integer("HERALD_DASHBOARD_INTERVAL", in: settings, minimum: 10) {
            interval = .milliseconds(ms)
        }
        if let room = settings["HERALD_DASHBOARD_ROOM"] {
            guard !room.isEmpty else { throw SettingError(description: "HERALD_DASHBOARD_ROOM must not be empty") }
            self.room = room
        }
        if let id = settings["HERALD_NODE_ID"], !id.isEmpty { nodeID = id }
        if let text = settings["HERALD_METRICS_LISTENER"] {
            guard let listener = MetricsListener(rawValue: text) else {
                throw SettingError(description: "HERALD_METRICS_LISTENER must be auto, public or api, got \(text)")
            }
            metricsListener = listener
        }
    }
}
