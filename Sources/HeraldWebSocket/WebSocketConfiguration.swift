import NIOCore

/// Limits and timeouts of one WebSocket connection.
public struct WebSocketConfiguration: Sendable {
    /// Largest accepted frame payload in bytes. Default `1 << 20` (1 MiB). A larger frame fails the connection with 1009.
    public var maxFrameSize: Int
    /// Largest accepted reassembled message in bytes. Default `1 << 20` (1 MiB). A larger message fails the connection with 1009.
    public var maxMessageSize: Int
    /// After we send a Close frame, how long we wait for the peer's Close before dropping TCP. Default 5 seconds.
    public var closeTimeout: Duration

    public init(maxFrameSize: Int = 1 << 20, maxMessageSize: Int = 1 << 20, closeTimeout: Duration = .seconds(5)) {
        self.maxFrameSize = maxFrameSize
        self.maxMessageSize = maxMessageSize
        self.closeTimeout = closeTimeout
    }
}
