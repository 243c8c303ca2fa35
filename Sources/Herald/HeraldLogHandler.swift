import Foundation
import Logging

/// One line per event on stderr, in the configured format: `json`, one object per line with time, level, label,
/// message and metadata as string fields; or `text`, `TIME LEVEL LABEL: key=value … message` for people.
///
/// Messages and metadata carry client-supplied text (room and event names, user agents, ids), so control
/// characters, line and paragraph separators and bidirectional overrides are escaped in both formats: a client
/// cannot start a forged line, drive a terminal or reorder what a reader sees. A struct of values: no shared state.
public struct HeraldLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let format: HeraldConfiguration.LogFormat

    public init(label: String, format: HeraldConfiguration.LogFormat) {
        self.label = label
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let time = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let message = event.message.description
        let line = switch format {
        case .json: Self.jsonLine(time: time, level: event.level, label: label, message: message, metadata: merged)
        case .text: Self.textLine(time: time, level: event.level, label: label, message: message, metadata: merged)
        }
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func jsonLine(time: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var fields: [(String, String)] = [("time", time), ("level", level.rawValue), ("label", label), ("message", message)]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { fields.append((key, "\(value)")) }
        var line = "{"
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { line += "," }
            line += "\"\(jsonEscape(key))\":\"\(jsonEscape(value))\""
        }
        return line + "}\n"
    }

    static func textLine(time: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "\(time) \(level.rawValue) \(textEscape(label)):"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { line += " \(textEscape(key))=\(textEscape("\(value)"))" }
        return line + " " + textEscape(message) + "\n"
    }

    static func jsonEscape(_ text: String) -> String { escape(text, json: true) }

    static func textEscape(_ text: String) -> String { escape(text, json: false) }

    /// Backslash escapes for `\\`, `\n`, `\r`, `\t` (and `"` in JSON), and for every other character that could
    /// end a line or change how one reads: `\u00XX` in JSON, `\u{XX}` in text. Everything else is kept.
    private static func escape(_ text: String, json: Bool) -> String {
        guard text.unicodeScalars.contains(where: { $0 == "\\" || (json && $0 == "\"") || needsEscape($0) }) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"" where json: result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case let c where needsEscape(c):
                result += json ? String(format: "\\u%04x", c.value) : "\\u{\(String(c.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// C0 and C1 controls, line and paragraph separators, bidirectional embeddings, overrides and isolates.
    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: true
        default: (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
        }
    }
}
