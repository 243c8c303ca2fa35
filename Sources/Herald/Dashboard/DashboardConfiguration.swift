/// The live dashboard: figures pushed to a room every interval (see docs/dashboard.md).
public struct DashboardConfiguration: Sendable {
    /// Whether the node computes and pushes its figures (`HERALD_DASHBOARD`, `0` turns it off). Default on.
    public var enabled: Bool
    /// How often the figures are computed and pushed (`HERALD_DASHBOARD_INTERVAL`, ms). Default 1 s.
    public var interval: Duration
    /// The room that receives `dashboard:stats` (`HERALD_DASHBOARD_ROOM`). Default `dashboard`.
    public var room: String
    /// This node's name in the figures (`HERALD_NODE_ID`). Default nil: a random id chosen at start.
    public var nodeID: String?
    /// Whether the node bootstraps the process-wide swift-metrics system with its Prometheus registry
    /// (the first node of the process does, once). Turn off when the host application bootstraps its own. Default on.
    public var bootstrapMetricsSystem: Bool

    public init(
        enabled: Bool = true,
        interval: Duration = .seconds(1),
        room: String = "dashboard",
        nodeID: String? = nil,
        bootstrapMetricsSystem: Bool = true
    ) {
        self.enabled = enabled
        self.interval = interval
        self.room = room
        self.nodeID = nodeID
        self.bootstrapMetricsSystem = bootstrapMetricsSystem
    }

    /// The event carrying the figures.
    public static let statsEvent = "dashboard:stats"
    /// The event backends publish their own figures with (through the publish API; herald only routes it).
    public static let businessEvent = "dashboard:business"
    /// The server-side event nodes share their figures with.
    static let shareEvent = "herald:dashboard:node"
}
