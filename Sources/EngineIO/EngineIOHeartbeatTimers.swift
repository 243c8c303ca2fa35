import NIOCore

/// The heartbeat timers of one event loop's sessions, in one NIO scheduled task instead of one per session.
///
/// Every session on a loop arms its heartbeat with one of a few fixed delays (the ping interval, the ping timeout),
/// so deadlines armed with the same delay come due in the order they were armed: each delay keeps a FIFO of
/// `(deadline, session, generation)` and the loop has one scheduled task, for the earliest head. Re-arming or
/// cancelling bumps the session's generation; a stale entry is skipped when it comes due. An entry costs 24 bytes,
/// where a NIO `Scheduled` task costs a promise, a future, two closures and a heap slot (about 250 bytes), and
/// arming takes no lock. Timing is unchanged: each session's timer fires at its own deadline.
///
/// Stale entries (a re-armed or closed session's) keep their session until they come due; when they outnumber
/// the live sessions' entries (one each) by more than 1 024, the queues are compacted, so a burst of closing
/// connections does not keep its sessions for a whole ping interval.
///
/// Confined to its event loop.
final class EngineIOHeartbeatTimers: @unchecked Sendable {
    struct Entry {
        let deadline: NIODeadline
        let session: EngineIOSession
        let generation: UInt32
    }

    let eventLoop: any EventLoop
    private var queues: [(delay: TimeAmount, entries: CircularBuffer<Entry>)] = []
    private var scheduled: Scheduled<Void>?
    private var scheduledDeadline: NIODeadline?
    private var firing = false
    /// Open sessions on this loop (each has exactly one current entry) and entries queued, stale ones included.
    private var live = 0
    private var queued = 0

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Entries queued, stale ones included: what the timers hold on to (each keeps its session alive).
    var entryCount: Int { queued }

    func sessionOpened() { live += 1 }
    func sessionClosed() { live -= 1 }

    func arm(_ session: EngineIOSession, generation: UInt32, after delay: TimeAmount) {
        let deadline = eventLoop.now + delay
        let entry = Entry(deadline: deadline, session: session, generation: generation)
        if let index = queues.firstIndex(where: { $0.delay == delay }) {
            queues[index].entries.append(entry)
        } else {
            var entries = CircularBuffer<Entry>(initialCapacity: 16)
            entries.append(entry)
            queues.append((delay, entries))
        }
        queued += 1
        if queued > 2 * live + 1024 { compact() }
        guard !firing else { return }
        if let scheduledDeadline, scheduledDeadline <= deadline { return }
        schedule(at: deadline)
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
            let current = queues[index].entries.filter { $0.generation == $0.session.heartbeatGeneration }
            queues[index].entries = CircularBuffer(current)
            queued += current.count
        }
    }

    private func fire() {
        scheduled = nil
        scheduledDeadline = nil
        firing = true
        let now = eventLoop.now
        // Indices, not iterators: a session's timer handler may arm again (appending to one of these queues).
        var index = 0
        while index < queues.count {
            while let first = queues[index].entries.first, first.deadline <= now {
                queues[index].entries.removeFirst()
                queued -= 1
                first.session.heartbeatTimerFired(generation: first.generation)
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

extension EngineIOServer {
    /// Heartbeat timer entries queued on all event loops, stale ones included (see `EngineIOHeartbeatTimers`): zero
    /// once every session has closed and the last stale entry came due, so a leak check can watch it return to zero.
    public func heartbeatTimerEntries() async -> Int {
        var total = 0
        for timers in timers.withLock({ Array($0.values) }) {
            total += (try? await timers.eventLoop.submit { timers.entryCount }.get()) ?? 0
        }
        return total
    }
}
