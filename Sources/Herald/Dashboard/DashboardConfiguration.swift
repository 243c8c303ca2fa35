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
    /// Which listener serves `/metrics` (`HERALD_METRICS_LISTENER`: `auto`, `public` or `api`). Default `auto`:
    /// the private publish API listener when it is on, else the public Socket.IO port.
    public var metricsListener: MetricsListener

    /// Where `/metrics` is served: metrics tell an outsider the node's traffic and refusals, so they belong
    /// on the private API listener wherever there is one.
    public enum MetricsListener: String, Sendable, Hashable, CaseIterable {
        case automatic = "auto"
        case publicListener = "public"
        case apiListener = "api"
    }

    /// Whether `/metrics` is on the API listener (else on the public port), given whether that listener is on.
    public func metricsOnAPIListener(apiEnabled: Bool) -> Bool {
        switch metricsListener {
        case .automatic: apiEnabled
        case .publicListener: false
        case .apiListener: true
        }
    }

    public init(
        enabled: Bool = true,
        interval: Duration = .seconds(1),
        room: String = "dashboard",
        nodeID: String? = nil,
        bootstrapMetricsSystem: Bool = true,
        metricsListener: MetricsListener = .automatic
    ) {
        self.metricsListener = metricsListener
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
