import Logging
import SocketIO

/// Where a publish goes.
public enum PublishDeliveryScope: Sendable, Hashable {
    /// To the rooms' members on every node (the HTTP API: the request reached one node only).
    case cluster
    /// To this node's members only: every node receives a Redis message, and each serves its own clients.
    case local
}

public enum PublishOutcome: Sendable, Hashable {
    case delivered
    /// The idempotency key was already used within the window; nothing was sent again.
    case duplicate
}

/// The one delivery function behind the HTTP API, the envelope channel and the bridges.
public final class Publisher: Sendable {
    public typealias Deliver = @Sendable (PublishRequest, PublishDeliveryScope) -> Void

    public let idempotency: any IdempotencyStore
    private let deliver: Deliver

    /// `deliver` does the emit; tests record instead.
    public init(idempotency: any IdempotencyStore, deliver: @escaping Deliver) {
        self.idempotency = idempotency
        self.deliver = deliver
    }

    /// Emits through `io`: encoded once, then the adapter fans out.
    public convenience init(io: SocketIOServer, idempotency: any IdempotencyStore) {
        self.init(idempotency: idempotency) { [io] request, scope in
            var audience = io.of(request.namespace).all.to(request.rooms)
            if !request.except.isEmpty { audience = audience.except(request.except) }
            if scope == .local { audience = audience.local }
            audience.emit(request.event, args: request.args)
        }
    }

    /// Delivers a request that went through `PublishRequest`'s validation.
    public func publish(_ request: PublishRequest, scope: PublishDeliveryScope) -> PublishOutcome {
        if let key = request.idempotencyKey, !idempotency.claim(key) { return .duplicate }
        deliver(request, scope)
        return .delivered
    }
}
