import EngineIO
import NIOHTTP1
import SocketIOProtocol
import HeraldStore
import HeraldPercentCoding

extension ChatService {
    static let historyPathPrefix = "/api/rooms/"
    static let historyPathSuffix = "/messages"

    /// `GET /api/rooms/{room}/messages?before=&limit=` → `{"messages":[…],"next":cursor|null}`; nil for other paths.
    public func route(_ request: HTTPRequestContext) async -> HTTPResponse? {
        let path = request.path
        guard path.hasPrefix(Self.historyPathPrefix), path.hasSuffix(Self.historyPathSuffix),
              path.count > Self.historyPathPrefix.count + Self.historyPathSuffix.count
        else { return nil }
        let encoded = path.dropFirst(Self.historyPathPrefix.count).dropLast(Self.historyPathSuffix.count)
        guard !encoded.contains("/") else { return nil }
        guard request.method == .GET else {
            var response = Self.error(.methodNotAllowed, ChatError(.badRequest, "use GET"))
            response.headers.add(name: "Allow", value: "GET")
            return response
        }
        // Clients write chat%3A42 or chat:42; both name the room chat:42.
        let room: String
        do throws(ChatError) {
            room = try Self.roomName(PercentCoding.decode(encoded), maxBytes: maxRoomNameBytes).rawValue
        } catch {
            return Self.error(.badRequest, error)
        }
        guard Self.isChatRoom(room) else {
            return Self.error(.notFound, ChatError(.notChatRoom, "chat rooms start with \(ChatConfiguration.roomPrefix)"))
        }
        guard authorize(room, claims: await claims(of: request)) else {
            return Self.error(.forbidden, ChatError(.forbidden, "not allowed to read \(room)"))
        }
        let query = request.query
        var before: Int64?
        if let text = query["before"], !text.isEmpty {
            guard let id = Int64(text), id > 0 else {
                return Self.error(.badRequest, ChatError(.badRequest, "before must be a message id"))
            }
            before = id
        }
        var limit = ChatConfiguration.defaultPageLimit
        if let text = query["limit"], !text.isEmpty {
            guard let number = Int(text), (1...ChatConfiguration.maxPageLimit).contains(number) else {
                return Self.error(.badRequest, ChatError(.badRequest, "limit must be an integer from 1 to \(ChatConfiguration.maxPageLimit)"))
            }
            limit = number
        }
        do {
            let page = try await withStore { [before, limit] store in try await store.page(room: room, before: before, limit: limit) }
            return .json(.ok, JSONValue.object(page.json(maxBytes: configuration.historyMaxBytes)).jsonString)
        } catch {
            return Self.error(.serviceUnavailable, error)
        }
    }

    static func error(_ status: HTTPResponseStatus, _ error: ChatError) -> HTTPResponse {
        .json(status, JSONValue.object(["error": error.json]).jsonString)
    }
}
