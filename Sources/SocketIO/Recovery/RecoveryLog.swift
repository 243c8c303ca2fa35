import EngineIO
import NIOCore
import SocketIOProtocol
import Synchronization

/// One node's event log and disconnected sessions for a namespace, kept in memory.
///
/// Lock-protected: every loop appends to it and recovering connections read it.
///
/// Offsets are `EPOCH-SEQ`: the epoch is random per log, so an offset from another process (or from before a
/// restart) is recognised as unknown instead of being matched against different events.
public final class InMemoryRecoveryLog: Sendable {
    public let configuration: ConnectionStateRecovery
    private let state: Mutex<State>

    struct Entry {
        let sequence: UInt64
        let time: ContinuousClock.Instant
        let rooms: Set<String>
        let except: Set<String>
        let message: EngineIOPreparedMessage
    }

    struct State {
        let epoch: String
        var nextSequence: UInt64 = 1
        var entries: [Entry] = []
        var start = 0   // index of the oldest kept entry; compacted now and then
        var sessions: [String: (session: RecoverableSession, expires: ContinuousClock.Instant)] = [:]
    }

    public init(configuration: ConnectionStateRecovery) {
        self.configuration = configuration
        self.state = Mutex(State(epoch: String(EngineIOServer.makeSessionID().prefix(8))))
    }

    /// The offset of the newest logged event (or the empty log's start).
    public var currentOffset: String {
        state.withLock { "\($0.epoch)-\($0.nextSequence - 1)" }
    }

    /// Assigns the next offset, lets `encode` build the message carrying it, and logs the message.
    public func append(rooms: Set<String>, except: Set<String>, encode: (String) -> EngineIOPreparedMessage) -> EngineIOPreparedMessage {
        state.withLock { state in
            let sequence = state.nextSequence
            state.nextSequence += 1
            let message = encode("\(state.epoch)-\(sequence)")
            let now = ContinuousClock.now
            state.entries.append(Entry(sequence: sequence, time: now, rooms: rooms, except: except, message: message))
            trim(&state, now: now)
            return message
        }
    }

    private func trim(_ state: inout State, now: ContinuousClock.Instant) {
        let oldest = now - configuration.maxDisconnectionDuration
        while state.start < state.entries.count,
              state.entries.count - state.start > configuration.maxLoggedEvents || state.entries[state.start].time < oldest {
            state.start += 1
        }
        if state.start > 1024 && state.start * 2 > state.entries.count {
            state.entries.removeFirst(state.start)
            state.start = 0
        }
        state.sessions = state.sessions.filter { $0.value.expires > now }
    }

    public func save(_ session: RecoverableSession) {
        let expires = ContinuousClock.now + configuration.maxDisconnectionDuration
        state.withLock { $0.sessions[session.pid] = (session, expires) }
    }

    /// The events for `rooms` logged after `offset` (one this log issued), in order; nil when some are no longer kept.
    public func missed(rooms: Set<String>, after offset: String) -> [EngineIOPreparedMessage]? {
        state.withLock { state in
            guard let seen = Self.sequence(offset, epoch: state.epoch), seen < state.nextSequence else { return nil }
            return Self.entries(in: state, rooms: rooms, after: seen)
        }
    }

    private static func entries(in state: State, rooms: Set<String>, after seen: UInt64) -> [EngineIOPreparedMessage]? {
        // Every event after `seen` must still be kept, or the gap cannot be filled.
        let oldestKept = state.start < state.entries.count ? state.entries[state.start].sequence : state.nextSequence
        guard seen + 1 >= oldestKept else { return nil }
        var missed: [EngineIOPreparedMessage] = []
        for entry in state.entries[state.start...] where entry.sequence > seen {
            guard entry.except.isDisjoint(with: rooms) else { continue }
            if entry.rooms.isEmpty || !entry.rooms.isDisjoint(with: rooms) { missed.append(entry.message) }
        }
        return missed
    }

    /// Takes the session back (once) with the events it missed after `offset`.
    public func restore(pid: String, offset: String?) -> RecoveryOutcome {
        state.withLock { state in
            let now = ContinuousClock.now
            guard let saved = state.sessions.removeValue(forKey: pid), saved.expires > now else { return .unavailable }
            let session = saved.session
            // Only an offset this log issued during the session's life is honoured: one from before the socket
            // connected would replay events it never was sent, and an unknown one means nothing here.
            guard let connected = Self.sequence(session.connectOffset, epoch: state.epoch),
                  let seen = Self.sequence(offset ?? session.connectOffset, epoch: state.epoch),
                  seen >= connected, seen < state.nextSequence
            else { return .unavailable }
            let rooms = Set(session.rooms).union([session.id])
            guard let missed = Self.entries(in: state, rooms: rooms, after: seen) else { return .unavailable }
            return .recovered(session, missed: missed)
        }
    }

    /// The sequence of `EPOCH-SEQ` when EPOCH is this log's. The epoch is URL-safe base64 and may itself
    /// contain "-": the sequence follows the last one.
    static func sequence(_ offset: String, epoch: String) -> UInt64? {
        guard let dash = offset.lastIndex(of: "-"), offset[..<dash] == epoch else { return nil }
        return UInt64(offset[offset.index(after: dash)...])
    }
}
