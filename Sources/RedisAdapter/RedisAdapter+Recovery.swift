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
        let json: JSONValue = [
            "id": .string(session.id), "pid": .string(session.pid), "rooms": .array(session.rooms.map(JSONValue.string)),
            "data": session.data, "connectOffset": .string(session.connectOffset),
        ]
        let name = logName
        Task { [logger] in
            do {
                try await log.saveSession(log: name, pid: session.pid, session: ByteBuffer(string: json.jsonString), ttl: recovery.maxDisconnectionDuration)
            } catch {
                logger.warning("session not saved for recovery", metadata: ["error": "\(error)"])
            }
        }
    }

    public func restoreSession(pid: String, offset: String?) async -> RecoveryOutcome {
        guard let (log, _) = recoveryLog else { return .unavailable }
        let maxBytes = maxRoomNameBytes
        guard let saved = try? await log.takeSession(log: logName, pid: pid), let json = try? JSONValue(parsing: saved),
              let id = json["id"]?.stringValue, let connectOffset = json["connectOffset"]?.stringValue
        else { return .unavailable }
        let session = RecoverableSession(
            // Rooms read back from Redis are checked like any outside room; an invalid one is left out (that only
            // narrows what the socket receives), and the room cap applies when they are joined again.
            id: id, pid: pid, rooms: (json["rooms"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { RoomName(validating: $0, maxBytes: maxBytes) }?.rawValue },
            data: json["data"] ?? .null, connectOffset: connectOffset)
        guard let sinceConnect = try? await log.entries(log: logName, after: session.connectOffset) else { return .unavailable }
        // Only an offset the log issued during the session's life is honoured (Socket.IO, too, honours only an
        // offset found in its log): one from before the socket connected would replay events it was never sent.
        var entries = sinceConnect[...]
        if let offset, offset != session.connectOffset {
            guard let seen = sinceConnect.firstIndex(where: { $0.offset == offset }) else { return .unavailable }
            entries = sinceConnect[(seen + 1)...]
        }
        let rooms = Set(session.rooms).union([session.id])
        var missed: [EngineIOPreparedMessage] = []
        for (entryOffset, entry) in entries {
            guard let broadcast = try? ClusterBroadcast.decode(entry), Set(broadcast.except).isDisjoint(with: rooms) else { continue }
            if broadcast.rooms.isEmpty || !Set(broadcast.rooms).isDisjoint(with: rooms) {
                missed.append(Self.prepared(broadcast, offset: entryOffset))
            }
        }
        return .recovered(session, missed: missed)
    }
}
