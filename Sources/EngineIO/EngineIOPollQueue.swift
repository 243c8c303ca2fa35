import EngineIOProtocol
import NIOCore

/// What a polling session holds for its client until the next GET, with the byte count that
/// `maxBufferedBytes` bounds. A value owned by the session's state machine (see `EngineIOSessionStateMachine`).
struct EngineIOPollQueue: Equatable {
    enum Item: Equatable {
        case packet(EngineIOPacket)
        case prepared(EngineIOPreparedMessage)

        /// Bytes the item counts for: what it puts in a payload (a binary packet as base64, about 4/3 of its size).
        var size: Int {
            switch self {
            case .prepared(let message): message.wireSize
            case .packet(.binary(let data)): 2 + data.readableBytes * 4 / 3
            case .packet: 2
            }
        }
    }

    private(set) var items: [Item] = []
    private(set) var bytes = 0

    var isEmpty: Bool { items.isEmpty }

    mutating func append(_ item: Item) {
        items.append(item)
        bytes += item.size
    }

    /// Empties the queue into one polling payload (packets separated by the record separator, each attachment
    /// of a message a binary packet of its own right after it).
    mutating func takePayload() -> ByteBuffer {
        var payload = ByteBuffer()
        payload.reserveCapacity(bytes + items.count)
        var first = true
        for item in items {
            if !first { payload.writeInteger(EngineIOPollingPayload.separator) }
            first = false
            switch item {
            case .packet(let packet):
                packet.encode(into: &payload)
            case .prepared(let message):
                var text = message.textPacket
                payload.writeBuffer(&text)
                for attachment in message.attachments {
                    payload.writeInteger(EngineIOPollingPayload.separator)
                    EngineIOPacket.binary(attachment).encode(into: &payload)
                }
            }
        }
        items.removeAll(keepingCapacity: false)
        bytes = 0
        return payload
    }

    /// Empties the queue, handing its items over (to a websocket after an upgrade).
    mutating func takeItems() -> [Item] {
        defer {
            items = []
            bytes = 0
        }
        return items
    }
}
