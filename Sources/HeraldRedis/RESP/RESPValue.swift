import NIOCore

/// One RESP reply or request value (RESP2, plus RESP3's `_` null and `>` push frames).
///
/// Bulk payloads stay `ByteBuffer` slices of the read buffer: a published message is
/// never copied into a `String` or `[UInt8]` on its way to the subscriber handler.
public enum RESPValue: Sendable, Hashable {
    /// `+OK\r\n`. Simple strings cannot contain CR or LF.
    case simpleString(String)
    /// `-ERR message\r\n`: a server error reply, kept as a value so pipelined batches can carry it.
    case error(String)
    /// `:42\r\n`
    case integer(Int64)
    /// `$3\r\nfoo\r\n`; `nil` is RESP2's null bulk string `$-1\r\n`.
    case bulkString(ByteBuffer?)
    /// `*2\r\n...`; `nil` is RESP2's null array `*-1\r\n`.
    case array([RESPValue]?)
    /// RESP3 `_\r\n`.
    case null
    /// RESP3 out-of-band push frame `>3\r\n...` (pub/sub messages on a RESP3 connection).
    case push([RESPValue])
}

extension RESPValue {
    /// Convenience for tests and callers: a bulk string from UTF-8 text.
    public static func bulkString(_ string: String) -> RESPValue {
        .bulkString(ByteBuffer(string: string))
    }

    /// The value as text when it is a simple or bulk string.
    public var string: String? {
        switch self {
        case .simpleString(let s): return s
        case .bulkString(let b?): return String(buffer: b)
        default: return nil
        }
    }

    /// The integer value, or `nil` when the reply is not an integer.
    public var integer: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }

    /// Elements of an array or push frame.
    public var elements: [RESPValue]? {
        switch self {
        case .array(let a?): return a
        case .push(let a): return a
        default: return nil
        }
    }

    /// True for `$-1`, `*-1` and `_`.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil), .null: return true
        default: return false
        }
    }
}

extension RESPValue: ExpressibleByStringLiteral {
    /// A string literal is a bulk string, the type every command argument has on the wire.
    public init(stringLiteral value: String) {
        self = .bulkString(ByteBuffer(string: value))
    }
}

extension RESPValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) {
        self = .integer(value)
    }
}
