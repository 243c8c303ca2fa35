/// Redis Cluster's key → slot function: CRC16 (XMODEM) of the key, or of its hash tag (the text between the
/// first `{` and the next `}` when not empty), modulo 16384.
public enum RedisClusterSlot {
    public static let count = 16384

    public static func slot(of key: String) -> Int {
        let bytes = Array(key.utf8)
        var hashed = bytes[...]
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
           let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            hashed = bytes[(open + 1)..<close]
        }
        return Int(crc16(hashed) & 0x3FFF)
    }

    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }
}

/// A `MOVED slot host:port` or `ASK slot host:port` error reply, checked: slot within 0..<16384, port within
/// 1...65535, bounded length. An empty host means the node that sent the reply.
struct RedisRedirect: Hashable {
    enum Kind: Hashable { case moved, ask }
    let kind: Kind
    let slot: Int
    let endpoint: RedisEndpoint

    init?(_ message: String, sender: RedisEndpoint) {
        guard message.utf8.count <= 300 else { return nil }
        let parts = message.split(separator: " ")
        guard parts.count == 3 else { return nil }
        switch parts[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        guard let slot = Int(parts[1]), (0..<RedisClusterSlot.count).contains(slot),
              let colon = parts[2].lastIndex(of: ":"),
              let port = Int(parts[2][parts[2].index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        var host = parts[2][..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        self.slot = slot
        self.endpoint = RedisEndpoint(host: host.isEmpty ? sender.host : String(host), port: port)
    }
}

/// Which primary serves each slot, from `CLUSTER SLOTS`.
struct RedisSlotMap: Equatable {
    /// Per slot, an index into `primaries`, or `unowned`.
    private(set) var owners: [UInt16]
    private(set) var primaries: [RedisEndpoint]
    static let unowned = UInt16.max

    init() {
        owners = Array(repeating: Self.unowned, count: RedisClusterSlot.count)
        primaries = []
    }

    func primary(forSlot slot: Int) -> RedisEndpoint? {
        guard (0..<RedisClusterSlot.count).contains(slot) else { return nil }
        let owner = owners[slot]
        return owner == Self.unowned ? nil : primaries[Int(owner)]
    }

    func primary(for key: String) -> RedisEndpoint? { primary(forSlot: RedisClusterSlot.slot(of: key)) }

    var isComplete: Bool { !owners.contains(Self.unowned) }

    /// Points `slot` at `endpoint` (a `MOVED` seen before the next refresh).
    mutating func assign(slot: Int, to endpoint: RedisEndpoint) {
        guard (0..<RedisClusterSlot.count).contains(slot) else { return }
        if let index = primaries.firstIndex(of: endpoint) {
            owners[slot] = UInt16(index)
        } else if primaries.count < Int(Self.unowned) {
            primaries.append(endpoint)
            owners[slot] = UInt16(primaries.count - 1)
        }
    }

    /// Parses a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, …], replicas…], …]`. Anything out of
    /// range (slots, ports, more ranges than slots, hosts over 255 bytes) makes it nil. A host that is empty
    /// or `?` is `sender`'s.
    init?(clusterSlots reply: RESPValue, sender: RedisEndpoint) {
        self.init()
        guard let ranges = reply.elements, ranges.count <= RedisClusterSlot.count else { return nil }
        for range in ranges {
            guard let fields = range.elements, fields.count >= 3,
                  let start = fields[0].integer, let end = fields[1].integer,
                  start >= 0, start <= end, end < Int64(RedisClusterSlot.count),
                  let node = fields[2].elements, node.count >= 2,
                  let host = node[0].string, host.utf8.count <= 255,
                  let port = node[1].integer, (1...65535).contains(port)
            else { return nil }
            let endpoint = RedisEndpoint(host: host.isEmpty || host == "?" ? sender.host : host, port: Int(port))
            for slot in Int(start)...Int(end) { assign(slot: slot, to: endpoint) }
        }
    }
}
