import HeraldStore
import Testing

@Suite struct MessageStoreLocationTests {
    @Test func sqliteURLs() throws {
        #expect(try MessageStoreLocation(url: "sqlite:///var/lib/herald/chat.db") == .sqliteFile(path: "/var/lib/herald/chat.db"))
        #expect(try MessageStoreLocation(url: "sqlite://herald.sqlite") == .sqliteFile(path: "herald.sqlite"))
        #expect(try MessageStoreLocation(url: ":memory:") == .sqliteMemory)
        #expect(try MessageStoreLocation(url: "sqlite://:memory:") == .sqliteMemory)
        #expect(throws: MessageStoreError.self) { try MessageStoreLocation(url: "sqlite://") }
    }

    @Test func postgresURLs() throws {
        #expect(try MessageStoreLocation(url: "postgres://app:s%40cret@db.internal:6543/chat?sslmode=require")
            == .postgres(.init(host: "db.internal", port: 6543, username: "app", password: "s@cret", database: "chat", tls: .require)))
        #expect(try MessageStoreLocation(url: "postgresql://app@127.0.0.1/chat")
            == .postgres(.init(host: "127.0.0.1", port: 5432, username: "app", password: nil, database: "chat", tls: .disable)))
        // The database defaults to the user's name, as libpq does.
        #expect(try MessageStoreLocation(url: "postgres://app:pw@[::1]:5433")
            == .postgres(.init(host: "::1", port: 5433, username: "app", password: "pw", database: "app", tls: .disable)))
        #expect(throws: MessageStoreError.self) { try MessageStoreLocation(url: "postgres://app@host:notaport/db") }
        #expect(throws: MessageStoreError.self) { try MessageStoreLocation(url: "postgres://app@host/db?sslmode=maybe") }
        #expect(throws: MessageStoreError.self) { try MessageStoreLocation(url: "mysql://app@host/db") }
    }

    @Test func descriptionNeverShowsThePassword() throws {
        let location = try MessageStoreLocation(url: "postgres://app:topsecret@db:5432/chat")
        #expect(!location.description.contains("topsecret"))
        #expect(location.description == "postgres://app@db:5432/chat?sslmode=disable")
    }
}
