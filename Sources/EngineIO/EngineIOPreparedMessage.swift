import EngineIOProtocol
import NIOCore
import HeraldWebSocket

/// A message encoded once and shared by every recipient: a complete WebSocket text frame holding `4<payload>`,
/// plus its binary attachments, pre-framed too. Polling recipients use the same bytes without the frame header.
public struct EngineIOPreparedMessage: Sendable, Equatable {
    /// The WebSocket text frame (header + `4` + payload).
    public let frame: ByteBuffer
    /// Offset of `4` inside `frame`'s readable bytes.
    let payloadOffset: Int
    /// Raw binary attachments, each sent as its own Engine.IO binary message.
    public let attachments: [ByteBuffer]
    /// The attachments as WebSocket binary frames.
    let attachmentFrames: [ByteBuffer]

    /// Builds the message: `body` appends the text payload (after the `4`) and returns any binary attachments.
    public init(allocator: ByteBufferAllocator = ByteBufferAllocator(), capacity: Int = 64,
                _ body: (inout ByteBuffer) -> [ByteBuffer]) {
        var buffer = allocator.buffer(capacity: capacity + WebSocketFrameBuilder.maxServerHeaderSize + 1)
        let payloadStart = WebSocketFrameBuilder.reserveHeader(in: &buffer)
        buffer.writeInteger(EngineIOPacketType.message.rawValue)
        let attachments = body(&buffer)
        WebSocketFrameBuilder.finishFrame(in: &buffer, opcode: .text, payloadStart: payloadStart)
        self.payloadOffset = payloadStart - buffer.readerIndex
        self.frame = buffer
        self.attachments = attachments
        self.attachmentFrames = attachments.map {
            WebSocketFrameBuilder.makeFrame(opcode: .binary, payload: $0, allocator: allocator)
        }
    }

    public init(text: String) {
        self.init(capacity: text.utf8.count) { buffer in
            buffer.writeString(text)
            return []
        }
    }

    /// `4<payload>` without the frame header: the text packet as it goes into a polling payload.
    public var textPacket: ByteBuffer {
        frame.getSlice(at: frame.readerIndex + payloadOffset, length: frame.readableBytes - payloadOffset)!
    }

    /// Bytes this message puts on a websocket.
    public var wireSize: Int { attachmentFrames.reduce(frame.readableBytes) { $0 + $1.readableBytes } }
}
