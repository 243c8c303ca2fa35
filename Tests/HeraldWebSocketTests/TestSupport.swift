import NIOCore
import NIOEmbedded
import NIOWebSocket
@testable import HeraldWebSocket

/// Records delegate calls; optionally echoes every message.
final class RecordingDelegate: WebSocketConnectionDelegate {
    var messages: [WebSocketMessage] = []
    var closes: [(code: WebSocketCloseCode, reason: String)] = []
    var writability: [Bool] = []
    var echo: Bool

    init(echo: Bool = false) { self.echo = echo }

    func webSocket(_ connection: WebSocketConnection, didReceive message: WebSocketMessage) {
        messages.append(message)
        if echo { connection.send(message) }
    }

    func webSocket(_ connection: WebSocketConnection, didCloseWith code: WebSocketCloseCode, reason: String) {
        closes.append((code, reason))
    }

    func webSocket(_ connection: WebSocketConnection, writabilityChanged isWritable: Bool) {
        writability.append(isWritable)
    }
}

/// Counts flushes that reach the socket end of the pipeline.
final class FlushCounter: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    var flushes = 0

    func flush(context: ChannelHandlerContext) {
        flushes += 1
        context.flush()
    }
}

/// A client frame as a browser would send it: masked with `mask`.
func clientFrame(
    _ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: [UInt8]? = [0x37, 0xFA, 0x21, 0x3D]
) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger((fin ? 0x80 : 0) | (rsv << 4) | opcode)
    let maskBit: UInt8 = mask == nil ? 0 : 0x80
    if payload.count <= 125 {
        buffer.writeInteger(maskBit | UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
        buffer.writeInteger(maskBit | 126)
        buffer.writeInteger(UInt16(payload.count))
    } else {
        buffer.writeInteger(maskBit | 127)
        buffer.writeInteger(UInt64(payload.count))
    }
    if let mask {
        buffer.writeBytes(mask)
        buffer.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset & 3] })
    } else {
        buffer.writeBytes(payload)
    }
    return buffer
}

func closePayload(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
    [UInt8(code >> 8), UInt8(code & 0xFF)] + reason
}

/// An EmbeddedChannel holding [flush counter, connection], as after an upgrade.
struct Harness {
    let channel = EmbeddedChannel()
    let connection: WebSocketConnection
    let delegate: RecordingDelegate
    let flushCounter = FlushCounter()

    init(configuration: WebSocketConfiguration = WebSocketConfiguration(), echo: Bool = false) throws {
        connection = WebSocketConnection(configuration: configuration)
        delegate = RecordingDelegate(echo: echo)
        connection.delegate = delegate
        try channel.pipeline.syncOperations.addHandlers(
            flushCounter,
            connection)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    func send(_ frame: ByteBuffer) throws {
        try channel.writeInbound(frame)
    }

    /// Runs pending loop tasks (scheduled flushes) and returns every byte written so far.
    func output() throws -> [UInt8] {
        channel.embeddedEventLoop.run()
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            bytes += buffer.readableBytesView
        }
        return bytes
    }
}
