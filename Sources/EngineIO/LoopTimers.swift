import NIOCore
import Synchronization

/// A target's place in its loop's `LoopTimers`: the generation of its current entry and whether it is armed.
package struct LoopTimer: Sendable {
    var generation: UInt32 = 0
    package private(set) var isArmed = false

    package init() {}

    mutating func arm() -> (generation: UInt32, wasArmed: Bool) {
        let wasArmed = isArmed
        generation &+= 1
        isArmed = true
        return (generation, wasArmed)
    }

    /// Disarms; true when it was armed.
    mutating func disarm() -> Bool {
        guard isArmed else { return false }
        generation &+= 1
        isArmed = false
        return true
    }

    func isCurrent(_ entryGeneration: UInt32) -> Bool { isArmed && generation == entryGeneration }
}

/// An object with one timer on its loop's `LoopTimers`.
package protocol LoopTimerTarget: AnyObject {
    var loopTimer: LoopTimer { get set }
    /// Called on the loop when the armed deadline passes (the timer is disarmed by then, and may be armed again).
    func loopTimerFired()
}

/// The timers of one event loop's objects of one kind (sessions' heartbeats, connections' head timeouts, Socket.IO
/// connect timeouts) in one NIO scheduled task instead of one per object.
///
/// Every object arms its timer with one of a few fixed delays (the ping interval, the ping timeout, a configured
/// timeout), so deadlines armed with the same delay come due in the order they were armed: each delay keeps a FIFO
/// of `(deadline, target, generation)` and the loop has one scheduled task, for the earliest head. Re-arming or
/// cancelling bumps the target's generation; a stale entry is skipped when it comes due. An entry costs 32 bytes,
/// where a NIO `Scheduled` task costs a promise, a future, two closures and a heap slot (about 250 bytes) and its
/// cancellation searches the loop's whole task heap; arming takes no lock. Timing is unchanged: each target's timer
/// fires at its own deadline.
///
/// Stale entries (a re-armed or cancelled target's) keep their target until they come due; when they outnumber the
/// armed targets' entries (one each) by more than 1 024, the queues are compacted, so a burst of closing
/// connections does not keep its objects for a whole timeout.
///
/// Not generic over the target type: code in another module (Socket.IO's connect timeouts) would call it
/// unspecialized, looking up its generic types at run time on every arm.
///
/// Confined to its event loop.
package final class LoopTimers: @unchecked Sendable {
    struct Entry {
        let deadline: NIODeadline
        let target: any LoopTimerTarget
        let generation: UInt32
    }

    package let eventLoop: any EventLoop
    private var queues: [(delay: TimeAmount, entries: CircularBuffer<Entry>)] = []
    private var scheduled: Scheduled<Void>?
    private var scheduledDeadline: NIODeadline?
    private var firing = false
    /// Armed targets (each has exactly one current entry) and entries queued, stale ones included.
    private var armed = 0
    private var queued = 0

    package init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Entries queued, stale ones included: what the timers hold on to (each keeps its target alive).
    package var entryCount: Int { queued }
    /// Targets whose timer is armed.
    package var armedCount: Int { armed }

    /// Arms `target`'s timer to fire after `delay`, replacing the one armed before.
    package func arm(_ target: any LoopTimerTarget, after delay: TimeAmount) {
        let (generation, wasArmed) = target.loopTimer.arm()
        if !wasArmed { armed += 1 }
        let deadline = eventLoop.now + delay
        let entry = Entry(deadline: deadline, target: target, generation: generation)
        if let index = queues.firstIndex(where: { $0.delay == delay }) {
            queues[index].entries.append(entry)
        } else {
            var entries = CircularBuffer<Entry>(initialCapacity: 16)
            entries.append(entry)
            queues.append((delay, entries))
        }
        queued += 1
        if queued > 2 * armed + 1024 { compact() }
        guard !firing else { return }
        if let scheduledDeadline, scheduledDeadline <= deadline { return }
        schedule(at: deadline)
    }

    /// Disarms `target`'s timer; its entry stays queued, stale, until it comes due or the queues are compacted.
    package func cancel(_ target: any LoopTimerTarget) {
        if target.loopTimer.disarm() { armed -= 1 }
    }

    private func schedule(at deadline: NIODeadline) {
        scheduled?.cancel()
        scheduledDeadline = deadline
        scheduled = eventLoop.scheduleTask(deadline: deadline) { [self] in fire() }
    }

    /// Drops stale entries, keeping each queue's order.
    private func compact() {
        queued = 0
        for index in queues.indices {
            let current = queues[index].entries.filter { $0.target.loopTimer.isCurrent($0.generation) }
            queues[index].entries = CircularBuffer(current)
            queued += current.count
        }
    }

    private func fire() {
        scheduled = nil
        scheduledDeadline = nil
        firing = true
        let now = eventLoop.now
        // Indices, not iterators: a target's handler may arm again (appending to one of these queues).
        var index = 0
        while index < queues.count {
            while let first = queues[index].entries.first, first.deadline <= now {
                queues[index].entries.removeFirst()
                queued -= 1
                guard first.target.loopTimer.isCurrent(first.generation) else { continue }
                _ = first.target.loopTimer.disarm()
                armed -= 1
                first.target.loopTimerFired()
            }
            index += 1
        }
        firing = false
        var next: NIODeadline?
        for queue in queues {
            if let head = queue.entries.first?.deadline, next.map({ head < $0 }) ?? true { next = head }
        }
        if let next { schedule(at: next) }
    }
}

/// One `LoopTimers` per event loop, made on first use, for objects that look theirs up once (when they are made).
///
/// Lock-protected.
package final class LoopTimersByLoop: Sendable {
    private let timers = Mutex<[ObjectIdentifier: LoopTimers]>([:])

    package init() {}

    package func timers(for eventLoop: any EventLoop) -> LoopTimers {
        timers.withLock { timers in
            let key = ObjectIdentifier(eventLoop as AnyObject)
            if let existing = timers[key] { return existing }
            let created = LoopTimers(eventLoop: eventLoop)
            timers[key] = created
            return created
        }
    }

    /// Entries queued on all loops, stale ones included: zero once every target's timer was cancelled or fired and
    /// the last stale entry came due, so a leak check can watch it return to zero.
    package func entryCount() async -> Int {
        await sum { $0.entryCount }
    }

    /// Targets whose timer is armed, on all loops.
    package func armedCount() async -> Int {
        await sum { $0.armedCount }
    }

    private func sum(_ count: @escaping @Sendable (LoopTimers) -> Int) async -> Int {
        var total = 0
        for timers in timers.withLock({ Array($0.values) }) {
            total += (try? await timers.eventLoop.submit { count(timers) }.get()) ?? 0
        }
        return total
    }
}
