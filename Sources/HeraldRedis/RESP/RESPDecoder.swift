import NIOCore

/// Limits that bound what a (possibly hostile or broken) peer can make the decoder buffer or recurse into.
public struct RESPDecoderLimits: Sendable, Hashable {
    /// Largest bulk string accepted. Default 512 MiB, Redis's own `proto-max-bulk-len`.
    public var maxBulkLength: Int
    /// Largest array (or push frame) element count accepted. Default 1 048 576.
    public var maxArrayLength: Int
    /// Deepest nesting of arrays accepted. Default 32; Redis replies nest a few levels at most.
    public var maxNestingDepth: Int
    /// Longest `+`, `-` or `:` line (and length header) accepted without its CRLF. Default 64 KiB.
    public var maxLineLength: Int

    public init(
        maxBulkLength: Int = 512 * 1024 * 1024,
        maxArrayLength: Int = 1_048_576,
        maxNestingDepth: Int = 32,
        maxLineLength: Int = 64 * 1024
    ) {
        self.maxBulkLength = maxBulkLength
        self.maxArrayLength = maxArrayLength
        self.maxNestingDepth = maxNestingDepth
        self.maxLineLength = maxLineLength
    }
}

/// A protocol violation in the byte stream; the connection cannot be resynchronised after one.
public struct RESPDecodingError: Error, Hashable, CustomStringConvertible {
    private enum Kind: Hashable {
        case invalidTypeByte(UInt8)
        case invalidInteger
        case invalidLineTerminator
        case bulkTooLong(Int)
        case arrayTooLong(Int)
        case nestingTooDeep
        case lineTooLong
    }
    private let kind: Kind
    private init(_ kind: Kind) { self.kind = kind }

    public static func invalidTypeByte(_ byte: UInt8) -> Self { .init(.invalidTypeByte(byte)) }
    public static let invalidInteger = Self(.invalidInteger)
    public static let invalidLineTerminator = Self(.invalidLineTerminator)
    public static func bulkTooLong(_ length: Int) -> Self { .init(.bulkTooLong(length)) }
    public static func arrayTooLong(_ count: Int) -> Self { .init(.arrayTooLong(count)) }
    public static let nestingTooDeep = Self(.nestingTooDeep)
    public static let lineTooLong = Self(.lineTooLong)

    public var description: String {
        switch kind {
        case .invalidTypeByte(let b): return "RESP: invalid type byte 0x\(String(b, radix: 16))"
        case .invalidInteger: return "RESP: invalid integer"
        case .invalidLineTerminator: return "RESP: expected CRLF"
        case .bulkTooLong(let n): return "RESP: bulk string of \(n) bytes exceeds the limit"
        case .arrayTooLong(let n): return "RESP: array of \(n) elements exceeds the limit"
        case .nestingTooDeep: return "RESP: arrays nested deeper than the limit"
        case .lineTooLong: return "RESP: line exceeds the limit without CRLF"
        }
    }
}

/// Decodes RESP values from a byte stream, whatever the split points.
///
/// Standalone: call `decode(_:)` with the accumulated bytes; it returns `nil` and consumes
/// nothing until a whole value is there. As a channel handler: wrap in `ByteToMessageHandler`.
/// An incomplete value is re-parsed from its start when more bytes arrive; bulk payloads are
/// skipped by length, so the re-parse cost is per element, not per byte.
public struct RESPDecoder: Sendable {
    public var limits: RESPDecoderLimits

    public init(limits: RESPDecoderLimits = .init()) {
        self.limits = limits
    }

    /// One complete value from the front of `buffer`, or `nil` (nothing consumed) when more bytes are needed.
    public func decode(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        var copy = buffer  // cheap: shares storage; only advanced when a whole value parsed
        guard let value = try parseValue(&copy, depth: 0) else { return nil }
        buffer = copy
        return value
    }

    private func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            guard let line = try readLine(&buffer) else { return nil }
            return .simpleString(String(buffer: line))
        case UInt8(ascii: "-"):
            guard let line = try readLine(&buffer) else { return nil }
            return .error(String(buffer: line))
        case UInt8(ascii: ":"):
            guard let line = try readLine(&buffer) else { return nil }
            return .integer(try Self.parseInteger(line))
        case UInt8(ascii: "_"):
            guard let line = try readLine(&buffer) else { return nil }
            guard line.readableBytes == 0 else { throw RESPDecodingError.invalidLineTerminator }
            return .null
        case UInt8(ascii: "$"):
            guard let line = try readLine(&buffer) else { return nil }
            let length = try Self.parseInteger(line)
            if length == -1 { return .bulkString(nil) }
            guard length >= 0 else { throw RESPDecodingError.invalidInteger }
            guard length <= limits.maxBulkLength else { throw RESPDecodingError.bulkTooLong(Int(length)) }
            let n = Int(length)
            // Subtracting, so a configured maximum near Int.max cannot overflow.
            guard buffer.readableBytes >= 2, buffer.readableBytes - 2 >= n else { return nil }
            let payload = buffer.readSlice(length: n)!
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else {
                throw RESPDecodingError.invalidLineTerminator
            }
            return .bulkString(payload)
        case UInt8(ascii: "*"), UInt8(ascii: ">"):
            guard let line = try readLine(&buffer) else { return nil }
            let count = try Self.parseInteger(line)
            if count == -1 && type == UInt8(ascii: "*") { return .array(nil) }
            guard count >= 0 else { throw RESPDecodingError.invalidInteger }
            guard count <= limits.maxArrayLength else { throw RESPDecodingError.arrayTooLong(Int(count)) }
            guard depth < limits.maxNestingDepth else { throw RESPDecodingError.nestingTooDeep }
            var elements: [RESPValue] = []
            // Reserve only what is plausibly present, so a hostile count cannot allocate up front.
            elements.reserveCapacity(min(Int(count), buffer.readableBytes / 3 + 1))
            for _ in 0..<count {
                guard let element = try parseValue(&buffer, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return type == UInt8(ascii: "*") ? .array(elements) : .push(elements)
        default:
            throw RESPDecodingError.invalidTypeByte(type)
        }
    }

    /// The line after the type byte, without CRLF; `nil` when the CRLF has not arrived yet.
    private func readLine(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        let view = buffer.readableBytesView.dropFirst()
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")) else {
            if view.count > limits.maxLineLength { throw RESPDecodingError.lineTooLong }
            return nil
        }
        let lineLength = cr - view.startIndex
        if lineLength > limits.maxLineLength { throw RESPDecodingError.lineTooLong }
        guard cr + 1 < view.endIndex else { return nil }
        guard view[cr + 1] == UInt8(ascii: "\n") else { throw RESPDecodingError.invalidLineTerminator }
        buffer.moveReaderIndex(forwardBy: 1)
        let line = buffer.readSlice(length: lineLength)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    /// Strict decimal: optional '-', 1...19 digits, no spaces or '+'.
    static func parseInteger(_ line: ByteBuffer) throws -> Int64 {
        let bytes = line.readableBytesView
        var index = bytes.startIndex
        var negative = false
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < bytes.endIndex, bytes.endIndex - index <= 19 else { throw RESPDecodingError.invalidInteger }
        var value: Int64 = 0
        while index < bytes.endIndex {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { throw RESPDecodingError.invalidInteger }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(digit))
            guard !o1, !o2 else { throw RESPDecodingError.invalidInteger }
            value = a
            index += 1
        }
        return negative ? -value : value
    }
}

extension RESPDecoder: ByteToMessageDecoder {
    public typealias InboundOut = RESPValue

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try decode(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        // A partial value at EOF is simply lost with the connection; pending commands fail on close.
        try decode(context: context, buffer: &buffer)
    }
}
