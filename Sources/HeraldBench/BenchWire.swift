import NIOCore

/// The few bytes of RFC 6455 and Engine.IO/Socket.IO text a bench client needs, written by hand so a
/// connection carries one handler and no HTTP or frame codec objects once it is up.
enum BenchWire {
    /// The upgrade request, built once and shared by every connection (ByteBuffer writes never copy it).
    /// The key is the RFC's sample nonce: the server only checks its form, and no client here checks the accept.
    static func upgradeRequest(host: String, port: Int, path: String) -> ByteBuffer {
        ByteBuffer(string:
            "GET \(path)?EIO=4&transport=websocket HTTP/1.1\r\n" +
            "Host: \(host):\(port)\r\n" +
            "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    }

    /// The bytes of an incomplete head or frame kept from the last read (taken out of `pending`), followed by `read`.
    static func joining(_ pending: inout ByteBuffer?, _ read: ByteBuffer) -> ByteBuffer {
        guard var held = pending else { return read }
        pending = nil
        var read = read
        held.writeBuffer(&read)
        return held
    }

    /// Index just past the `\r\n\r\n` that ends the HTTP response head, or nil when it has not all arrived.
    static func endOfHead(_ buffer: ByteBuffer) -> Int? {
        buffer.withUnsafeReadableBytes { bytes -> Int? in
            guard bytes.count >= 4 else { return nil }
            for i in 3..<bytes.count where bytes[i] == 10 && bytes[i - 1] == 13 && bytes[i - 2] == 10 && bytes[i - 3] == 13 {
                return i + 1
            }
            return nil
        }
    }

    /// Whether the head is `HTTP/1.1 101 …`.
    static func isSwitchingProtocols(_ buffer: ByteBuffer) -> Bool {
        buffer.getString(at: buffer.readerIndex + 9, length: 3) == "101"
    }

    /// One server frame off the front of `buffer` (server frames are never masked), or nil when incomplete.
    /// A masked or fragmented frame comes back with `valid == false`: herald never sends one.
    static func readFrame(_ buffer: inout ByteBuffer) -> (opcode: UInt8, payload: ByteBuffer, valid: Bool)? {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self),
              let second = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        var headerSize = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let extended = buffer.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            length = Int(extended)
            headerSize = 4
        } else if length == 127 {
            guard let extended = buffer.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            guard extended < 1 << 31 else { return (first & 0xF, ByteBuffer(), false) }
            length = Int(extended)
            headerSize = 10
        }
        guard buffer.readableBytes >= headerSize + length else { return nil }
        let payload = buffer.getSlice(at: start + headerSize, length: length)!
        buffer.moveReaderIndex(forwardBy: headerSize + length)
        return (first & 0xF, payload, first & 0x80 != 0 && second & 0x80 == 0)
    }

    /// The unsigned integer right after `"key":` in a small JSON text (the bench puts its numbers first).
    static func integer(after key: StaticString, in payload: ByteBuffer) -> UInt64? {
        payload.withUnsafeReadableBytes { bytes -> UInt64? in
            key.withUTF8Buffer { needle -> UInt64? in
                guard bytes.count > needle.count else { return nil }
                outer: for start in 0...(bytes.count - needle.count) {
                    for j in 0..<needle.count where bytes[start + j] != needle[j] { continue outer }
                    var i = start + needle.count
                    var value: UInt64 = 0
                    var digits = 0
                    while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                        value = value &* 10 &+ UInt64(bytes[i] - 48)
                        i += 1
                        digits += 1
                    }
                    return digits > 0 ? value : nil
                }
                return nil
            }
        }
    }

    /// Whether `payload` starts with `prefix`.
    static func hasPrefix(_ payload: ByteBuffer, _ prefix: StaticString) -> Bool {
        payload.withUnsafeReadableBytes { bytes in
            prefix.withUTF8Buffer { needle in
                bytes.count >= needle.count && (0..<needle.count).allSatisfy { bytes[$0] == needle[$0] }
            }
        }
    }
}

/// Monotonic microseconds (CLOCK_MONOTONIC on Linux is machine-wide, so stamps compare across processes).
@inline(__always) func nowMicros() -> UInt64 { NIODeadline.now().uptimeNanoseconds / 1000 }

/// A duration given in seconds on the command line, clamped to 0 s…1 day: `Int(Double)` traps on NaN, on the
/// infinities and past `Int.max`, and a bench option should never stop the process that way.
public func benchDuration(_ seconds: Double) -> Duration {
    guard seconds.isFinite, seconds > 0 else { return .zero }
    return .milliseconds(Int(min(seconds, 86_400) * 1000))
}
