import NIOCore
import NIOWebSocket

enum WebSocketMasking {
    /// Appends `source` XOR `mask` to `destination` in one pass (8 bytes at a time), so an
    /// inbound payload is copied out of the decoder's cumulation buffer exactly once.
    /// `maskOffset` is the source's position within the frame payload (the key repeats every 4 bytes).
    static func appendUnmasked(_ source: ByteBuffer, mask: WebSocketMaskingKey, maskOffset: Int = 0, to destination: inout ByteBuffer) {
        let count = source.readableBytes
        guard count > 0 else { return }
        var word: UInt64 = 0
        withUnsafeMutableBytes(of: &word) { bytes in
            for i in 0..<8 { bytes[i] = mask[(i + maskOffset) & 3] }
        }
        let maskWord = word
        destination.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { output in
            source.withUnsafeReadableBytes { input in
                var i = 0
                while i + 8 <= count {
                    let value = input.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ maskWord
                    output.storeBytes(of: value, toByteOffset: i, as: UInt64.self)
                    i += 8
                }
                while i < count {
                    output[i] = input[i] ^ mask[(i + maskOffset) & 3]
                    i += 1
                }
            }
            return count
        }
    }

    /// A fresh buffer holding the unmasked payload.
    static func unmasked(_ source: ByteBuffer, mask: WebSocketMaskingKey, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: source.readableBytes)
        appendUnmasked(source, mask: mask, to: &buffer)
        return buffer
    }
}
