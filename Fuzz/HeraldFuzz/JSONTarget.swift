import NIOCore
import SocketIOProtocol

/// JSON parser (SocketIOProtocol): any input parses or throws; what parses writes a canonical form that
/// parses back to itself (write∘parse is idempotent), both entry points agree, and the output stays within
/// a constant factor of the input.
func fuzzJSON(_ bytes: UnsafeRawBufferPointer) {
    let buffer = ByteBuffer(bytes: bytes)
    guard let value = try? JSONValue(parsing: buffer) else {
        if let text = String(validating: bytes, as: UTF8.self) {
            fuzzCheck((try? JSONValue(parsing: text)) == nil, "String entry accepts what the ByteBuffer entry refuses")
        }
        return
    }
    if let text = String(validating: bytes, as: UTF8.self) {
        fuzzCheck((try? JSONValue(parsing: text)) == value, "String and ByteBuffer entries disagree")
    }
    let written = value.jsonString
    // Worst cases: 1e20 (4 bytes) → 21 digits; an invalid UTF-8 byte → U+FFFD (3 bytes).
    fuzzCheck(written.utf8.count <= 8 * bytes.count + 16, "output \(written.utf8.count) bytes for \(bytes.count) input bytes")
    guard let reparsed = try? JSONValue(parsing: written) else {
        fuzzCheck(false, "written form does not parse: \(written)")
        return
    }
    fuzzCheck(reparsed.jsonString == written, "not a fixed point: \(written) → \(reparsed.jsonString)")
}
