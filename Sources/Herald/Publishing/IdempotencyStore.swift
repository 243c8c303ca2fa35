import HeraldRedis
import Synchronization

/// Remembers idempotency keys so that a retried publish is delivered once.
///
/// Synchronous on purpose: the Redis subscriber calls the delivery path on its event loop, in
/// arrival order, and an async hop per message would cost that order.
public protocol IdempotencyStore: Sendable {
    /// True the first time `key` is seen within the window (the caller delivers); false for a repeat.
    func claim(_ key: String) -> Bool
    /// Like `claim`, shared by every node when the store can (a retried HTTP publish may reach another node).
    func claimAcrossCluster(_ key: String) async -> Bool
    /// Forgets a key claimed by a publish that failed, so that the retry the caller was told to make is delivered.
    func release(_ key: String) async
}

extension IdempotencyStore {
    public func claimAcrossCluster(_ key: String) async -> Bool { claim(key) }
}

/// This node's memory of recent keys: entries expire `window` after their first use, and at most
/// `capacity` are kept, the least recently used going first.
public final class InMemoryIdempotencyStore: IdempotencyStore {
    public let window: Duration
    public let capacity: Int
    private let now: @Sendable () -> ContinuousClock.Instant
    private let state: Mutex<State>

    struct State {
        /// key → first use and the sequence number of its latest entry in `order`.
        var entries: [String: (claimed: ContinuousClock.Instant, sequence: UInt64)] = [:]
        /// Use order, oldest first; entries whose sequence no longer matches are stale and skipped.
        var order: [(key: String, sequence: UInt64)] = []
        var head = 0
        var sequence: UInt64 = 0
    }

    public init(window: Duration, capacity: Int, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.window = window
        self.capacity = max(1, capacity)
        self.now = now
        self.state = Mutex(State())
    }

    public var count: Int { state.withLock { $0.entries.count } }

    public func claim(_ key: String) -> Bool {
        let now = self.now()
        return state.withLock { state in
            state.sequence &+= 1
            if let entry = state.entries[key], now - entry.claimed < window {
                state.entries[key] = (entry.claimed, state.sequence)
                state.order.append((key, state.sequence))
                compact(&state)
                return false
            }
            state.entries[key] = (now, state.sequence)
            state.order.append((key, state.sequence))
            while state.entries.count > capacity { evictOldest(&state) }
            // Expired keys at the front go too, so memory follows the traffic of the last window.
            while state.head < state.order.count {
                let first = state.order[state.head]
                guard let entry = state.entries[first.key], entry.sequence == first.sequence else { state.head += 1; continue }
                guard now - entry.claimed >= window else { break }
                state.entries[first.key] = nil
                state.head += 1
            }
            compact(&state)
            return true
        }
    }

    public func release(_ key: String) async { forget(key) }

    /// Drops the key; its place in `order` becomes stale and is skipped.
    func forget(_ key: String) {
        state.withLock { _ = $0.entries.removeValue(forKey: key) }
    }

    private func evictOldest(_ state: inout State) {
        while state.head < state.order.count {
            let first = state.order[state.head]
            state.head += 1
            if state.entries[first.key]?.sequence == first.sequence {
                state.entries[first.key] = nil
                return
            }
        }
    }

    /// Keeps `order` within a small multiple of the live entries despite repeats and evictions.
    private func compact(_ state: inout State) {
        guard state.order.count > 2 * capacity + 64 || (state.head > 64 && state.head * 2 > state.order.count) else { return }
        let entries = state.entries
        state.order = state.order[state.head...].filter { entries[$0.key]?.sequence == $0.sequence }
        state.head = 0
    }
}

/// Keys claimed in Redis (`SET NX PX`), so a retry that reaches another node is still delivered once.
/// Redis messages (the envelope, bridges) reach every node and each delivers locally: those keys stay per node.
public final class RedisIdempotencyStore: IdempotencyStore {
    let local: InMemoryIdempotencyStore
    let client: any RedisCommandSending
    let prefix: String

    public init(local: InMemoryIdempotencyStore, client: any RedisCommandSending, prefix: String = "herald:idempotency:") {
        self.local = local
        self.client = client
        self.prefix = prefix
    }

    public func claim(_ key: String) -> Bool { local.claim(key) }

    public func claimAcrossCluster(_ key: String) async -> Bool {
        let milliseconds = max(1, local.window.components.seconds * 1000 + local.window.components.attoseconds / 1_000_000_000_000_000)
        do {
            let reply = try await client.send("SET", prefix + key, "1", "NX", "PX", String(milliseconds))
            return !reply.isNull
        } catch {
            // Redis away: this node's memory is the best there is.
            return local.claim(key)
        }
    }

    public func release(_ key: String) async {
        local.forget(key)
        // Redis away: the claim fell back to this node's memory, or will expire with the window.
        _ = try? await client.send("DEL", prefix + key)
    }
}
