import NIOCore

/// A streaming UTF-8 validator (a small DFA over RFC 3629's well-formed byte sequences).
///
/// It rejects at the first byte that cannot start or continue a valid sequence, so overlong
/// forms, surrogates (U+D800–DFFF) and code points above U+10FFFF fail as early as possible,
/// even when a sequence is split across fragments. Linear time, no allocation.
public struct WebSocketUTF8Validator: Sendable {
    // States: what the next byte must be.
    private static let accept: UInt8 = 0
    private static let tail1: UInt8 = 1        // one more 80..BF
    private static let tail2: UInt8 = 2        // two more 80..BF
    private static let tail3: UInt8 = 3        // three more 80..BF
    private static let afterE0: UInt8 = 4      // A0..BF then tail1 (rules out overlong 3-byte)
    private static let afterED: UInt8 = 5      // 80..9F then tail1 (rules out surrogates)
    private static let afterF0: UInt8 = 6      // 90..BF then tail2 (rules out overlong 4-byte)
    private static let afterF4: UInt8 = 7      // 80..8F then tail2 (rules out > U+10FFFF)
    private static let reject: UInt8 = 8

    private var state: UInt8 = 0

    public init() {}

    /// True when every byte fed so far forms complete, valid characters.
    public var isComplete: Bool { state == Self.accept }

    /// True once an invalid byte has been seen; the validator stays failed.
    public var hasFailed: Bool { state == Self.reject }

    public mutating func reset() { state = Self.accept }

    /// Feeds bytes; returns the offset (within `bytes`) of the first invalid byte, or nil.
    public mutating func feed(_ buffer: ByteBuffer) -> Int? {
        buffer.withUnsafeReadableBytes { self.feed($0) }
    }

    /// Feeds bytes; returns the offset (within `bytes`) of the first invalid byte, or nil.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Int? {
        if state == Self.reject { return 0 }
        var s = state
        var i = 0
        let n = bytes.count
        guard let base = bytes.baseAddress else { return nil }
        while i < n {
            // ASCII fast path: 8 bytes at a time while between characters.
            if s == Self.accept {
                while i + 8 <= n {
                    let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    i += 8
                }
                if i >= n { break }
            }
            let b = base.load(fromByteOffset: i, as: UInt8.self)
            s = Self.step(s, b)
            if s == Self.reject {
                state = s
                return i
            }
            i += 1
        }
        state = s
        return nil
    }

    @inline(__always)
    private static func step(_ s: UInt8, _ b: UInt8) -> UInt8 {
        switch s {
        case accept:
            switch b {
            case 0x00...0x7F: return accept
            case 0xC2...0xDF: return tail1
            case 0xE0: return afterE0
            case 0xE1...0xEC, 0xEE...0xEF: return tail2
            case 0xED: return afterED
            case 0xF0: return afterF0
            case 0xF1...0xF3: return tail3
            case 0xF4: return afterF4
            default: return reject   // 80..C1 (stray continuation / overlong lead), F5..FF
            }
        case tail1: return (0x80...0xBF).contains(b) ? accept : reject
        case tail2: return (0x80...0xBF).contains(b) ? tail1 : reject
        case tail3: return (0x80...0xBF).contains(b) ? tail2 : reject
        case afterE0: return (0xA0...0xBF).contains(b) ? tail1 : reject
        case afterED: return (0x80...0x9F).contains(b) ? tail1 : reject
        case afterF0: return (0x90...0xBF).contains(b) ? tail2 : reject
        case afterF4: return (0x80...0x8F).contains(b) ? tail2 : reject
        default: return reject
        }
    }

    /// Validates a complete byte sequence.
    public static func isValid(_ buffer: ByteBuffer) -> Bool {
        var v = WebSocketUTF8Validator()
        return v.feed(buffer) == nil && v.isComplete
    }
}
