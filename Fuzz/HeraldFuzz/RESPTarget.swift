import NIOCore
import HeraldRedis

/// RESP decoder: values come out the same whatever the split (byte 0 picks it); `nil` consumes nothing; a value
/// never exceeds the limits; every value re-encodes to bytes that decode to the same value.
func fuzzRESP(_ bytes: UnsafeRawBufferPointer) {
    guard let control = bytes.first else { return }
    let stream = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
    let limits = RESPDecoderLimits(maxBulkLength: 1024, maxArrayLength: 16, maxNestingDepth: 4, maxLineLength: 128)
    let whole = decodeAll(RESPDecoder(limits: limits), chunks: [stream])
    let split = decodeAll(RESPDecoder(limits: limits), chunks: fuzzChunks(stream, seed: control))
    fuzzCheck(whole.values == split.values, "values depend on the split")
    fuzzCheck(whole.failed == split.failed, "an error depends on the split")

    // Re-encoding may grow text (invalid UTF-8 becomes U+FFFD), so the round trip gets roomier line limits.
    let roomy = RESPDecoder(limits: RESPDecoderLimits(maxBulkLength: 1024, maxArrayLength: 16, maxNestingDepth: 4, maxLineLength: 1024))
    for value in whole.values {
        check(value, limits: limits, depth: 0)
        var encoded = ByteBuffer()
        RESPEncoder.write(value, into: &encoded)
        do {
            let again = try roomy.decode(&encoded)
            fuzzCheck(again == value, "round trip changed \(value) into \(String(describing: again))")
            fuzzCheck(encoded.readableBytes == 0, "re-encoded value left \(encoded.readableBytes) bytes")
        } catch {
            fuzzCheck(false, "re-encoded \(value) does not decode: \(error)")
        }
    }
}

private func decodeAll(_ decoder: RESPDecoder, chunks: [UnsafeRawBufferPointer]) -> (values: [RESPValue], failed: Bool) {
    var buffer = ByteBuffer()
    var values: [RESPValue] = []
    for chunk in chunks {
        buffer.writeBytes(chunk)
        do {
            while true {
                let before = buffer
                guard let value = try decoder.decode(&buffer) else {
                    fuzzCheck(buffer == before && buffer.readerIndex == before.readerIndex, "nil but bytes consumed")
                    break
                }
                fuzzCheck(buffer.readerIndex > before.readerIndex, "a value from no bytes")
                values.append(value)
            }
        } catch {
            return (values, true)
        }
    }
    return (values, false)
}

private func check(_ value: RESPValue, limits: RESPDecoderLimits, depth: Int) {
    fuzzCheck(depth <= limits.maxNestingDepth, "nesting \(depth)")
    switch value {
    case .bulkString(let payload?):
        fuzzCheck(payload.readableBytes <= limits.maxBulkLength, "bulk string of \(payload.readableBytes) bytes")
    case .array(let elements?), .push(let elements):
        fuzzCheck(elements.count <= limits.maxArrayLength, "array of \(elements.count) elements")
        for element in elements { check(element, limits: limits, depth: depth + 1) }
    case .simpleString(let text), .error(let text):
        fuzzCheck(!text.utf8.contains(UInt8(ascii: "\r")), "a line with CR")
    default:
        break
    }
}
