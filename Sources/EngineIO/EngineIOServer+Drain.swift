import NIOCore

/// Going away without losing clients: refuse new sessions, then close the open ones in paced batches so that
/// clients reconnect elsewhere, spread out rather than all at once. Lock-protected like the server: the session
/// table is read under its lock, and each close runs on its session's loop.
extension EngineIOServer {
    /// Time between two batches of a drain; a drain window holds `window / drainBatchInterval` batches.
    public static let drainBatchInterval: Duration = .milliseconds(50)

    /// From now on every handshake (a polling GET without `sid`, or a websocket upgrade without `sid`) is answered
    /// `503 Service Unavailable` with `Retry-After`, which clients treat as a failed attempt and retry (through a
    /// load balancer, on another node). Requests of open sessions are served as before.
    public func refuseNewSessions() {
        refusingHandshakes.store(true, ordering: .relaxed)
    }

    public var isRefusingNewSessions: Bool { refusingHandshakes.load(ordering: .relaxed) }

    /// Refuses new sessions and closes every open one as "server shutting down" (websocket: close frame 1001;
    /// polling: the held poll ends with a noop and the next request meets "Session ID unknown"), spread evenly
    /// over `window` in batches `drainBatchInterval` apart. Returns once the last batch is closed; a zero window
    /// closes everything at once.
    public func drain(over window: Duration) async {
        refuseNewSessions()
        let open = sessions.withLock { Array($0.values) }
        let clock = ContinuousClock()
        let start = clock.now
        let batches = max(1, min(open.count, Int(window / Self.drainBatchInterval)))
        // Awaited at the end, so that the caller sees every close done (and its disconnect handlers run).
        var closed: [EventLoopFuture<Void>] = []
        closed.reserveCapacity(open.count)
        for batch in 0..<batches {
            if batch > 0 {
                // Cancellation ends the pacing: the remaining batches go at once.
                try? await Task.sleep(until: start + window * (Double(batch) / Double(batches)), clock: clock)
            }
            for session in open[open.count * batch / batches..<open.count * (batch + 1) / batches] {
                closed.append(session.eventLoop.submit { session.close(reason: .serverShuttingDown) })
            }
        }
        // Handshakes already past the check when refusing began.
        for session in sessions.withLock({ Array($0.values) }) {
            closed.append(session.eventLoop.submit { session.close(reason: .serverShuttingDown) })
        }
        for future in closed { try? await future.get() }
    }
}
