import Synchronization

/// Running totals of what the listener's edge refused or timed out, read by metrics and tests.
/// Lock-free: one relaxed atomic add per event, and none on the message path.
public final class EngineIOEdgeStats: Sendable {
    private let open = Atomic<Int>(0)
    private let connectionRefusals = Atomic<Int>(0)
    private let handshakeRefusals = Atomic<Int>(0)
    private let headTimeouts = Atomic<Int>(0)
    private let idleTimeouts = Atomic<Int>(0)

    public init() {}

    /// TCP connections open on the listener now.
    public var openConnections: Int { open.load(ordering: .relaxed) }
    /// Connections refused by `maxConnections` or `maxConnectionsPerAddress`.
    public var connectionsRefused: Int { connectionRefusals.load(ordering: .relaxed) }
    /// Handshakes refused: over `maxHandshakesPerSecond`, or while draining.
    public var handshakesRefused: Int { handshakeRefusals.load(ordering: .relaxed) }
    /// Connections closed because a request head did not arrive within `requestHeadTimeout`.
    public var requestHeadTimeouts: Int { headTimeouts.load(ordering: .relaxed) }
    /// Idle keep-alive connections closed after `keepAliveTimeout`.
    public var keepAliveTimeouts: Int { idleTimeouts.load(ordering: .relaxed) }

    /// Counts a new connection; returns the number now open.
    func connectionOpened() -> Int { open.wrappingAdd(1, ordering: .relaxed).newValue }
    func connectionClosed() { open.wrappingSubtract(1, ordering: .relaxed) }
    func connectionRefused() { connectionRefusals.wrappingAdd(1, ordering: .relaxed) }
    func handshakeRefused() { handshakeRefusals.wrappingAdd(1, ordering: .relaxed) }
    func requestHeadTimedOut() { headTimeouts.wrappingAdd(1, ordering: .relaxed) }
    func keepAliveTimedOut() { idleTimeouts.wrappingAdd(1, ordering: .relaxed) }
}

/// Whether the server takes a new session now.
public enum EngineIOAdmission: Sendable, Equatable {
    case accept
    /// Refused for now: the client is told to retry after this many seconds (503 with `Retry-After`).
    case refuse(retryAfter: Int, reason: EngineIORefusalReason)
}

/// Why a new session is refused; the raw value is the `error` of the 503's JSON body.
public enum EngineIORefusalReason: String, Sendable, Equatable {
    /// Over the connection cap or the handshake rate: another attempt soon may succeed here.
    case busy = "server busy, retry later"
    /// Draining: the client should reconnect (through the load balancer, to another node).
    case shuttingDown = "server shutting down"
}

/// A token bucket of one second's capacity: at most `rate` admissions per second, as a burst or spread out.
/// A value type kept under the server's lock.
struct EngineIOTokenBucket {
    private var tokens: Double = 0
    private var last: ContinuousClock.Instant?

    /// Takes a token if one is left, refilling at `rate` per second since the last call.
    mutating func take(rate: Int, now: ContinuousClock.Instant) -> Bool {
        let capacity = Double(max(rate, 0))
        if let last {
            let elapsed = now - last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            tokens = min(capacity, tokens + max(0, seconds) * capacity)
        } else {
            tokens = capacity
        }
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
