import NIOCore
import Synchronization

/// Counters shared by every loop; touched once per connection, never per message.
final class BenchRun: Sendable {
    let connected = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    /// Connections the server closed after they had joined.
    let dropped = Atomic<Int>(0)
    /// One per server (its Host header differs), indexed by `BenchClient.server`.
    let upgradeRequests: [ByteBuffer]
    let errors = Mutex<[String: Int]>([:])

    init(upgradeRequests: [ByteBuffer]) { self.upgradeRequests = upgradeRequests }

    func fail(_ reason: String) {
        failed.add(1, ordering: .relaxed)
        errors.withLock { errors in
            // Bounded: a storm of one error kind must not grow a dictionary of distinct messages.
            if errors[reason] != nil || errors.count < 20 { errors[reason, default: 0] += 1 }
        }
    }
}

/// Everything one event loop's clients record. Confined to `eventLoop` (hence `@unchecked Sendable`): handlers
/// write here without locks, and the coordinator reads it with `eventLoop.submit` between phases.
final class BenchLoop: @unchecked Sendable {
    let eventLoop: any EventLoop
    let run: BenchRun
    var clients: [BenchClient] = []
    var publisher: BenchClient?
    private var random: UInt64

    // Per phase; reset by the coordinator.
    var deliveries = 0
    var handshakeMicros: [UInt32] = []
    var rttMicros: [UInt32] = []
    var lastDeliveryMicros: UInt64 = 0
    /// fanout: members that received event `seq`, and the latest arrival after its send stamp.
    var fanoutCount: [UInt32] = []
    var fanoutLastMicros: [UInt32] = []
    /// broadcast: per server and id (at `server * broadcastStride + id`), the latest arrival after its send
    /// stamp on this loop. One server: indexed by id alone.
    var broadcastLastMicros: [UInt32] = []
    var broadcastStride = Int.max
    /// cluster: broadcasts received by the clients of each server.
    var nodeDeliveries: [Int] = []
    weak var broadcastDriver: BroadcastDriver?

    init(eventLoop: any EventLoop, run: BenchRun, seed: UInt64) {
        self.eventLoop = eventLoop
        self.run = run
        random = seed | 1
    }

    /// xorshift64: masks and random picks without a syscall or lock per call.
    func nextRandom() -> UInt64 {
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return random
    }

    /// A random joined client on this loop (probing forward past closed ones), or nil.
    func randomConnectedClient() -> BenchClient? {
        guard !clients.isEmpty else { return nil }
        let start = Int(nextRandom() % UInt64(clients.count))
        for offset in 0..<clients.count {
            let client = clients[(start + offset) % clients.count]
            if client.isJoined { return client }
        }
        return nil
    }

    func resetPhase() {
        deliveries = 0
        rttMicros.removeAll(keepingCapacity: true)
        lastDeliveryMicros = 0
        for client in clients {
            client.received = 0
            client.idSum = 0
        }
    }
}

/// Runs `in flight` broadcasts at a time from random clients until `total` are acknowledged.
final class BroadcastDriver: Sendable {
    private struct State {
        var next = 1
        var acknowledged = 0
        var unsent = 0
        var unsentIDSum: UInt64 = 0
    }

    let total: Int
    private let loops: [BenchLoop]
    private let payloadTail: String
    private let state = Mutex(State())

    init(total: Int, loops: [BenchLoop], padding: Int) {
        self.total = total
        self.loops = loops
        payloadTail = ",\"p\":\"" + String(repeating: "x", count: padding) + "\"}]"
    }

    var acknowledged: Int { state.withLock { $0.acknowledged } }
    var unsent: Int { state.withLock { $0.unsent } }
    var unsentIDSum: UInt64 { state.withLock { $0.unsentIDSum } }

    func start(inFlight: Int) {
        for _ in 0..<inFlight { launch() }
    }

    /// Called on a client's loop when the server acknowledged one of our broadcasts.
    func acknowledgedOne() {
        state.withLock { $0.acknowledged += 1 }
        launch()
    }

    private func launch() {
        guard let id = state.withLock({ state -> Int? in
            guard state.next <= total else { return nil }
            defer { state.next += 1 }
            return state.next
        }) else { return }
        let loop = loops[Int.random(in: 0..<loops.count)]
        let tail = payloadTail
        loop.eventLoop.execute {
            guard let client = loop.randomConnectedClient() else {
                // Nobody to send from on this loop: count it as sent-and-acknowledged nowhere, and keep the pace.
                self.state.withLock { $0.unsent += 1; $0.unsentIDSum += UInt64(id); $0.acknowledged += 1 }
                return self.launch()
            }
            client.sendBroadcast(id: id, tail: tail)
        }
    }
}
