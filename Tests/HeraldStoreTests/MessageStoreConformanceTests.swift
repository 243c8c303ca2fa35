import Foundation
import HeraldTesting
import Logging
import HeraldStore
import Testing

/// The one contract every `MessageStore` meets, run against SQLite and a real PostgreSQL server.
@Suite struct MessageStoreConformanceTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    /// PostgreSQL runs whenever its binaries exist, and always in CI (where missing binaries fail the run).
    static let backends: [Backend] = PostgresServerProcess.liveTestsEnabled ? [.sqlite, .postgres] : [.sqlite]

    /// A new, empty database of `backend` (its own SQLite file, or its own PostgreSQL database).
    static func freshLocation(_ backend: Backend) async throws -> MessageStoreLocation {
        switch backend {
        case .sqlite:
            let path = NSTemporaryDirectory() + "/herald-store-\(UUID().uuidString).sqlite"
            return .sqliteFile(path: path)
        case .postgres:
            return try MessageStoreLocation(url: try await PostgresServerProcess.sharedDatabaseURL())
        }
    }

    static var logger: Logger {
        var logger = Logger(label: "store-test")
        logger.logLevel = .warning
        return logger
    }

    /// Opens a fresh store, runs `body`, closes it (and removes an SQLite file).
    static func withStore(_ backend: Backend, _ body: (any MessageStore, MessageStoreLocation) async throws -> Void) async throws {
        let location = try await freshLocation(backend)
        defer {
            if case .sqliteFile(let path) = location {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            }
        }
        let store = try await location.open(logger: logger)
        do {
            try await store.migrate()
            try await body(store, location)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    static func message(_ room: String, _ sender: String = "alice", _ text: String, time: Int64 = 1_700_000_000_000,
                        client: String? = nil) -> NewMessage {
        NewMessage(room: room, sender: sender, text: text, timeMilliseconds: time, clientMessageID: client)
    }

    @Test(arguments: backends)
    func appendAssignsIncreasingIDsAndRoundTripsEveryField(_ backend: Backend) async throws {
        try await Self.withStore(backend) { store, _ in
            let texts = ["hello", "ünïcödé ✓ 🎉 \"quotes\" 'single' \\ back\nnew line", String(repeating: "x", count: 4000)]
            var ids: [Int64] = []
            for (index, text) in texts.enumerated() {
                let new = Self.message("chat:1", "user-\(index)", text, time: 1_700_000_000_123 + Int64(index), client: index == 1 ? "c-1" : nil)
                let result = try await store.append(new)
                #expect(result.isCreated)
                let stored = result.message
                #expect(stored.room == new.room && stored.sender == new.sender && stored.text == new.text)
                #expect(stored.timeMilliseconds == new.timeMilliseconds && stored.clientMessageID == new.clientMessageID)
                ids.append(stored.id)
            }
            #expect(ids == ids.sorted() && Set(ids).count == ids.count, "\(ids)")
            let page = try await store.page(room: "chat:1", before: nil, limit: 10)
            #expect(page.messages.map(\.text) == texts)
            #expect(page.messages.map(\.id) == ids)
            #expect(page.messages[1].clientMessageID == "c-1")
            #expect(page.messages[0].clientMessageID == nil)
            #expect(page.next == nil)
        }
    }

    @Test(arguments: backends)
    func sameClientMessageIDFromTheSameSenderInTheSameRoomIsStoredOnce(_ backend: Backend) async throws {
        try await Self.withStore(backend) { store, _ in
            let first = try await store.append(Self.message("chat:1", "alice", "first", time: 1, client: "m-1"))
            #expect(first.isCreated)
            // A retry, even with other text and time, answers the stored message and writes nothing.
            let retry = try await store.append(Self.message("chat:1", "alice", "retried", time: 2, client: "m-1"))
            #expect(retry == .existing(first.message))
            // The key is (room, sender, client id): another sender or room is another message.
            #expect(try await store.append(Self.message("chat:1", "bob", "bob's", client: "m-1")).isCreated)
            #expect(try await store.append(Self.message("chat:2", "alice", "other room", client: "m-1")).isCreated)
            // Without a client id nothing is deduplicated.
            #expect(try await store.append(Self.message("chat:1", "alice", "same")).isCreated)
            #expect(try await store.append(Self.message("chat:1", "alice", "same")).isCreated)
            let room1 = try await store.page(room: "chat:1", before: nil, limit: 50)
            #expect(room1.messages.map(\.text) == ["first", "bob's", "same", "same"])
        }
    }

    @Test(arguments: backends)
    func concurrentRetriesOfOneClientMessageIDCreateExactlyOne(_ backend: Backend) async throws {
        try await Self.withStore(backend) { store, _ in
            let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
                for attempt in 0..<20 {
                    group.addTask { try await store.append(Self.message("chat:race", "alice", "attempt \(attempt)", client: "once")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter(\.isCreated).count == 1)
            #expect(Set(results.map(\.message.id)).count == 1)
            #expect(try await store.page(room: "chat:race", before: nil, limit: 50).messages.count == 1)
        }
    }

    @Test(arguments: backends)
    func pagesGoBackwardsOldestFirstWithinAPageUntilNextIsNil(_ backend: Backend) async throws {
        try await Self.withStore(backend) { store, _ in
            var all: [StoredMessage] = []
            for index in 0..<120 {
                all.append(try await store.append(Self.message("chat:paged", "alice", "m\(index)", time: Int64(index))).message)
                if index % 3 == 0 { _ = try await store.append(Self.message("chat:other", "bob", "noise \(index)")) }
            }
            let newest = try await store.page(room: "chat:paged", before: nil, limit: 50)
            #expect(newest.messages == Array(all[70..<120]))
            #expect(newest.next == all[70].id)
            let middle = try await store.page(room: "chat:paged", before: newest.next, limit: 50)
            #expect(middle.messages == Array(all[20..<70]))
            #expect(middle.next == all[20].id)
            let oldest = try await store.page(room: "chat:paged", before: middle.next, limit: 50)
            #expect(oldest.messages == Array(all[0..<20]))
            #expect(oldest.next == nil)
            // Exactly a page left: no further cursor.
            let exact = try await store.page(room: "chat:paged", before: all[50].id, limit: 50)
            #expect(exact.messages == Array(all[0..<50]) && exact.next == nil)
            // A cursor needs not be a message of this room, only an id.
            let beyond = try await store.page(room: "chat:paged", before: Int64.max, limit: 1)
            #expect(beyond.messages == [all[119]] && beyond.next == all[119].id)
            let empty = try await store.page(room: "chat:nobody", before: nil, limit: 50)
            #expect(empty.messages.isEmpty && empty.next == nil)
            let beforeFirst = try await store.page(room: "chat:paged", before: all[0].id, limit: 50)
            #expect(beforeFirst.messages.isEmpty && beforeFirst.next == nil)
        }
    }

    @Test(arguments: backends)
    func schemaIsCreatedOnOpenAndKeptWhenOpenedAgain(_ backend: Backend) async throws {
        try await Self.withStore(backend) { store, location in
            let stored = try await store.append(Self.message("chat:keep", "alice", "still here", client: "k")).message
            // A second store on the same database (a restarted or second node) migrates idempotently and sees it.
            let again = try await location.open(logger: Self.logger)
            try await again.migrate()
            try await again.migrate()
            #expect(try await again.page(room: "chat:keep", before: nil, limit: 5).messages == [stored])
            #expect(try await again.append(Self.message("chat:keep", "alice", "dup", client: "k")) == .existing(stored))
            let newer = try await again.append(Self.message("chat:keep", "alice", "newer")).message
            #expect(newer.id > stored.id)
            try await again.close()
        }
    }

    @Test func inMemorySQLiteWorksAndForgetsOnClose() async throws {
        let store = try await MessageStoreLocation.sqliteMemory.open(logger: Self.logger)
        _ = try await store.append(Self.message("chat:m", "a", "hi"))
        #expect(try await store.page(room: "chat:m", before: nil, limit: 5).messages.count == 1)
        try await store.close()
        let fresh = try await MessageStoreLocation.sqliteMemory.open(logger: Self.logger)
        #expect(try await fresh.page(room: "chat:m", before: nil, limit: 5).messages.isEmpty)
        try await fresh.close()
    }
}
