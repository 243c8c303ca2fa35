/// Why a JSON text was rejected, and the byte offset where that was noticed.
public struct JSONParseError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Reason: Hashable, Sendable {
        case unexpectedEnd
        case unexpectedByte(UInt8)
        case invalidNumber
        case invalidEscape
        case controlCharacterInString
        case tooDeep
        case trailingData
    }

    let reason: Reason
    /// Offset in bytes from the start of the input (for a packet payload: of the packet text).
    public let offset: Int

    init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch reason {
        case .unexpectedEnd: what = "unexpected end of input"
        case .unexpectedByte(let byte):
            what = byte >= 0x20 && byte < 0x7F
                ? "unexpected character '\(Character(Unicode.Scalar(byte)))'"
                : "unexpected byte 0x\(String(byte, radix: 16))"
        case .invalidNumber: what = "invalid number"
        case .invalidEscape: what = "invalid escape sequence"
        case .controlCharacterInString: what = "unescaped control character in string"
        case .tooDeep: what = "nesting deeper than \(JSONParser.maximumDepth)"
        case .trailingData: what = "unexpected data after the JSON value"
        }
        return "invalid JSON at offset \(offset): \(what)"
    }
}
