import NIOCore
import HeraldRedis

/// Presence across nodes in Redis, maintained incrementally: one script call per connection entering or leaving a
/// presence room, a heartbeat per node, no scan of the cluster per query. Stateless here (Redis holds it all),
/// so it needs no concurrency rule of its own.
///
/// Keys, for room `R` (`P` = `herald:{presence}:`; the users connected at all use `herald:{presence}users` in place of
/// `P` + `R`). The `{presence}` hash tag puts them all in one Redis Cluster slot, as the scripts, which touch a
/// room's keys, the node's share and the sequence at once, require (presence lives on one shard):
/// - `P R:m` hash sub → connections of that user in the room, cluster-wide; `HLEN` is the distinct users;
/// - `P R:i` hash sub → the member's reported claims (JSON);
/// - `P R:c` the room's connections, cluster-wide;
/// - `P node:N` hash (room, sub) → connections node N contributed, so that a dead node's share can be taken back;
/// - `P nodes` sorted set node → time of its last heartbeat (Redis' clock, ms);
/// - `P sequence` counts transitions, cluster-wide: the order receivers of several nodes' events sort by.
///
/// A transition (first connection of a user in a room, or its last one gone) is decided inside the script that
/// makes it, so exactly one node sees it; a dead node's members are reaped by the one node whose script removes it
/// from `P nodes`.
public struct RedisPresenceStore: PresenceStore {
    let client: any RedisCommandSending
    let node: String
    let timeout: Duration
    static let prefix = "herald:{presence}:"
    static let usersKey = "herald:{presence}users"

    public init(client: any RedisCommandSending, node: String, timeout: Duration) {
        self.client = client
        self.node = node
        self.timeout = timeout
    }

    static func base(_ room: String) -> String { room.isEmpty ? usersKey : prefix + room }

    /// Room and sub in one field, the room length first (neither may hold a separator that is safe from the other).
    static func field(room: String, subject: String) -> String { "\(room.utf8.count):\(room)\(subject)" }

    /// ARGV[5] `add`: this node's count changes by ARGV[2]; `set`: it becomes ARGV[2]. Returns {transition, users,
    /// sequence, info of a member that left}.
    static let changeScript = RedisScript("""
        local own = tonumber(redis.call('HGET', KEYS[4], ARGV[4]) or '0')
        local delta = tonumber(ARGV[2])
        if ARGV[5] == 'set' then delta = delta - own end
        if delta == 0 then return {0, redis.call('HLEN', KEYS[1]), 0} end
        if own + delta <= 0 then redis.call('HDEL', KEYS[4], ARGV[4]) else redis.call('HSET', KEYS[4], ARGV[4], own + delta) end
        local total = redis.call('HINCRBY', KEYS[1], ARGV[1], delta)
        local connections = redis.call('INCRBY', KEYS[3], delta)
        if connections <= 0 then redis.call('DEL', KEYS[3]) end
        local transition = 0
        local info = false
        if delta > 0 then
          if total == delta then
            redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
            transition = 1
          end
        elseif total <= 0 then
          info = redis.call('HGET', KEYS[2], ARGV[1])
          redis.call('HDEL', KEYS[1], ARGV[1])
          redis.call('HDEL', KEYS[2], ARGV[1])
          transition = -1
        end
        local sequence = 0
        if transition ~= 0 then sequence = redis.call('INCR', KEYS[5]) end
        return {transition, redis.call('HLEN', KEYS[1]), sequence, info}
        """)

    public func change(room: String, subject: String, info: String, delta: Int) -> EventLoopFuture<PresenceOutcome> {
        run(room: room, subject: subject, info: info, count: delta, mode: "add")
    }

    public func assert(room: String, subject: String, info: String, count: Int) -> EventLoopFuture<PresenceOutcome> {
        run(room: room, subject: subject, info: info, count: count, mode: "set")
    }

    private func run(room: String, subject: String, info: String, count: Int, mode: String) -> EventLoopFuture<PresenceOutcome> {
        let base = Self.base(room)
        return Self.changeScript.run(
            on: client, keys: [base + ":m", base + ":i", base + ":c", nodeKey, Self.prefix + "sequence"],
            arguments: [subject, String(count), info, Self.field(room: room, subject: subject), mode]
        ).flatMapThrowing { reply, reloaded in
            guard let parts = reply.elements, parts.count >= 3, let transition = parts[0].integer, let users = parts[1].integer,
                  let sequence = parts[2].integer
            else { throw RedisError.unexpectedReply(reply) }
            return PresenceOutcome(transition: transition > 0 ? .joined : transition < 0 ? .left : .unchanged,
                                   users: Int(clamping: users), sequence: Int(clamping: sequence),
                                   info: parts.count > 3 ? parts[3].string : nil, reloaded: reloaded)
        }
    }

    var nodeKey: String { Self.prefix + "node:" + node }

    /// Fields read per `HSCAN` reply, and the most `ownMembers` collects (a reply beyond it is not this node's).
    static let scanCount = 1000
    static let maxOwnMembers = 10_000_000

    public func ownMembers() async throws -> [(room: String, subject: String)] {
        var members: [(room: String, subject: String)] = []
        var cursor = "0"
        repeat {
            let reply = try await client.send(RedisCommand("HSCAN", arguments: [nodeKey, cursor, "COUNT", String(Self.scanCount)]))
            guard let parts = reply.elements, parts.count == 2, let next = parts[0].string, let flat = parts[1].elements,
                  members.count + flat.count / 2 <= Self.maxOwnMembers
            else { throw RedisError.unexpectedReply(reply) }
            for index in stride(from: 0, to: flat.count - 1, by: 2) {
                if let field = flat[index].string, let member = Self.parse(field: field) { members.append(member) }
            }
            cursor = next
        } while cursor != "0"
        return members
    }

    /// The inverse of `field(room:subject:)`; nil for a field it did not write.
    static func parse(field: String) -> (room: String, subject: String)? {
        let bytes = Array(field.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0, colon <= 9,
              bytes[..<colon].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let length = Int(String(decoding: bytes[..<colon], as: UTF8.self)), length <= bytes.count - colon - 1
        else { return nil }
        let roomEnd = colon + 1 + length
        return (String(decoding: bytes[(colon + 1)..<roomEnd], as: UTF8.self), String(decoding: bytes[roomEnd...], as: UTF8.self))
    }

    static let snapshotScript = RedisScript("""
        local users = redis.call('HLEN', KEYS[1])
        local connections = tonumber(redis.call('GET', KEYS[3]) or '0')
        local limit = tonumber(ARGV[1])
        local members
        if users <= limit then
          members = redis.call('HGETALL', KEYS[2])
        elseif limit == 0 then
          members = {}
        else
          members = redis.call('HRANDFIELD', KEYS[2], limit, 'WITHVALUES')
        end
        return {users, connections, members}
        """)

    public func snapshot(room: String, limit: Int) async throws -> PresenceSnapshot {
        let base = Self.base(room)
        let reply = try await Self.snapshotScript.run(on: client, keys: [base + ":m", base + ":i", base + ":c"],
                                                      arguments: [String(max(0, limit))])
        guard let parts = reply.elements, parts.count == 3, let users = parts[0].integer, let connections = parts[1].integer,
              let flat = parts[2].elements
        else { throw RedisError.unexpectedReply(reply) }
        var members: [(subject: String, info: String)] = []
        var index = 0
        while index + 1 < flat.count, members.count < limit {
            if let subject = flat[index].string { members.append((subject, flat[index + 1].string ?? "{}")) }
            index += 2
        }
        members.sort { $0.subject < $1.subject }
        return PresenceSnapshot(users: Int(clamping: users), connections: Int(clamping: max(0, connections)), members: members)
    }

    static let heartbeatScript = RedisScript("""
        local now = redis.call('TIME')
        local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
        redis.call('ZADD', KEYS[1], ms, ARGV[1])
        if known then return 1 end
        return 0
        """)

    public func heartbeat() async throws -> Bool {
        let reply = try await Self.heartbeatScript.run(on: client, keys: [Self.prefix + "nodes"], arguments: [node])
        guard let known = reply.integer else { throw RedisError.unexpectedReply(reply) }
        return known == 1
    }

    /// Takes node ARGV[1] out (unless it beat after the cutoff: ARGV[2] ms before now, -1 for "whatever its age")
    /// and gives back its share of every room; returns {room, sub, info, users, sequence} per member that left.
    static let reapScript = RedisScript("""
        local now = redis.call('TIME')
        local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
        local cutoff = tonumber(ARGV[2])
        if cutoff >= 0 and (not score or tonumber(score) > ms - cutoff) then return {} end
        redis.call('ZREM', KEYS[1], ARGV[1])
        local nodeKey = ARGV[3] .. 'node:' .. ARGV[1]
        local entries = redis.call('HGETALL', nodeKey)
        redis.call('DEL', nodeKey)
        local out = {}
        for k = 1, #entries, 2 do
          local field = entries[k]
          local count = tonumber(entries[k + 1])
          local length = tonumber(string.match(field, '^(%d+):'))
          local skip = #tostring(length) + 1
          local room = string.sub(field, skip + 1, skip + length)
          local sub = string.sub(field, skip + length + 1)
          local base = ARGV[4]
          if length > 0 then base = ARGV[3] .. room end
          local total = redis.call('HINCRBY', base .. ':m', sub, -count)
          if redis.call('DECRBY', base .. ':c', count) <= 0 then redis.call('DEL', base .. ':c') end
          if total <= 0 then
            local info = redis.call('HGET', base .. ':i', sub) or '{}'
            redis.call('HDEL', base .. ':m', sub)
            redis.call('HDEL', base .. ':i', sub)
            table.insert(out, room)
            table.insert(out, sub)
            table.insert(out, info)
            table.insert(out, redis.call('HLEN', base .. ':m'))
            table.insert(out, redis.call('INCR', ARGV[3] .. 'sequence'))
          end
        end
        return out
        """)

    public func reap() async throws -> [PresenceDeparture] {
        let milliseconds = max(1, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let stale = try await Self.staleScript.run(on: client, keys: [Self.prefix + "nodes"], arguments: [String(milliseconds)])
        var departures: [PresenceDeparture] = []
        for dead in (stale.elements ?? []).compactMap(\.string) where dead != node {
            departures += try await reap(node: dead, cutoff: milliseconds)
        }
        return departures
    }

    /// Up to 16 nodes whose heartbeat is older than ARGV[1] ms.
    static let staleScript = RedisScript(
        "local now = redis.call('TIME') return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', tonumber(now[1]) * 1000 - tonumber(ARGV[1]), 'LIMIT', 0, 16)")

    public func leaveCluster() async throws -> [PresenceDeparture] {
        try await reap(node: node, cutoff: -1)
    }

    private func reap(node: String, cutoff: Int64) async throws -> [PresenceDeparture] {
        let reply = try await Self.reapScript.run(on: client, keys: [Self.prefix + "nodes"],
                                                  arguments: [node, String(cutoff), Self.prefix, Self.usersKey])
        guard let flat = reply.elements else { throw RedisError.unexpectedReply(reply) }
        var departures: [PresenceDeparture] = []
        var index = 0
        while index + 4 < flat.count {
            if let room = flat[index].string, let subject = flat[index + 1].string {
                departures.append(PresenceDeparture(
                    room: room, subject: subject, info: flat[index + 2].string ?? "{}",
                    users: Int(clamping: flat[index + 3].integer ?? 0), sequence: Int(clamping: flat[index + 4].integer ?? 0)))
            }
            index += 5
        }
        return departures
    }
}
