import NIOCore

/// A complete (reassembled) WebSocket data message.
public enum WebSocketMessage: Sendable, Equatable {
    /// A text message; the bytes are already validated as UTF-8.
    case text(ByteBuffer)
    /// A binary message.
    case binary(ByteBuffer)

    /// Convenience for building a text message from a String.
    public static func text(_ string: String) -> WebSocketMessage {
        .text(ByteBuffer(string: string))
    }

    /// The payload bytes.
    public var payload: ByteBuffer {
        switch self {
        case .text(let buffer), .binary(let buffer): return buffer
        }
    }

    var opcode: WebSocketOpcode {
        switch self {
        case .text: return .text
        case .binary: return .binary
        }
    }
}
