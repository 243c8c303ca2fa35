import Foundation
import Herald
import HeraldTesting
import Testing

/// The declaration table: every setting reachable as a flag, a variable and a file key, the precedence between
/// them, bad values refused with the setting's name, and `herald config` never showing a secret.
@Suite struct HeraldSettingsTests {
    typealias Loaded = HeraldConfiguration.Loaded

    /// A valid value other than the default, derived from the declaration's kind; key files get a real file.
    static func sample(for setting: HeraldSetting, directory: URL) throws -> String {
        let current = setting.value(in: HeraldConfiguration())
        if setting.isSwitch || setting.name == "redis-tls" { return current == "1" ? "0" : "1" }
        switch setting.placeholder {
        case "ms", "n", "bytes", "seconds", "port": return String((Int(current) ?? 4000) + 1)
        case "list":
            let samples = ["transports": "websocket", "webhook-url": "http://a.example/hooks", "presence-rooms": "doc:{id}",
                           "presence-claims": "name,role", "webhook-events": "chat:send"]
            return samples[setting.name] ?? "https://a.example"
        case "host:port,…": return "127.0.0.1:7000,127.0.0.1:7001"
        case "url": return setting.name == "redis-url" ? "redis://127.0.0.1:6390/3" : "sqlite:///tmp/herald-settings-test.db"
        case "path":
            let file = directory.appendingPathComponent(setting.name)
            try Data("key material".utf8).write(to: file)
            return file.path
        case "text", "secret": return setting.name == "path" ? "/sample/" : "sample-\(setting.name)"
        default:
            let choices = setting.placeholder.split(separator: "|").map(String.init)
            return try #require(choices.first { $0 != current }, "no second choice for \(setting.name)")
        }
    }

    /// Settings that only make sense with another one; given through the environment in every variant.
    static let companions = ["api-port": ["HERALD_API_KEY": "companion-key"], "cors-credentials": ["HERALD_CORS_ORIGINS": "*"],
                             "webhook-url": ["HERALD_WEBHOOK_SECRET": "companion-secret"],
                             "redis-sentinel-master": ["HERALD_REDIS_SENTINEL": "127.0.0.1:26379"]]
        .merging(["redis-tls", "redis-tls-ca", "redis-tls-cert", "redis-tls-key", "redis-tls-server-name"].map { ($0, ["HERALD_REDIS_URL": "redis://127.0.0.1:6390"]) }) { $1 }

    static func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try body(directory)
    }

    static func writeFile(_ json: String, in directory: URL) throws -> String {
        let file = directory.appendingPathComponent("herald-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: file)
        return file.path
    }

    @Test func namesDeriveFromTheDeclarationAndAreUnique() throws {
        let all = HeraldSettings.all
        #expect(Set(all.map(\.name)).count == all.count)
        #expect(Set(all.map(\.environmentName)).count == all.count)
        #expect(Set(all.map(\.fileKey)).count == all.count)
        let payload = try #require(all.first { $0.name == "max-payload" })
        #expect(payload.flag == "--max-payload")
        #expect(payload.environmentName == "HERALD_MAX_PAYLOAD")
        #expect(payload.fileKey == "maxPayload")
        // The file's sections and the file's own location are no setting's key.
        #expect(!all.contains { ["auth", "bridges", "config"].contains($0.fileKey) })
    }

    @Test func everySettingIsReachableByFlagEnvironmentAndFile() throws {
        try Self.withTemporaryDirectory { directory in
            for setting in HeraldSettings.all {
                let value = try Self.sample(for: setting, directory: directory)
                let companion = Self.companions[setting.name] ?? [:]
                let file = try Self.writeFile(#"{"\#(setting.fileKey)": \#(value.debugDescription)}"#, in: directory)
                let variants: [(HeraldConfiguration.SettingSource, () throws -> Loaded)] = [
                    (.flag, { try HeraldConfiguration.load(arguments: [setting.flag, value], environment: companion) }),
                    (.env, { try HeraldConfiguration.load(environment: companion.merging([setting.environmentName: value]) { $1 }) }),
                    (.file, { try HeraldConfiguration.load(arguments: ["--config", file], environment: companion) }),
                ]
                for (source, load) in variants {
                    let loaded = try load()
                    let resolved = try #require(loaded[setting.name])
                    #expect(resolved.source == source, "\(setting.name) from \(source)")
                    #expect(resolved.text == value, "\(setting.name) from \(source)")
                    // The value reached the configuration, not only the report.
                    #expect(setting.value(in: loaded.configuration) != setting.value(in: HeraldConfiguration()),
                            "\(setting.name) from \(source) left the configuration unchanged")
                }
            }
        }
    }

    @Test func everyDeclaredDefaultIsAValidValueOfItsSetting() throws {
        let defaults = HeraldConfiguration()
        for setting in HeraldSettings.all where setting.placeholder != "path" {
            let text = setting.value(in: defaults)
            var configuration = HeraldConfiguration()
            try setting.apply(text, to: &configuration)
            #expect(setting.value(in: configuration) == text, "\(setting.name)")
        }
    }

    @Test func flagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        try Self.withTemporaryDirectory { directory in
            let file = try Self.writeFile(#"{"port": 1111, "pingInterval": 2222, "logFormat": "text"}"#, in: directory)
            let environment = ["HERALD_CONFIG": file, "HERALD_PORT": "3333", "HERALD_PING_INTERVAL": "4444"]
            let loaded = try HeraldConfiguration.load(arguments: ["--port", "5555"], environment: environment)
            #expect(loaded.configuration.port == 5555)
            #expect(loaded["port"]?.source == .flag)
            #expect(loaded.configuration.socketIO.engine.pingInterval == .milliseconds(4444))
            #expect(loaded["ping-interval"]?.source == .env)
            #expect(loaded.configuration.logFormat == .text)
            #expect(loaded["log-format"]?.source == .file)
            #expect(loaded.configuration.socketIO.engine.pingTimeout == .seconds(20))
            #expect(loaded["ping-timeout"]?.source == .default)
            #expect(loaded.file?.path == file && loaded.file?.source == .env)
            let fileOnly = try HeraldConfiguration.load(environment: ["HERALD_CONFIG": file])
            #expect(fileOnly.configuration.port == 1111)
            // --config beats HERALD_CONFIG like any flag.
            let other = try Self.writeFile(#"{"port": 6666}"#, in: directory)
            #expect(try HeraldConfiguration.load(arguments: ["--config", other], environment: environment).file?.path == other)
        }
    }

    @Test func unknownVariablesAreReported() throws {
        let loaded = try HeraldConfiguration.load(environment: ["HERALD_PROT": "3001", "HERALD_PORT": "3002", "HERALD_API_URL": "x",
                                                                "HERALD_TEST_PYTHON": "y", "PATH": "/bin"])
        #expect(loaded.unknownVariables == ["HERALD_PROT"])
        #expect(loaded.report().contains("# ignored, no such setting: HERALD_PROT"))
    }

    @Test func flagForms() throws {
        let loaded = try HeraldConfiguration.load(
            arguments: ["--port=4100", "--cors-origins", "*", "--cors-credentials", "--dashboard", "0", "--jwt-untyped-grants=false"],
            environment: [:])
        #expect(loaded.configuration.port == 4100)
        #expect(loaded.configuration.socketIO.engine.cors?.allowCredentials == true)
        #expect(!loaded.configuration.dashboard.enabled)
        #expect(!loaded.configuration.auth.acceptUntypedGrants)
        for (arguments, named) in [(["--bogus", "1"], "--bogus"), (["--port"], "--port"), (["4000"], "4000"),
                                   (["--port", "--host", "x"], "--port")] {
            let error = #expect(throws: HeraldConfiguration.SettingError.self) {
                try HeraldConfiguration.load(arguments: arguments, environment: [:])
            }
            #expect(error?.description.contains(named) == true, "\(arguments): \(String(describing: error))")
        }
    }

    /// Every integer setting refuses what does not fit (past Int, negative, past its bound) by name, whatever the source.
    @Test func badValuesAreRefusedNamingTheSetting() throws {
        try Self.withTemporaryDirectory { directory in
            let numeric = HeraldSettings.all.filter { ["ms", "n", "bytes", "seconds", "port"].contains($0.placeholder) }
            #expect(numeric.count > 30)
            for setting in numeric {
                for bad in ["99999999999999999999999", "-1", "9223372036854775807", "12abc", ""] where !(bad.isEmpty && setting.name == "api-port") {
                    let file = try Self.writeFile(#"{"\#(setting.fileKey)": \#(bad.debugDescription)}"#, in: directory)
                    let attempts: [(String, () throws -> Loaded)] = [
                        (setting.flag, { try HeraldConfiguration.load(arguments: ["\(setting.flag)=\(bad)"], environment: [:]) }),
                        (setting.environmentName, { try HeraldConfiguration.load(environment: [setting.environmentName: bad]) }),
                        ("\(setting.fileKey) in \(file)", { try HeraldConfiguration.load(environment: ["HERALD_CONFIG": file]) }),
                    ]
                    for (name, attempt) in attempts {
                        let error = #expect(throws: HeraldConfiguration.SettingError.self, "\(name)=\(bad)") { try attempt() }
                        #expect(error?.description.hasPrefix(name) == true, "\(String(describing: error))")
                    }
                }
            }
        }
    }

    @Test func badFilesAreRefused() throws {
        try Self.withTemporaryDirectory { directory in
            let big = String(repeating: " ", count: (1 << 20) + 1) + "{}"
            for (json, expected) in [(#"{"prot": 3000}"#, "unknown key"), ("[1]", "JSON object"), ("{", "malformed"),
                                     (#"{"port": {"a": 1}}"#, "port in"), (#"{"port": 1.5}"#, "port in"),
                                     (#"{"transports": ["websocket", 3]}"#, "transports in"), (big, "larger than"),
                                     (#"{"auth": {"leewaySeconds": 9223372036854775807}}"#, "auth.leewaySeconds"),
                                     (#"{"auth": {"limits": {"violationWindowSeconds": 99999999999}}}"#, "violationWindowSeconds")] {
                let file = try Self.writeFile(json, in: directory)
                let error = #expect(throws: HeraldConfiguration.SettingError.self) {
                    try HeraldConfiguration.load(environment: ["HERALD_CONFIG": file])
                }
                #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
            }
            let missing = #expect(throws: HeraldConfiguration.SettingError.self) {
                try HeraldConfiguration.load(arguments: ["--config", directory.appendingPathComponent("absent.json").path], environment: [:])
            }
            #expect(missing?.description.contains("HERALD_CONFIG") == true)
            // Lists and booleans in the file read as the comma list and 0/1 of a variable.
            let typed = try Self.writeFile(#"{"transports": ["websocket"], "corsOrigins": ["https://a.example"], "corsCredentials": true}"#,
                                           in: directory)
            let loaded = try HeraldConfiguration.load(environment: ["HERALD_CONFIG": typed])
            #expect(loaded.configuration.socketIO.engine.transports == [.websocket])
            #expect(loaded.configuration.socketIO.engine.cors?.allowCredentials == true)
        }
    }

    static let secrets = ["jwt-s3cret-value", "api-k3y-value", "redisPassw0rd", "pgPassw0rd", "w3bhookPass", "hookT0ken", "hookSecr3t"]

    static func loadWithSecrets() throws -> Loaded {
        try HeraldConfiguration.load(
            arguments: ["--api-key", secrets[1], "--api-port", "4001"],
            environment: ["HERALD_JWT_SECRET": secrets[0], "HERALD_REDIS_URL": "redis://user:\(secrets[2])@127.0.0.1:6379/1",
                          "HERALD_DATABASE_URL": "postgres://herald:\(secrets[3])@db:5432/chat",
                          "HERALD_WEBHOOK_URL": "http://hook:\(secrets[4])@hooks.example:8080/in,http://\(secrets[5])@other.example/x@y",
                          "HERALD_WEBHOOK_SECRET": secrets[6]])
    }

    @Test func reportMasksSecretsAndNamesEverySource() throws {
        let report = try Self.loadWithSecrets().report()
        for secret in Self.secrets { #expect(!report.contains(secret), "\(secret) shown") }
        #expect(report.contains("redis://user:***@127.0.0.1:6379/1"))
        #expect(report.contains("postgres://herald:***@db:5432/chat"))
        #expect(report.contains("http://hook:***@hooks.example:8080/in,http://***@other.example/x@y"))
        for line in ["api-key", "jwt-secret"] {
            let row = try #require(report.split(separator: "\n").first { $0.hasPrefix(line + " ") })
            #expect(row.contains("********"))
        }
        #expect(report.contains("flag --api-port"))
        #expect(report.contains("env HERALD_JWT_SECRET"))
        for setting in HeraldSettings.all { #expect(report.contains("\n\(setting.name) "), "\(setting.name) missing") }
    }

    /// The `herald config` command itself, as an operator runs it.
    @Test func heraldConfigCommandMasksSecrets() throws {
        let herald = try #require(ClusterLiveEnvironment.herald, "the herald binary (swift build)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: herald)
        process.arguments = ["config", "--api-port", "4001"]
        process.environment = ["HERALD_API_KEY": Self.secrets[1], "HERALD_JWT_SECRET": Self.secrets[0],
                               "HERALD_REDIS_URL": "redis://:\(Self.secrets[2])@127.0.0.1:6379"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(text.contains("api-port"))
        #expect(text.contains("flag --api-port"))
        for secret in Self.secrets { #expect(!text.contains(secret)) }
    }
}

extension HeraldSettingsTests {
    /// docs/configuration.md carries the table `herald config --markdown` prints, so the page lists every setting.
    @Test func configurationPageListsEverySetting() throws {
        let page = try String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        #expect(page.contains(HeraldSettings.markdownTable()), "docs/configuration.md: paste the output of `herald config --markdown`")
        // The page's example file is a valid configuration file.
        let example = try #require(page.components(separatedBy: "```json\n").dropFirst().first?.components(separatedBy: "```").first)
        try Self.withTemporaryDirectory { directory in
            let loaded = try HeraldConfiguration.load(environment: ["HERALD_CONFIG": try Self.writeFile(example, in: directory)])
            #expect(loaded["redis-url"]?.source == .file)
            #expect(loaded.configuration.auth.permissions.rules.count == 1)
        }
    }
}
