extension DashboardConfiguration {
    /// Applies the `HERALD_DASHBOARD*` and `HERALD_NODE_ID` settings present in `settings`.
    public mutating func apply(_ settings: [String: String]) throws {
        typealias SettingError = HeraldConfiguration.SettingError
        if let flag = settings["HERALD_DASHBOARD"] {
            guard flag == "0" || flag == "1" else { throw SettingError(description: "HERALD_DASHBOARD must be 0 or 1, got \(flag)") }
            enabled = flag == "1"
        }
        if let text = settings["HERALD_DASHBOARD_INTERVAL"] {
            guard let ms = Int(text), ms >= 10 else {
                throw SettingError(description: "HERALD_DASHBOARD_INTERVAL must be an integer of at least 10 (ms), got \(text)")
            }
            interval = .milliseconds(ms)
        }
        if let room = settings["HERALD_DASHBOARD_ROOM"] {
            guard !room.isEmpty else { throw SettingError(description: "HERALD_DASHBOARD_ROOM must not be empty") }
            self.room = room
        }
        if let id = settings["HERALD_NODE_ID"], !id.isEmpty { nodeID = id }
    }
}
