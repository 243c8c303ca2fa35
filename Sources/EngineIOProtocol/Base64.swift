import NIOCore
internal import ExtrasBase64

/// Standard base64 (with padding) between buffers, which Engine.IO uses for binary packets on the polling transport.
/// The coding itself is swift-extras-base64's (the package's one base64); this only writes straight into the buffers.
extension ByteBuffer {
    /// Appends the padded base64 of `bytes`; returns the number of bytes written.
    @discardableResult
    package mutating func writeBase64(_ bytes: ByteBufferView) -> Int {
        writeWithUnsafeMutableBytes(minimumWritableBytes: Base64.encodedLength(bytesCount: bytes.count)) { output in
            withContiguousBytes(bytes) { input in
                var span = output.assumingMemoryBound(to: UInt8.self).mutableSpan
                return Base64.encode(bytes: input.span, into: &span)
            }
        }
    }

    /// The bytes that padded or unpadded base64 stands for; nil for any other character or an impossible length.
    package init?(base64Decoding encoded: ByteBufferView) {
        var end = encoded.endIndex
        while end > encoded.startIndex, encoded[end - 1] == UInt8(ascii: "=") { end -= 1 }
        let trimmed = encoded[encoded.startIndex..<end]
        // The library reads a `=` inside the last group ("Zm=v") as padding; only trailing padding is base64.
        if trimmed.count >= 2, trimmed[end - 2] == UInt8(ascii: "=") { return nil }
        var decoded = ByteBuffer()
        var valid = true
        decoded.writeWithUnsafeMutableBytes(minimumWritableBytes: Base64.decodedLength(bytesCount: trimmed.count)) { output in
            withContiguousBytes(trimmed) { input in
                var span = output.assumingMemoryBound(to: UInt8.self).mutableSpan
                do {
                    return try Base64.decode(bytes: input.span, into: &span, options: .omitPaddingCharacter)
                } catch {
                    valid = false
                    return 0
                }
            }
        }
        guard valid else { return nil }
        self = decoded
    }
}

/// A view's bytes as one contiguous buffer (a `ByteBufferView` always has one; the copy is only a fallback).
private func withContiguousBytes<R>(_ bytes: ByteBufferView, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    bytes.withContiguousStorageIfAvailable(body) ?? Array(bytes).withUnsafeBufferPointer(body)
}
