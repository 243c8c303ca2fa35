import EngineIO
import NIOCore
import SocketIO
import SocketIOProtocol

/// Connection state recovery across nodes: sessions and the event log live in the cluster log, so a client
/// may come back to any node.
extension RedisAdapter {
    private var recoveryLog: (log: any ClusterLog, recovery: ConnectionStateRecovery)? {
        guard let log, let recovery = recoveryConfiguration else { return nil }
        return (log, recovery)
    }

    public func recoveryOffset() async -> String {
        guard let (log, _) = recoveryLog else { return "" }
        do {
            return try await log.currentOffset(log: logName)
        } catch {
            logger.warning("cluster log unreachable", metadata: ["error": "\(error)"])
            return ""
        }
    }

    public func persistSession(_ session: RecoverableSession) {
        guard let (log, recovery) = recoveryLog else { return }
        let message: ByteBuffer
        do {
            message = try WireJSONMessage.encode(SavedSession(session))
        } catch {
            logger.warning("session not encoded for recovery", metadata: ["error": "\(error)"])
            return
        }
        let name = logName
        savesInFlight.withLock { $0.count += 1 }
        Task { [logger, self] in
            do {
                try await log.saveSession(log: name, pid: session.pid, session: message, ttl: recovery.maxDisconnectionDuration)
            } catch {
                logger.warning("session not saved for recovery", metadata: ["error": "\(error)"])
            }
            for waiter in savesInFlight.withLock({ $0.finishOne() }) { waiter.resume() }
        }
    }

    public func sessionsPersisted() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let idle = savesInFlight.withLock { saves in
                if saves.count == 0 { return true }
                saves.waiters.append(waiter)
                return false
            }
            if idle { waiter.resume() }
        }
    }

    public func restoreSession(pid: String, offset: String?) async -> RecoveryOutcome {
        guard let (log, _) = recoveryLog else { return .unavailable }
        guard let bytes = try? await log.takeSession(log: logName, pid: pid) else { return .unavailable }
        guard let saved = try? WireJSONMessage.decode(SavedSession.self, from: bytes) else {
            dropped("undecodable saved session")
            return .unavailable
        }
        let session = saved.recoverable(pid: pid, maxRoomBytes: maxRoomNameBytes)
        let rooms = Set(session.rooms).union([session.id])
        // Subscribe to the rooms before reading the log: an event logged after the read then reaches this node
        // live. Read first, and one logged between the read and the subscription would be in neither.
        // The caller releases the hold once the socket joined (see `SocketIOAdapter.restoreSession`).
        await holdRooms(Array(rooms))
        // Only an offset the log issued during the session's life is honoured (Socket.IO, too, honours only an
        // offset found in its log): one from before the socket connected would replay events it was never sent.
        // Only what follows the offset is read: a session may have lived far longer than the log's history.
        guard let entries = await loggedEvents(after: offset ?? session.connectOffset, issuedSince: session.connectOffset) else {
            releaseRooms(Array(rooms))
            return .unavailable
        }
        return .recovered(session, missed: Self.events(entries[...], for: rooms))
    }
}

extension RedisAdapter {
    public func missedEvents(rooms: Set<String>, after offset: String) async -> [EngineIOPreparedMessage]? {
        guard let entries = await loggedEvents(after: offset) else { return nil }
        return Self.events(entries[...], for: rooms)
    }

    /// The log's entries after `offset` (which must be `floor` or one issued since, when given), decoded; nil
    /// when the log cannot tell.
    private func loggedEvents(after offset: String, issuedSince floor: String? = nil) async -> [(offset: String, broadcast: ClusterBroadcast)]? {
        guard let (log, _) = recoveryLog else { return nil }
        let read = if let floor { try? await log.entries(log: logName, after: offset, issuedSince: floor) } else { try? await log.entries(log: logName, after: offset) }
        guard let entries = read else { return nil }
        return entries.compactMap { entry in
            guard let broadcast = try? ClusterBroadcast.decode(entry.entry) else {
                dropped("undecodable logged broadcast")
                return nil
            }
            return (entry.offset, broadcast)
        }
    }

    /// The logged events that reach a socket in `rooms`, framed with their offsets.
    private static func events(_ entries: ArraySlice<(offset: String, broadcast: ClusterBroadcast)>, for rooms: Set<String>) -> [EngineIOPreparedMessage] {
        var missed: [EngineIOPreparedMessage] = []
        for (offset, broadcast) in entries where Set(broadcast.except).isDisjoint(with: rooms) {
            if broadcast.rooms.isEmpty || !Set(broadcast.rooms).isDisjoint(with: rooms) {
                missed.append(prepared(broadcast, offset: offset))
            }
        }
        return missed
    }

    public func holdDeliveries(to socket: Socket) { local.holdDeliveries(to: socket) }

    public func releaseDeliveries(to socket: Socket) -> [EngineIOPreparedMessage] { local.releaseDeliveries(to: socket) }
}

/// Session saves under way and who waits for them all to finish.
struct SavesInFlight {
    var count = 0
    var waiters: [CheckedContinuation<Void, Never>] = []

    /// Counts one save as done; the waiters to resume once none is left.
    mutating func finishOne() -> [CheckedContinuation<Void, Never>] {
        count -= 1
        guard count == 0 else { return [] }
        defer { waiters = [] }
        return waiters
    }
}
