import NIOCore

/// The handshake data the server sends in the `open` packet.
public struct EngineIOOpenPayload: Hashable, Sendable {
    public var sid: String
    public var upgrades: [String]
    /// Milliseconds, as on the wire.
    public var pingInterval: Int
    public var pingTimeout: Int
    public var maxPayload: Int

    public init(sid: String, upgrades: [String], pingInterval: Int, pingTimeout: Int, maxPayload: Int) {
        self.sid = sid
        self.upgrades = upgrades
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.maxPayload = maxPayload
    }

    /// Compact JSON in the reference server's key order. Session ids and transport names are URL-safe, so no escaping is needed.
    public func writeJSON(into buffer: inout ByteBuffer) {
        buffer.writeString(#"{"sid":""#)
        buffer.writeString(sid)
        buffer.writeString(#"","upgrades":["#)
        for (index, upgrade) in upgrades.enumerated() {
            if index > 0 { buffer.writeString(",") }
            buffer.writeString("\"\(upgrade)\"")
        }
        buffer.writeString(#"],"pingInterval":"#)
        buffer.writeString(String(pingInterval))
        buffer.writeString(#","pingTimeout":"#)
        buffer.writeString(String(pingTimeout))
        buffer.writeString(#","maxPayload":"#)
        buffer.writeString(String(maxPayload))
        buffer.writeString("}")
    }

    public var packet: EngineIOPacket {
        var buffer = ByteBuffer()
        writeJSON(into: &buffer)
        return .open(buffer)
    }
}
