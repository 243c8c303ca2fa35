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
    /// The namespace is not one this server serves: nothing was sent (a publish never creates a namespace).
    case unknownNamespace
}

/// The one delivery function behind the HTTP API, the envelope channel and the bridges.
public final class Publisher: Sendable {
    public typealias Deliver = @Sendable (PublishRequest, PublishDeliveryScope) -> Void
    public typealias DeliverConfirmed = @Sendable (PublishRequest) async throws -> Void

    public let idempotency: any IdempotencyStore
    private let deliver: Deliver
    private let deliverConfirmed: DeliverConfirmed
    private let serves: @Sendable (String) -> Bool

    /// `deliver` does the emit; tests record instead. `deliverConfirmed` is the cluster-wide emit that
    /// returns once every node can receive it (defaults to `deliver`). `serves` says whether a namespace exists.
    public init(idempotency: any IdempotencyStore, serves: @escaping @Sendable (String) -> Bool = { _ in true },
                deliver: @escaping Deliver, deliverConfirmed: DeliverConfirmed? = nil) {
        self.idempotency = idempotency
        self.serves = serves
        self.deliver = deliver
        self.deliverConfirmed = deliverConfirmed ?? { request in deliver(request, .cluster) }
    }

    /// Emits through `io`: encoded once, then the adapter fans out. Only to namespaces `io` already serves.
    public convenience init(io: SocketIOServer, idempotency: any IdempotencyStore) {
        self.init(idempotency: idempotency, serves: { [io] in io.existingNamespace($0) != nil }, deliver: { [io] request, scope in
            var audience = Self.audience(io, request)
            if scope == .local { audience = audience.local }
            audience.emit(request.event, args: request.args)
        }, deliverConfirmed: { [io] request in
            try await Self.audience(io, request).publish(request.event, args: request.args)
        })
    }

    private static func audience(_ io: SocketIOServer, _ request: PublishRequest) -> BroadcastOperator {
        // `serves` was asked first; a namespace is never removed, so `of` finds it and creates nothing.
        let audience = io.of(request.namespace).all.to(request.rooms)
        return request.except.isEmpty ? audience : audience.except(request.except)
    }

    /// The HTTP API's path: the key is claimed cluster-wide when the store can, and the call returns once the
    /// cluster took the event; it throws when the cluster cannot be reached (this node's clients got it anyway).
    public func publishConfirmed(_ request: PublishRequest) async throws -> PublishOutcome {
        guard serves(request.namespace) else { return .unknownNamespace }
        if let key = request.idempotencyKey, !(await idempotency.claimAcrossCluster(key)) { return .duplicate }
        do {
            try await deliverConfirmed(request)
        } catch {
            // The caller answers 503 and is told to retry with the same key: that retry must be delivered.
            if let key = request.idempotencyKey { await idempotency.release(key) }
            throw error
        }
        return .delivered
    }

    /// Delivers a request that went through `PublishRequest`'s validation.
    public func publish(_ request: PublishRequest, scope: PublishDeliveryScope) -> PublishOutcome {
        guard serves(request.namespace) else { return .unknownNamespace }
        if let key = request.idempotencyKey, !idempotency.claim(key) { return .duplicate }
        deliver(request, scope)
        return .delivered
    }
}
