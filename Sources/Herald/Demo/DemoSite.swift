import EngineIO
import Logging
import NIOHTTP1
import SocketIO
import SocketIOProtocol

/// The demo as the node serves it: pages, `/demo/token`, the simulated backend and the chat bot.
/// Exists only when `HeraldConfiguration.demo` is set; `/herald.js` is served by every node.
public final class DemoSite: Sendable {
    public let configuration: DemoConfiguration
    public let backend: DemoBackend<ContinuousClock>
    private let chat: ChatService
    private let io: SocketIOServer
    private let logger: Logger

    init(configuration: DemoConfiguration, publisher: Publisher, chat: ChatService, io: SocketIOServer, logger: Logger) {
        self.configuration = configuration
        self.chat = chat
        self.io = io
        self.logger = logger
        backend = DemoBackend(configuration: configuration, clock: ContinuousClock()) { request in
            // The HTTP publish API's path: the same validation, then the same delivery.
            do {
                try PublishValidation.check(request)
                _ = try await publisher.publishConfirmed(request)
            } catch {
                logger.warning("demo publish failed", metadata: ["event": "\(request)", "error": "\(error)"])
            }
        }
        installBot()
    }

    /// Seeds the chat room, then runs the simulated backend until cancelled. Call once the chat store is open.
    func run() async {
        do {
            try await chat.post("Welcome to the Herald demo chat. Messages are stored: reload and they are still here.",
                                room: configuration.chatRoom, sender: configuration.botName,
                                clientMessageID: "demo-welcome", to: io.sockets)
        } catch {
            logger.warning("demo chat not seeded", metadata: ["error": "\(error)"])
        }
        await backend.run()
    }

    /// The bot answers every message sent to the demo room (after the limits let it through).
    private func installBot() {
        let room = configuration.chatRoom, bot = configuration.botName, delay = configuration.botReplyDelay
        let namespace = io.sockets
        namespace.onConnection { [chat, logger] socket in
            socket.onAny { event in
                guard event.name == "chat:send", event[0]?["room"]?.stringValue == room,
                      let text = event[0]?["text"]?.stringValue, text.contains(where: { !$0.isWhitespace }),
                      socket.rooms.contains(room)
                else { return }
                let sender = ChatService.sender(of: socket)
                guard sender != bot else { return }
                Task {
                    try? await Task.sleep(for: delay)
                    do {
                        try await chat.post(DemoChatBot.reply(to: text, from: sender), room: room, sender: bot, to: namespace)
                    } catch {
                        logger.warning("demo bot could not answer", metadata: ["error": "\(error)"])
                    }
                }
            }
        }
    }

    // MARK: Routes

    /// `/herald.js` on every node; the pages and the token endpoint only with the demo on.
    static func addRoutes(to routes: inout HTTPRouteTable, site: DemoSite?) {
        routes.add(.GET, "/herald.js") { _ in asset(DemoAssets.heraldJS, contentType: DemoAssets.javascript) }
        guard let site else { return }
        let pages: [(String, String, String)] = [
            ("/demo", DemoAssets.indexPage, DemoAssets.html), ("/demo/", DemoAssets.indexPage, DemoAssets.html),
            ("/demo/orders", DemoAssets.ordersPage, DemoAssets.html), ("/demo/chat", DemoAssets.chatPage, DemoAssets.html),
            ("/demo/dashboard", DemoAssets.dashboardPage, DemoAssets.html),
            ("/demo/demo.css", DemoAssets.stylesheet, DemoAssets.css), ("/demo/demo.js", DemoAssets.pageScript, DemoAssets.javascript),
        ]
        for (path, text, contentType) in pages {
            routes.add(.GET, HTTPRouteTable.Pattern(path)) { _ in asset(text, contentType: contentType) }
        }
        routes.add(.GET, "/demo/token") { request in await site.token(request.query) }
    }

    private static func asset(_ text: String, contentType: String) -> HTTPResponse {
        var response = HTTPResponse.text(.ok, text, contentType: contentType)
        // The assets change with the binary only; revalidating costs little on localhost.
        response.headers.add(name: "Cache-Control", value: "no-cache")
        return response
    }

    /// Demo user names: short and plain, since they end up in room names and on the pages.
    static func isValidUser(_ user: String) -> Bool {
        (1...32).contains(user.count) && user.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    }

    /// `GET /demo/token?user=alice`: a short-lived token whose claims the demo's room rules grant.
    func token(_ query: [String: String]) async -> HTTPResponse {
        guard let user = query["user"], !user.isEmpty else {
            return Self.error(.badRequest, "bad_request", "user is required, e.g. /demo/token?user=alice")
        }
        guard Self.isValidUser(user) else {
            return Self.error(.badRequest, "bad_request", "user must be 1 to 32 letters, digits, _ or -")
        }
        let orders = backend.orders(of: user)
        let claims: JSONObject = [
            "sub": .string(user),
            // Reported with the user in the chat room's presence.
            "name": .string(user),
            "orders": .array(orders.map { .string($0.id) }),
            "chats": [.string(configuration.chatID)],
            // Every demo user may watch the dashboard; real deployments give this to few.
            "role": "admin",
        ]
        let lifetime = configuration.tokenLifetime
        do {
            let token = try await TokenSigner.hs256(secret: configuration.secret, claims: claims, ttl: lifetime)
            let body: JSONValue = [
                "token": .string(token), "user": .string(user), "expiresIn": .int(Int(lifetime.components.seconds)),
                "orders": .array(orders.map(\.json)), "chatRoom": .string(configuration.chatRoom),
                "bot": .string(configuration.botName),
            ]
            var response = HTTPResponse.json(.ok, body.jsonString)
            response.headers.add(name: "Cache-Control", value: "no-store")
            return response
        } catch {
            logger.error("demo token not signed", metadata: ["error": "\(error)"])
            return Self.error(.internalServerError, "internal", "the token could not be signed: \(error)")
        }
    }

    private static func error(_ status: HTTPResponseStatus, _ code: String, _ message: String) -> HTTPResponse {
        let body: JSONValue = ["error": ["code": .string(code), "message": .string(message)]]
        return .json(status, body.jsonString)
    }
}
