import Foundation
import NIOCore
import SocketIOProtocol

/// Loading the configuration from the settings declared in `HeraldSettings`: flags, `HERALD_*` environment
/// variables and the JSON configuration file (`--config` / `HERALD_CONFIG`), in that order of precedence.
extension HeraldConfiguration {
    public struct SettingError: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Where a setting's value came from; a flag wins over the environment, which wins over the file.
    public enum SettingSource: String, Sendable, Hashable {
        case `default`, file, env, flag
    }

    /// One setting as loaded: its value's text (the default's when nothing set it) and where it came from.
    public struct ResolvedSetting: Sendable {
        public let setting: HeraldSetting
        public let source: SettingSource
        public let text: String
    }

    /// A loaded configuration with the provenance of every setting, for `herald config`.
    public struct Loaded: Sendable {
        public var configuration: HeraldConfiguration
        public var settings: [ResolvedSetting]
        /// The configuration file and whether a flag or the environment named it.
        public var file: (path: String, source: SettingSource)?
        /// `HERALD_*` variables that name no setting (a typo such as `HERALD_PROT` would otherwise go unnoticed);
        /// `herald serve` logs them as a warning.
        public var unknownVariables: [String] = []

        public subscript(name: String) -> ResolvedSetting? { settings.first { $0.setting.name == name } }

        /// The effective configuration as text, one setting a line, secrets masked.
        public func report() -> String {
            var lines = ["# herald configuration (precedence: flag > env > file > default)"]
            if let file { lines.append("# config file: \(file.path) (\(file.source == .flag ? "--config" : "HERALD_CONFIG"))") }
            if !unknownVariables.isEmpty { lines.append("# ignored, no such setting: \(unknownVariables.joined(separator: ", "))") }
            let width = settings.map(\.setting.name.count).max() ?? 0
            let shown = settings.map { resolved in
                let value = resolved.setting.shown(resolved.text)
                return value.isEmpty ? "(\(resolved.setting.defaultNote ?? "none"))" : value
            }
            let valueWidth = min(40, shown.map(\.count).max() ?? 0)
            for (resolved, value) in zip(settings, shown) {
                let setting = resolved.setting
                let origin = switch resolved.source {
                case .default: "default"
                case .file: "file \(setting.fileKey)"
                case .env: "env \(setting.environmentName)"
                case .flag: "flag \(setting.flag)"
                }
                let name = setting.name.padding(toLength: width, withPad: " ", startingAt: 0)
                let column = value.count < valueWidth ? value.padding(toLength: valueWidth, withPad: " ", startingAt: 0) : value
                lines.append("\(name)  \(column)  \(origin)")
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }

    /// `HERALD_*` variables that are read elsewhere, not settings of the node (besides the test suite's
    /// `HERALD_TEST_*` and the fuzz script's `HERALD_FUZZ*`).
    static let notSettings: Set<String> = ["HERALD_CONFIG", "HERALD_API_URL", "HERALD_PG_BIN", "HERALD_SOCKETIO_JS"]

    /// Largest configuration file read.
    static let maxConfigurationFileBytes = 1 << 20

    /// Loads `base` overlaid with the configuration file, `environment` and `arguments` (flags as `--name value`,
    /// `--name=value`, or `--name` alone for a switch). A bad value throws an error naming how it was given.
    public static func load(arguments: [String] = [], environment: [String: String],
                            base: HeraldConfiguration = HeraldConfiguration()) throws(SettingError) -> Loaded {
        var flags = try parseFlags(arguments)
        var configuration = base
        var file: (path: String, source: SettingSource)?
        if let path = flags.removeValue(forKey: "config") {
            file = (path, .flag)
        } else if let path = environment["HERALD_CONFIG"] {
            file = (path, .env)
        }
        if let path = file?.path, path.isEmpty { file = nil }
        var fileValues: [String: String] = [:]
        if let path = file?.path {
            fileValues = try readFile(path, into: &configuration)
        }
        var resolved: [ResolvedSetting] = []
        resolved.reserveCapacity(HeraldSettings.all.count)
        for setting in HeraldSettings.all {
            let given: (SettingSource, String, String)? = if let text = flags[setting.name] {
                (.flag, text, setting.flag)
            } else if let text = environment[setting.environmentName] {
                (.env, text, setting.environmentName)
            } else if let text = fileValues[setting.fileKey] {
                (.file, text, "\(setting.fileKey) in \(file?.path ?? "")")
            } else {
                nil
            }
            guard let (source, text, how) = given else {
                resolved.append(ResolvedSetting(setting: setting, source: .default, text: ""))
                continue
            }
            do {
                try setting.apply(text, to: &configuration)
            } catch {
                throw SettingError(description: "\(how): \(error.text)")
            }
            resolved.append(ResolvedSetting(setting: setting, source: source, text: text))
        }
        // An open publish API would let anyone push to every client.
        if configuration.publishing.apiPort != nil, (configuration.publishing.apiKey ?? "").isEmpty {
            throw SettingError(description: "HERALD_API_PORT is set but HERALD_API_KEY is not: the publish API needs a key")
        }
        // Unsigned calls could not be told from forgeries.
        if configuration.webhooks.isEnabled, (configuration.webhooks.secret ?? "").isEmpty {
            throw SettingError(description: "HERALD_WEBHOOK_URL is set but HERALD_WEBHOOK_SECRET is not: webhooks are signed")
        }
        // A default is shown as the configuration holds it (`threads` is this machine's core count).
        let settled = configuration
        resolved = resolved.map {
            $0.source != .default ? $0 : ResolvedSetting(setting: $0.setting, source: .default, text: $0.setting.value(in: settled))
        }
        let known = Set(HeraldSettings.all.map(\.environmentName)).union(notSettings)
        let unknown = environment.keys.filter { $0.hasPrefix("HERALD_") && !known.contains($0)
            && !$0.hasPrefix("HERALD_TEST_") && !$0.hasPrefix("HERALD_FUZZ") }.sorted()
        return Loaded(configuration: configuration, settings: resolved, file: file, unknownVariables: unknown)
    }

    /// Applies the settings present in `settings`, named as environment variables (`HERALD_PORT`, …,
    /// `HERALD_CONFIG`); a bad value throws an error naming the setting.
    public mutating func apply(_ settings: [String: String]) throws {
        self = try Self.load(environment: settings, base: self).configuration
    }

    /// `--name value` pairs by setting name; `config` is the file's path.
    static func parseFlags(_ arguments: [String]) throws(SettingError) -> [String: String] {
        var values: [String: String] = [:]
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw SettingError(description: "unexpected argument \(argument.debugDescription); settings are given as --name value")
            }
            var name = String(argument.dropFirst(2))
            var inline: String?
            if let equals = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            let setting = HeraldSettings.byName[name]
            guard setting != nil || name == "config" else {
                throw SettingError(description: "unknown option --\(name) (see herald serve --help)")
            }
            if let inline {
                values[name] = inline
            } else if setting?.isSwitch == true {
                // `--cors-credentials` alone turns a switch on; an explicit 0/1 may follow.
                if index < arguments.endIndex, (try? HeraldSetting.boolean(arguments[index])) != nil {
                    values[name] = arguments[index]
                    index += 1
                } else {
                    values[name] = "1"
                }
            } else {
                guard index < arguments.endIndex, !arguments[index].hasPrefix("--") else {
                    throw SettingError(description: "--\(name) needs a value")
                }
                values[name] = arguments[index]
                index += 1
            }
        }
        return values
    }

    /// Reads the JSON configuration file: its `auth` and `bridges` sections apply to `configuration` at once,
    /// every other key must be a setting's file key and is returned as text for the precedence pass.
    static func readFile(_ path: String, into configuration: inout HeraldConfiguration) throws(SettingError) -> [String: String] {
        let bytes: [UInt8]
        do {
            bytes = try HeraldSetting.readFile(path, limit: maxConfigurationFileBytes)
        } catch {
            throw SettingError(description: "HERALD_CONFIG: \(error.text)")
        }
        let parsed: JSONValue
        do {
            parsed = try JSONValue(parsing: ByteBuffer(bytes: bytes))
        } catch {
            throw SettingError(description: "HERALD_CONFIG \(path): malformed JSON: \(error)")
        }
        guard case .object(let top) = parsed else { throw SettingError(description: "HERALD_CONFIG \(path): must be a JSON object") }
        var values: [String: String] = [:]
        for (key, value) in top {
            switch key {
            case "auth":
                do {
                    try configuration.auth.applyFile(String(decoding: bytes, as: UTF8.self))
                } catch {
                    throw SettingError(description: "HERALD_CONFIG \(path): \(error)")
                }
            case "bridges":
                do {
                    configuration.publishing.bridges = try BridgeDefinition.parseConfigurationFile(ByteBuffer(bytes: bytes))
                } catch {
                    throw SettingError(description: "HERALD_CONFIG \(path): \(error)")
                }
            default:
                guard HeraldSettings.byFileKey[key] != nil else {
                    throw SettingError(description: "HERALD_CONFIG \(path): unknown key \(key.debugDescription)")
                }
                guard let text = settingText(value) else {
                    throw SettingError(description: "\(key) in \(path): must be a string, an integer, a boolean or a list of strings")
                }
                values[key] = text
            }
        }
        return values
    }

    /// A file value as the text a flag or variable would carry: lists join with commas, booleans are 1 or 0.
    static func settingText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .bool(let flag): return flag ? "1" : "0"
        case .int(let number): return String(number)
        case .double: return value.intValue.map(String.init)
        case .array(let items):
            var texts: [String] = []
            for item in items {
                guard case .string(let text) = item else { return nil }
                texts.append(text)
            }
            return texts.joined(separator: ",")
        case .null, .object, .binary: return nil
        }
    }
}

extension HeraldSettings {
    static let byName: [String: HeraldSetting] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    static let byFileKey: [String: HeraldSetting] = Dictionary(all.map { ($0.fileKey, $0) }, uniquingKeysWith: { first, _ in first })

    /// The settings part of `herald serve --help`, from the declarations.
    public static func helpText() -> String {
        var lines = [
            "Every setting is a flag, a HERALD_* environment variable and a key of the JSON file given by --config "
                + "(HERALD_CONFIG). A flag wins over the environment, which wins over the file, which wins over the default. "
                + "`herald config` prints the effective configuration and where each value came from.",
        ]
        for (title, settings) in groups {
            lines.append("")
            lines.append("\(title):")
            for setting in settings {
                // Short lines: the help is re-wrapped at 80 columns, which would break the indentation of long ones.
                lines.append("  \(setting.flag) <\(setting.placeholder)>")
                lines.append("    \(setting.environmentName), file key \(setting.fileKey)")
                let value = setting.defaultText
                lines.append("    \(setting.help) Default: \(value.isEmpty ? "none" : setting.shown(value)).")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The settings as the Markdown table of docs/configuration.md (`herald config --markdown` prints it;
    /// a test keeps the page equal to it).
    public static func markdownTable() -> String {
        var lines: [String] = []
        for (title, settings) in groups {
            lines.append("")
            lines.append("**\(title)**")
            lines.append("")
            lines.append("| flag | environment | file key | default | meaning |")
            lines.append("|---|---|---|---|---|")
            for setting in settings {
                let value = setting.defaultText
                let shown = setting.defaultNote ?? (value.isEmpty ? "none" : "`\(setting.shown(value))`")
                let cell = { (text: String) in text.replacingOccurrences(of: "|", with: "\\|") }
                lines.append("| `\(setting.flag) <\(cell(setting.placeholder))>` | `\(setting.environmentName)` | `\(setting.fileKey)` | "
                    + "\(cell(shown)) | \(cell(setting.help)) |")
            }
        }
        return lines.dropFirst().joined(separator: "\n") + "\n"
    }
}
