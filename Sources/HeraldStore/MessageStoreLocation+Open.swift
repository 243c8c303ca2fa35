import Logging

extension MessageStoreLocation {
    /// Opens the store this location names and brings its schema up to date.
    /// A PostgreSQL server that is down now is not an error: migration runs in the background and again before
    /// each call until it succeeds.
    public func open(logger: Logger) async throws -> any MessageStore {
        switch self {
        case .sqliteMemory:
            let store = try await SQLiteMessageStore.open(memory: true, logger: logger)
            try await store.migrate()
            return store
        case .sqliteFile(let path):
            let store = try await SQLiteMessageStore.open(path: path, logger: logger)
            do {
                try await store.migrate()
            } catch {
                try? await store.close()
                throw error
            }
            return store
        case .postgres(let location):
            let store = try PostgresMessageStore(location: location, logger: logger)
            // In the background: while the server is down the pool waits for it, and a node should start
            // anyway (as with Redis). Every call migrates first if this has not succeeded yet.
            Task {
                do {
                    try await store.migrate()
                } catch {
                    logger.error("postgres schema not migrated at start: chat sends fail until it is reachable",
                                 metadata: ["error": "\(String(reflecting: error))"])
                }
            }
            return store
        }
    }
}
