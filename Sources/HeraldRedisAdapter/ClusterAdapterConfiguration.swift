// Concurrency: a value (Sendable struct).
/// Options of the cluster adapter. Each default is documented here once, and asserted by a test.
public struct ClusterAdapterConfiguration: Sendable, Hashable {
    /// Prefix of every channel name. Default `herald`.
    public var channelPrefix: String
    /// How long a cluster request (fetchSockets, socketsJoin, serverSideEmit with acks…) waits for the other nodes. Default 5 s.
    public var requestTimeout: Duration

    public init(channelPrefix: String = "herald", requestTimeout: Duration = .seconds(5)) {
        self.channelPrefix = channelPrefix
        self.requestTimeout = requestTimeout
    }
}

@available(*, deprecated, renamed: "ClusterAdapterConfiguration")
public typealias RedisAdapterConfiguration = ClusterAdapterConfiguration
