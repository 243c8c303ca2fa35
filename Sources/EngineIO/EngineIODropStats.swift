import Synchronization

/// Running totals of what the server gave up on for clients that do not read fast enough, read by metrics and
/// tests. Lock-free: one relaxed atomic add per drop, and nothing on a message that goes out.
public final class EngineIODropStats: Sendable {
    private let volatile = Atomic<Int>(0)
    private let slow = Atomic<Int>(0)

    public init() {}

    /// Volatile messages not written because their client was not keeping up (or was recovering).
    public var volatileMessagesDropped: Int { volatile.load(ordering: .relaxed) }
    /// Sessions closed because more than `maxBufferedBytes` waited for their client.
    public var slowClientsClosed: Int { slow.load(ordering: .relaxed) }

    package func volatileDropped() { volatile.wrappingAdd(1, ordering: .relaxed) }
    package func slowClientClosed() { slow.wrappingAdd(1, ordering: .relaxed) }
}
