import Foundation
import SocketIOProtocol

/// `herald demo`: the demo pages, the demo token endpoint and the simulated backend (see docs/demo.md).
/// Setting `HeraldConfiguration.demo` turns authentication on with `secret` and the demo's room rules.
public struct DemoConfiguration: Sendable {
    /// HS256 secret of the demo tokens. Default: 32 random bytes, hex, made at start (tokens die with the process).
    public var secret: String
    /// Time between two order status changes of the simulated backend. Default 2 s.
    public var orderInterval: Duration
    /// Time between two `dashboard:business` pushes. Default 1 s.
    public var businessInterval: Duration
    /// How long the chat bot "types" before it answers. Default 800 ms.
    public var botReplyDelay: Duration
    /// Lifetime of a token from `/demo/token`. Default 15 minutes.
    public var tokenLifetime: Duration
    /// Orders each demo user owns. Default 3.
    public var ordersPerUser: Int
    /// The demo chat room; every demo user may join it. Default `chat:lobby`.
    public var chatRoom: String
    /// The bot's sender name in the chat. Default `herald-bot`.
    public var botName: String

    public init(
        secret: String = DemoConfiguration.randomSecret(),
        orderInterval: Duration = .seconds(2),
        businessInterval: Duration = .seconds(1),
        botReplyDelay: Duration = .milliseconds(800),
        tokenLifetime: Duration = .seconds(15 * 60),
        ordersPerUser: Int = 3,
        chatRoom: String = "chat:lobby",
        botName: String = "herald-bot"
    ) {
        self.secret = secret
        self.orderInterval = orderInterval
        self.businessInterval = businessInterval
        self.botReplyDelay = botReplyDelay
        self.tokenLifetime = tokenLifetime
        self.ordersPerUser = ordersPerUser
        self.chatRoom = chatRoom
        self.botName = botName
    }

    /// 32 random bytes as hex: long enough for `TokenSigner.minimumSecretLength`.
    public static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// The chat room's id, the part after `chat:`, as it appears in the `chats` claim.
    public var chatID: String { String(chatRoom.dropFirst(ChatConfiguration.roomPrefix.count)) }

    /// The demo's rules: a user's own orders (`orders` claim), chat rooms listed in `chats` (with presence), the
    /// dashboard for admins.
    public static func roomRules() -> [RoomRule] {
        // The patterns are literals checked here, so a failure is a programming error.
        // The chat room keeps presence: the chat page lists who is online.
        var chat = try! RoomRule(pattern: "chat:{id}", allow: [.contains(claim: "chats", value: "{id}")])
        chat.presence = true
        return [
            try! RoomRule(pattern: "order:{id}", allow: [.contains(claim: "orders", value: "{id}")]),
            chat,
            try! RoomRule(pattern: "dashboard", allow: [.equals(claim: "role", value: "admin")]),
        ]
    }

    /// `auth` with the demo secret and the demo rules in front of any configured ones.
    public func authConfiguration(from auth: AuthConfiguration) -> AuthConfiguration {
        var auth = auth
        auth.hmacSecret = secret
        auth.permissions = RoomPermissions(rules: Self.roomRules() + auth.permissions.rules)
        return auth
    }
}
