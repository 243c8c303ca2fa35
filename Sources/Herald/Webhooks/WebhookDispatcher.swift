import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import SocketIO
import SocketIOProtocol
import Synchronization

/// Counts of the webhook queue, for /metrics.
public struct WebhookStats: Sendable, Hashable {
    /// Events waiting, all receivers together.
    public var queued = 0
    public var delivered = 0
    public var dropped = 0
    public var failedAttempts = 0
}

/// Sends events to every configured receiver, in batches, in order, at least once: a batch leaves the queue only
/// once its receiver answered 2xx, and is retried (backoff with jitter) until then. Each receiver's queue is bounded;
/// events beyond it are dropped and counted. Lock-protected: `state` holds the queues; one task per receiver
/// (`run`) sends, woken through its stream when events arrive.
public final class WebhookDispatcher: Sendable {
    public let configuration: WebhookConfiguration
    private let node: String
    private let logger: Logger
    private let state: Mutex<State>
    private let wakeups: [(stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)]
    /// For `https://` receivers, made once (the CA file is read at start).
    private let tls: Result<NIOSSLContext, any Error>?

    struct State {
        var queues: [[JSONValue]]
        var sequence = 0
        var stats = WebhookStats()
    }

    public init(configuration: WebhookConfiguration, node: String, logger: Logger) {
        self.configuration = configuration
        self.node = node
        self.logger = logger
        state = Mutex(State(queues: Array(repeating: [], count: configuration.urls.count)))
        wakeups = configuration.urls.map { _ in AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1)) }
        tls = configuration.urls.contains { $0.hasPrefix("https://") }
            ? Result { try PublishClient.tlsContext(caFile: configuration.caFile) } : nil
        if case .failure(let error) = tls {
            logger.error("webhooks: no TLS context for https:// receivers", metadata: ["caFile": "\(configuration.caFile ?? "")", "error": "\(error)"])
        }
    }

    public var stats: WebhookStats {
        state.withLock { state in
            var stats = state.stats
            stats.queued = state.queues.reduce(0) { $0 + $1.count }
            return stats
        }
    }

    /// Waits (polling, bounded by `deadline`) until every queue is empty: a stopping node sends what it has.
    public func flushed(before deadline: ContinuousClock.Instant) async {
        while stats.queued > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Queues `event` (its `type` and fields) for every receiver, adding `id` and `time`.
    public func enqueue(_ event: JSONObject) {
        var event = event
        let now = Int(Date().timeIntervalSince1970 * 1000)
        state.withLock { state in
            state.sequence += 1
            event["id"] = .string("\(node)-\(state.sequence)")
            event["time"] = .int(now)
            for index in state.queues.indices {
                if state.queues[index].count >= configuration.maxQueue {
                    state.stats.dropped += 1
                } else {
                    state.queues[index].append(.object(event))
                }
            }
        }
        for wakeup in wakeups { wakeup.continuation.yield() }
    }

    /// Sends until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for index in configuration.urls.indices {
                group.addTask { [self] in await send(to: index) }
            }
        }
    }

    private func send(to index: Int) async {
        let url = configuration.urls[index]
        var wakeup = wakeups[index].stream.makeAsyncIterator()
        while !Task.isCancelled {
            let batch = state.withLock { Array($0.queues[index].prefix(configuration.maxBatch)) }
            guard !batch.isEmpty else {
                guard await wakeup.next() != nil else { return }
                continue
            }
            var failures = 0
            while !Task.isCancelled {
                if await post(batch, to: url) { break }
                failures += 1
                state.withLock { $0.stats.failedAttempts += 1 }
                try? await Task.sleep(for: retryDelay(after: failures))
            }
            guard !Task.isCancelled else { return }
            state.withLock { state in
                state.queues[index].removeFirst(min(batch.count, state.queues[index].count))
                state.stats.delivered += batch.count
            }
        }
    }

    /// Doubling from the minimum up to the maximum, each drawn between half and all of it so that many nodes retrying
    /// one receiver spread out.
    public func retryDelay(after failures: Int) -> Duration {
        var delay = configuration.minRetryDelay
        for _ in 1..<min(max(failures, 1), 32) where delay < configuration.maxRetryDelay { delay *= 2 }
        delay = min(delay, configuration.maxRetryDelay)
        return delay * Double.random(in: 0.5...1)
    }

    /// One signed POST; true on a 2xx answer.
    private func post(_ batch: [JSONValue], to url: String) async -> Bool {
        let body = ByteBuffer(string: JSONValue.object(["events": .array(batch)]).jsonString)
        let timestamp = Int(Date().timeIntervalSince1970)
        let signature = WebhookSignature.sign(body: body.readableBytesView, timestamp: timestamp, secret: configuration.secret ?? "")
        do {
            let response = try await PublishClient.send(
                .POST, url: url, path: "", headers: [
                    ("X-Herald-Timestamp", String(timestamp)), ("X-Herald-Signature", signature), ("User-Agent", "herald-webhook"),
                ], body: body, timeout: configuration.timeout, maxResponseBytes: 4096, tls: try tls?.get(),
                credentialsInURL: true)
            if (200..<300).contains(response.status) { return true }
            logger.warning("webhook refused", metadata: ["url": "\(url)", "status": "\(response.status)", "events": "\(batch.count)"])
        } catch {
            logger.warning("webhook not delivered", metadata: ["url": "\(url)", "error": "\(error)", "events": "\(batch.count)"])
        }
        return false
    }

    // MARK: Sources

    /// Presence and user transitions as webhook events (`room.occupied` before the first join, `room.vacated` after
    /// the last leave).
    public func presenceChanged(_ event: PresenceEvent) {
        let member = PresenceTracker.member(event.subject, info: event.info)
        let sequence = JSONValue.int(event.sequence)
        guard !event.room.isEmpty else {
            var fields: JSONObject = ["type": .string(event.kind == .joined ? "user.connected" : "user.disconnected"),
                                      "sub": .string(event.subject), "seq": sequence]
            fields["claims"] = member["claims"]
            enqueue(fields)
            return
        }
        let room = JSONValue.string(event.room)
        if event.kind == .joined, event.users == 1 { enqueue(["type": "room.occupied", "room": room, "seq": sequence]) }
        enqueue(["type": .string(event.kind == .joined ? "presence.join" : "presence.leave"), "room": room, "member": member, "seq": sequence])
        if event.kind == .left, event.users == 0 { enqueue(["type": "room.vacated", "room": room, "seq": sequence]) }
    }

    /// Forwards the configured client events of `namespace` (after the gateway's limits let them through).
    public func install(on namespace: Namespace) {
        guard !configuration.clientEvents.isEmpty else { return }
        namespace.onConnection { [self] socket in
            socket.onAny { [self] event in
                guard configuration.clientEvents.contains(event.name) else { return }
                var fields: JSONObject = ["type": "client.event", "event": .string(event.name), "socket": .string(socket.id),
                                          "args": .array(event.args)]
                if case .string(let subject)? = socket.data["sub"] { fields["sub"] = .string(subject) }
                enqueue(fields)
            }
        }
    }
}
