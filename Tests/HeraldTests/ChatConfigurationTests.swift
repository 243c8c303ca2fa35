import Herald
import HeraldStore
import Testing

@Suite struct ChatConfigurationTests {
    /// The defaults documented in ChatConfiguration and docs/chat.md.
    @Test func documentedDefaults() {
        let chat = ChatConfiguration()
        #expect(chat.database == .sqliteMemory)
        #expect(chat.maxMessageLength == 4000)
        #expect(chat.historyOnJoin == 50)
        #expect(chat.storeTimeout == .seconds(5))
        #expect(chat.maxMessageBytes == 16_384)
        #expect(chat.historyMaxBytes == 262_144)
        #expect(chat.maxRooms == 100)
        #expect(ChatConfiguration.defaultPageLimit == 50)
        #expect(ChatConfiguration.maxPageLimit == 200)
        #expect(ChatConfiguration.roomPrefix == "chat:")
        #expect(ChatConfiguration.maxClientMessageIDLength == 128)
        #expect(ChatService.anonymousPrefix == "anonymous:")
        #expect(HeraldConfiguration().chat.database == .sqliteMemory)
    }

    @Test func settingsApply() throws {
        var configuration = HeraldConfiguration()
        try configuration.apply([
            "HERALD_DATABASE_URL": "postgres://herald:pw@db:5433/chat",
            "HERALD_CHAT_MAX_LENGTH": "280",
            "HERALD_CHAT_HISTORY": "20",
            "HERALD_CHAT_STORE_TIMEOUT": "1500",
            "HERALD_CHAT_MAX_BYTES": "2048",
            "HERALD_CHAT_HISTORY_MAX_BYTES": "65536",
            "HERALD_CHAT_MAX_ROOMS": "7",
        ])
        #expect(configuration.chat.maxMessageBytes == 2048)
        #expect(configuration.chat.historyMaxBytes == 65536)
        #expect(configuration.chat.maxRooms == 7)
        #expect(configuration.chat.database == .postgres(.init(host: "db", port: 5433, username: "herald", password: "pw", database: "chat")))
        #expect(configuration.chat.maxMessageLength == 280)
        #expect(configuration.chat.historyOnJoin == 20)
        #expect(configuration.chat.storeTimeout == .milliseconds(1500))
        try configuration.apply(["HERALD_DATABASE_URL": ":memory:"])
        #expect(configuration.chat.database == .sqliteMemory)
        try configuration.apply(["HERALD_DATABASE_URL": "sqlite:///var/lib/herald/chat.db"])
        #expect(configuration.chat.database == .sqliteFile(path: "/var/lib/herald/chat.db"))
    }

    @Test func badSettingsNameTheSetting() {
        for (name, value) in [("HERALD_DATABASE_URL", "mysql://x"), ("HERALD_CHAT_MAX_LENGTH", "0"),
                              ("HERALD_CHAT_HISTORY", "-1"), ("HERALD_CHAT_STORE_TIMEOUT", "soon"),
                              ("HERALD_CHAT_MAX_BYTES", "0"), ("HERALD_CHAT_HISTORY_MAX_BYTES", "x"), ("HERALD_CHAT_MAX_ROOMS", "0")] {
            var configuration = HeraldConfiguration()
            let error = #expect(throws: HeraldConfiguration.SettingError.self) { try configuration.apply([name: value]) }
            #expect(error?.description.contains(name) == true, "\(String(describing: error))")
        }
    }
}
