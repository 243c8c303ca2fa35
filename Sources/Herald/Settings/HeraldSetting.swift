import Foundation
import HeraldStore

/// One setting of `herald serve`, declared once: its name gives the flag (`--max-payload`), the environment
/// variable (`HERALD_MAX_PAYLOAD`) and the configuration file key (`maxPayload`); its default is read from a
/// default `HeraldConfiguration`, so the struct's doc comment stays the one place a default is written.
/// Immutable values, shared freely.
public struct HeraldSetting: Sendable {
    /// Kebab-case name, e.g. `max-payload`.
    public let name: String
    public let help: String
    /// What the value looks like in help: `ms`, `bytes`, `url`, …
    public let placeholder: String
    /// Printed masked by `herald config`.
    public let isSecret: Bool
    /// A URL whose password `herald config` masks.
    public let isURL: Bool
    /// A comma-separated list of URLs whose credentials (`user:password@`, `token@`) `herald config` masks.
    public let isURLList: Bool
    /// A switch: `--name` alone means 1.
    public let isSwitch: Bool
    /// The default in words where it is not a fixed value (e.g. "one per core"), else nil.
    public let defaultNote: String?
    let read: @Sendable (HeraldConfiguration) -> String
    let write: @Sendable (inout HeraldConfiguration, String) throws(Problem) -> Void

    /// What is wrong with a value, without the setting's name (the loader adds how the value was given).
    public struct Problem: Error, Sendable {
        public let text: String
        public init(_ text: String) { self.text = text }
    }

    public var flag: String { "--" + name }
    public var environmentName: String { "HERALD_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }
    /// camelCase: `max-payload` → `maxPayload`.
    public var fileKey: String {
        let words = name.split(separator: "-")
        return words.enumerated().map { $0.offset == 0 ? String($0.element) : $0.element.prefix(1).uppercased() + $0.element.dropFirst() }
            .joined()
    }

    /// The default as `herald serve --help` and `herald config` show it ("" when unset).
    public var defaultText: String { defaultNote ?? read(HeraldConfiguration()) }

    /// This setting's value in `configuration`, as text ("" when unset).
    public func value(in configuration: HeraldConfiguration) -> String { read(configuration) }

    init(_ name: String, _ help: String, placeholder: String, secret: Bool = false, url: Bool = false, urlList: Bool = false,
         switch isSwitch: Bool = false, defaultNote: String? = nil,
         default read: @escaping @Sendable (HeraldConfiguration) -> String,
         write: @escaping @Sendable (inout HeraldConfiguration, String) throws(Problem) -> Void) {
        self.name = name
        self.help = help
        self.placeholder = placeholder
        self.isSecret = secret
        self.isURL = url
        self.isURLList = urlList
        self.isSwitch = isSwitch
        self.defaultNote = defaultNote
        self.read = read
        self.write = write
    }

    /// Applies `text` to `configuration`, or throws what is wrong with it.
    public func apply(_ text: String, to configuration: inout HeraldConfiguration) throws(Problem) {
        try write(&configuration, text)
    }

    /// `text` as `herald config` may print it: secrets masked, URL passwords masked.
    public func shown(_ text: String) -> String {
        if isSecret { return text.isEmpty ? "" : "********" }
        if isURL { return MessageStoreLocation.redacted(text) }
        if isURLList { return text.split(separator: ",", omittingEmptySubsequences: false).map { Self.withoutUserinfo(String($0)) }.joined(separator: ",") }
        return text
    }

    /// `url` with any userinfo masked: the password as for the other URLs, a user alone (often a token) whole.
    static func withoutUserinfo(_ url: String) -> String {
        let redacted = MessageStoreLocation.redacted(url)
        guard redacted == url, let schemeEnd = url.range(of: "://") else { return redacted }
        let authorityEnd = url[schemeEnd.upperBound...].firstIndex(of: "/") ?? url.endIndex
        guard let at = url[schemeEnd.upperBound..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + "***" + String(url[at...])
    }
}

// MARK: - Building a setting from a key path (one line per setting in HeraldSettings)

extension HeraldSetting {
    typealias Path<Value> = WritableKeyPath<HeraldConfiguration, Value> & Sendable

    /// Largest accepted duration: one day. Durations become nanosecond counts (Int64) downstream, and a
    /// browser's timer overflows past 24.8 days; nothing herald waits for needs more than a day.
    static let maxMilliseconds = 86_400_000
    /// Largest accepted byte size: 4 GiB.
    static let maxBytes = 1 << 32
    /// Largest accepted count.
    static let maxCount = 100_000_000

    /// An integer in `range`; anything else (not a number, out of range, beyond Int) is a Problem.
    static func integer(_ text: String, _ range: ClosedRange<Int>) throws(Problem) -> Int {
        guard let number = Int(text), range.contains(number) else {
            let bounds = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "\(range.lowerBound)…\(range.upperBound)"
            throw Problem("must be an integer \(bounds), got \(text.debugDescription)")
        }
        return number
    }

    static func boolean(_ text: String) throws(Problem) -> Bool {
        switch text.lowercased() {
        case "1", "true": return true
        case "0", "false": return false
        default: throw Problem("must be 0 or 1, got \(text.debugDescription)")
        }
    }

    static func milliseconds(of duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    static func text(_ name: String, _ help: String, _ path: Path<String>, allowEmpty: Bool = true) -> HeraldSetting {
        HeraldSetting(name, help, placeholder: "text", default: { $0[keyPath: path] }) { configuration, text throws(Problem) in
            guard allowEmpty || !text.isEmpty else { throw Problem("must not be empty") }
            configuration[keyPath: path] = text
        }
    }

    /// An optional string; an empty value leaves it unset.
    static func optionalText(_ name: String, _ help: String, _ path: Path<String?>, secret: Bool = false,
                             placeholder: String? = nil) -> HeraldSetting {
        HeraldSetting(name, help, placeholder: placeholder ?? (secret ? "secret" : "text"), secret: secret, default: { $0[keyPath: path] ?? "" }) {
            configuration, text throws(Problem) in
            configuration[keyPath: path] = text.isEmpty ? nil : text
        }
    }

    static func integer(_ name: String, _ help: String, _ placeholder: String, _ range: ClosedRange<Int>, _ path: Path<Int>,
                        defaultNote: String? = nil) -> HeraldSetting {
        HeraldSetting(name, help, placeholder: placeholder, defaultNote: defaultNote, default: { String($0[keyPath: path]) }) {
            configuration, text throws(Problem) in
            configuration[keyPath: path] = try integer(text, range)
        }
    }

    /// An optional limit where 0 turns it off.
    static func limit(_ name: String, _ help: String, _ placeholder: String, _ path: Path<Int?>) -> HeraldSetting {
        HeraldSetting(name, help + " 0 for none.", placeholder: placeholder, default: { String($0[keyPath: path] ?? 0) }) {
            configuration, text throws(Problem) in
            let number = try integer(text, 0...maxCount)
            configuration[keyPath: path] = number == 0 ? nil : number
        }
    }

    static func milliseconds(_ name: String, _ help: String, _ path: Path<Duration>, minimum: Int = 1) -> HeraldSetting {
        HeraldSetting(name, help, placeholder: "ms", default: { milliseconds(of: $0[keyPath: path]) }) {
            configuration, text throws(Problem) in
            configuration[keyPath: path] = .milliseconds(try integer(text, minimum...maxMilliseconds))
        }
    }

    static func toggle(_ name: String, _ help: String, _ path: Path<Bool>) -> HeraldSetting {
        HeraldSetting(name, help, placeholder: "0|1", switch: true, default: { $0[keyPath: path] ? "1" : "0" }) {
            configuration, text throws(Problem) in
            configuration[keyPath: path] = try boolean(text)
        }
    }

    static func choice<Value: RawRepresentable<String> & CaseIterable & Sendable>(
        _ name: String, _ help: String, _ path: Path<Value>
    ) -> HeraldSetting {
        let names = Value.allCases.map(\.rawValue)
        return HeraldSetting(name, help + " One of " + names.joined(separator: ", ") + ".", placeholder: names.joined(separator: "|"),
                             default: { $0[keyPath: path].rawValue }) { configuration, text throws(Problem) in
            guard let value = Value(rawValue: text) else {
                throw Problem("must be one of \(names.joined(separator: ", ")), got \(text.debugDescription)")
            }
            configuration[keyPath: path] = value
        }
    }
}
