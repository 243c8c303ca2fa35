import EngineIO
import Logging
import NIOCore
import SocketIO
import SocketIOProtocol
import HeraldStore
import Synchronization

/// Decides whether a client with these claims (the socket's `data`, or what `requestClaims` found on an HTTP
/// request; nil when anonymous) may join or read `room`.
public typealias ChatRoomAuthorizer = @Sendable (_ room: String, _ claims: JSONValue?) -> Bool
/// Finds the caller's claims on a history API request; nil when anonymous.
public typealias ChatRequestClaims = @Sendable (HTTPRequestContext) async -> JSONValue?

/// Chat with history: `chat:send`, `chat:join`, `chat:history` on join and the history API. See docs/chat.md.
public final class ChatService: Sendable {
    public let configuration: ChatConfiguration
    let logger: Logger
    let state: Mutex<State>

    enum StoreState {
        case notOpen
        case open(any MessageStore)
        case closed
    }

    struct State {
        var store: StoreState
        // Both default to "anyone": the auth work plugs its room rules in here.
        var authorizer: ChatRoomAuthorizer = { _, _ in true }
        var requestClaims: ChatRequestClaims = { _ in nil }
        /// Per socket id, `chat:join`s admitted but not yet applied; emptied as each completes.
        var joining: [String: Set<String>] = [:]
        /// The room name bound of the server the service is installed on (for the history API).
        var maxRoomNameBytes = RoomName.defaultMaxBytes
    }

    var maxRoomNameBytes: Int { state.withLock { $0.maxRoomNameBytes } }

    /// `store` replaces the configured database (tests, embedding); otherwise `open()` opens `configuration.database`.
    public init(configuration: ChatConfiguration = ChatConfiguration(), store: (any MessageStore)? = nil, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.state = Mutex(State(store: store.map { .open($0) } ?? .notOpen))
    }

    /// The sender id of a socket without a `sub` claim: `anonymous:` + the socket id.
    public static let anonymousPrefix = "anonymous:"

    /// Who a socket speaks as: `socket.data["sub"]` (set by authentication), never anything from a payload.
    public static func sender(of socket: Socket) -> String {
        switch socket.data["sub"] {
        case .string(let sub)? where !sub.isEmpty: sub
        case .int(let sub)?: String(sub)
        default: anonymousPrefix + socket.id
        }
    }

    // MARK: Lifecycle

    /// Opens the configured store and creates or migrates its schema. Throws for a store that cannot work at
    /// all (bad SQLite path); a PostgreSQL server that is down only logs, and sends fail until it is back.
    public func open() async throws {
        guard case .notOpen = state.withLock({ $0.store }) else { return }
        let store = try await configuration.database.open(logger: logger)
        let kept = state.withLock { state -> Bool in
            guard case .notOpen = state.store else { return false }
            state.store = .open(store)
            return true
        }
        if !kept { try? await store.close() }
        logger.info("chat store open", metadata: ["database": "\(configuration.database)"])
        if configuration.database == .sqliteMemory {
            logger.warning("chat history is in memory and lost when the node stops; set HERALD_DATABASE_URL (sqlite://PATH or postgres://…) to keep it")
        }
    }

    public func close() async {
        let store = state.withLock { state -> (any MessageStore)? in
            defer { state.store = .closed }
            if case .open(let store) = state.store { return store }
            return nil
        }
        guard let store else { return }
        // In a task of its own: a cancelled caller (a node stopped by cancellation) must still close the store,
        // and sqlite-nio's close gives up when its task is cancelled.
        let closing = Task { try await store.close() }
        do { try await closing.value } catch { logger.warning("chat store close failed", metadata: ["error": "\(error)"]) }
    }

    var store: (any MessageStore)? {
        if case .open(let store) = state.withLock({ $0.store }) { return store }
        return nil
    }

    // MARK: Plug points

    public func setAuthorizer(_ authorizer: @escaping ChatRoomAuthorizer) {
        state.withLock { $0.authorizer = authorizer }
    }

    public func setRequestClaims(_ claims: @escaping ChatRequestClaims) {
        state.withLock { $0.requestClaims = claims }
    }

    func authorize(_ room: String, claims: JSONValue?) -> Bool {
        let authorizer = state.withLock { $0.authorizer }
        return authorizer(room, claims)
    }

    func claims(of request: HTTPRequestContext) async -> JSONValue? {
        let find = state.withLock { $0.requestClaims }
        return await find(request)
    }

    static func claims(of socket: Socket) -> JSONValue? {
        let data = socket.data
        return data.isNull ? nil : data
    }

    // MARK: Sockets

    /// Registers `chat:send` and `chat:join` on every socket of `namespace`.
    public func install(on namespace: Namespace) {
        state.withLock { $0.maxRoomNameBytes = namespace.server.configuration.maxRoomNameBytes }
        namespace.onConnection { [self] socket in
            socket.on("chat:send") { [self] event in send(socket, event) }
            socket.on("chat:join") { [self] event in join(socket, event) }
        }
    }

    // MARK: Store calls with a deadline

    /// Runs `body` against the store, failing with `storage_unavailable` when there is none or it takes longer
    /// than `storeTimeout`. For reads only: a timed-out body is cancelled.
    func withStore<T: Sendable>(_ body: @escaping @Sendable (any MessageStore) async throws -> T) async throws(ChatError) -> T {
        guard let store else { throw ChatError(.storageUnavailable, "the message store is not open") }
        let timeout = configuration.storeTimeout
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await body(store) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let value = try await group.next() ?? nil else {
                    throw ChatError(.storageUnavailable, "the message store did not answer within \(timeout)")
                }
                return value
            }
        } catch let error as ChatError {
            throw error
        } catch {
            logger.warning("chat store read failed", metadata: ["error": "\(String(reflecting: error))"])
            throw ChatError(.storageUnavailable, "the message store is unavailable")
        }
    }
}

extension StoredMessage {
    /// `{id, room, sender, text, time, clientMessageId?}`; the id is a string so clients treat it as opaque
    /// and no JavaScript number limit ever applies.
    var json: JSONValue {
        var object: JSONObject = [
            "id": .string(String(id)),
            "room": .string(room),
            "sender": .string(sender),
            "text": .string(text),
            "time": .string(ChatTime.iso8601(milliseconds: timeMilliseconds)),
        ]
        if let clientMessageID { object["clientMessageId"] = .string(clientMessageID) }
        return .object(object)
    }
}

extension MessagePage {
    /// `{messages, next}` keeping the newest messages whose JSON fits in `maxBytes` (at least one, so paging
    /// always moves); when older ones are left out, `next` points at them.
    func json(maxBytes: Int) -> JSONObject {
        var kept: [JSONValue] = []
        var bytes = 0
        var cursor = next
        for message in messages.reversed() {
            let json = message.json
            let size = json.jsonString.utf8.count + 1
            if !kept.isEmpty && bytes + size > maxBytes {
                cursor = messages[messages.count - kept.count].id
                break
            }
            bytes += size
            kept.append(json)
        }
        return ["messages": .array(kept.reversed()), "next": cursor.map { .string(String($0)) } ?? .null]
    }
}
