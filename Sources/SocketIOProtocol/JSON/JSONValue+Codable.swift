#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore

/// Bridges for application code; not on the hot path, so Foundation's coders are fine.
/// `.binary` values have no Codable form and travel as `null`.
extension JSONValue {
    public init(encoding value: some Encodable) throws {
        let data = try JSONEncoder().encode(value)
        var buffer = ByteBufferAllocator().buffer(capacity: data.count)
        buffer.writeBytes(data)
        self = try JSONValue(parsing: buffer)
    }

    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        write(to: &buffer)
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }
}
