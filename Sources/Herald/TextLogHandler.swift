import Foundation
import Logging

/// One line per event on stderr, `TIME LEVEL LABEL: key=value … message`, for people reading logs. Messages and
/// metadata carry client-supplied text (room and event names, user agents, ids), so control characters, line
/// and paragraph separators and bidirectional overrides are escaped: a client cannot start a forged line or
/// reorder what a reader sees. A struct of values: no shared state.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let time = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        FileHandle.standardError.write(Data(Self.line(time: time, level: event.level, label: label,
                                                     message: event.message.description, metadata: merged).utf8))
    }

    /// The formatted line, newline included.
    static func line(time: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "\(time) \(level.rawValue) \(escape(label)):"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { line += " \(escape(key))=\(escape("\(value)"))" }
        return line + " " + escape(message) + "\n"
    }

    /// Backslash escapes for `\\`, `\n`, `\r`, `\t` and `\u{…}` for every other character that could end a line
    /// or change how one reads; everything else is kept.
    static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case let scalar where needsEscape(scalar): result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Also used by `JSONLogHandler`, whose lines are read on terminals too.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: return true
        default: return scalar == "\\" || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
        }
    }
}
