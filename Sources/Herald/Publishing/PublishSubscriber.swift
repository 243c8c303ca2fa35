import NIOCore
import HeraldRedisAdapter
import Synchronization

/// What publishing needs from Redis pub/sub; the lead wires the real subscriber in behind it.
///
/// `handler` is called once per message, in arrival order, for messages on `name` (a channel, or
/// a glob pattern when `pattern` is true). It may be called on any thread but must not be called
/// concurrently for one subscription. A subscription is kept across reconnects by the implementation.
public protocol PublishSubscriber: Sendable {
    func subscribe(_ name: String, pattern: Bool, handler: @escaping PublishMessageHandler) async throws
}

/// `(channel, payload)`: the channel the message was published to (for a pattern, the matching one).
public typealias PublishMessageHandler = @Sendable (_ channel: String, _ payload: ByteBuffer) -> Void

/// Adapts a subscriber that has one handler for everything (like `RedisSubscriber`, whose handler
/// receives `(channel, pattern?, payload)`) to `PublishSubscriber`: pass `route` as that handler,
/// and `subscribeChannel`/`subscribePattern` as its `subscribe`/`psubscribe`.
public final class PublishSubscriptionRouter: PublishSubscriber {
    private let handlers = Mutex<(channels: [String: [PublishMessageHandler]], patterns: [String: [PublishMessageHandler]])>(([:], [:]))
    private let subscribeChannel: @Sendable (String) async throws -> Void
    private let subscribePattern: @Sendable (String) async throws -> Void

    public init(
        subscribeChannel: @escaping @Sendable (String) async throws -> Void,
        subscribePattern: @escaping @Sendable (String) async throws -> Void
    ) {
        self.subscribeChannel = subscribeChannel
        self.subscribePattern = subscribePattern
    }

    public func subscribe(_ name: String, pattern: Bool, handler: @escaping PublishMessageHandler) async throws {
        // Registered before subscribing, so the first message after the confirmation finds its handler.
        handlers.withLock { handlers in
            if pattern { handlers.patterns[name, default: []].append(handler) } else { handlers.channels[name, default: []].append(handler) }
        }
        do {
            try await pattern ? subscribePattern(name) : subscribeChannel(name)
        } catch {
            handlers.withLock { handlers in
                if pattern { _ = handlers.patterns[name]?.removeLast() } else { _ = handlers.channels[name]?.removeLast() }
            }
            throw error
        }
    }

    /// Hands one message to the handlers of its channel, or of its pattern when it came through one.
    public func route(channel: String, pattern: String?, payload: ByteBuffer) {
        let targets = handlers.withLock { handlers in
            if let pattern { return handlers.patterns[pattern] ?? [] }
            return handlers.channels[channel] ?? []
        }
        for handler in targets { handler(channel, payload) }
    }
}

/// Publishing's subscriptions on the cluster's Redis subscriber connection.
struct PublishRouter {
    let router: PublishSubscriptionRouter

    init(bus: RedisClusterBus) {
        let box = RouterBox()
        router = PublishSubscriptionRouter(
            subscribeChannel: { name in
                try await bus.subscribe(channel: name, namedHandler: { channel, payload in
                    box.router?.route(channel: channel, pattern: nil, payload: payload)
                })
            },
            subscribePattern: { pattern in
                try await bus.subscribe(pattern: pattern, handler: { channel, payload in
                    box.router?.route(channel: channel, pattern: pattern, payload: payload)
                })
            })
        box.router = router
    }

    /// The router's handlers need the router itself, which exists only after its init.
    final class RouterBox: @unchecked Sendable {
        // Set once, before any subscription can deliver a message.
        var router: PublishSubscriptionRouter?
    }
}
