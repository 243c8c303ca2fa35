import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Where `SocketIOServer.run()` listens and how it stops. Each default is documented here once.
public struct SocketIOServiceConfiguration: Sendable {
    /// Address to listen on. Default `127.0.0.1`.
    public var host: String
    /// Port to listen on; 0 takes a free one (see `SocketIOServer.listeningAddress()`). Default 3000.
    public var port: Int
    /// The event loops that serve the connections. Default `MultiThreadedEventLoopGroup.singleton`.
    public var eventLoopGroup: any EventLoopGroup
    /// At graceful shutdown, how long the closing of the open sessions is spread over, so that clients come back
    /// (elsewhere) spread out too (see `SocketIOServer.drain(over:)`). Default 1 s.
    public var drainWindow: Duration
    /// How often `run()` brings the swift-metrics up to the server's figures (`reportMetrics()`). Default 1 s.
    public var metricsInterval: Duration

    public init(
        host: String = "127.0.0.1",
        port: Int = 3000,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        drainWindow: Duration = .seconds(1),
        metricsInterval: Duration = .seconds(1)
    ) {
        self.host = host
        self.port = port
        self.eventLoopGroup = eventLoopGroup
        self.drainWindow = drainWindow
        self.metricsInterval = metricsInterval
    }
}

/// A server in a swift-service-lifecycle `ServiceGroup`: listens, reports its metrics, and at graceful shutdown
/// drains (new sessions refused, open ones closed as "server shutting down" over `service.drainWindow`) before
/// `run()` returns. Servers with their own lifecycle (the herald gateway) use `bind`, `drain` and
/// `reportMetrics()` instead.
extension SocketIOServer: Service {
    /// Serves until graceful shutdown (or cancellation, which drains at once), then drains and stops listening.
    /// Runs once per server.
    public func run() async throws {
        let channel: any Channel
        do {
            channel = try await bind(host: service.host, port: service.port, group: service.eventLoopGroup)
        } catch {
            listening.fail(error)
            throw error
        }
        listening.set(channel.localAddress)
        logger.info("socket.io listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        // The reporting loop is a child of `run()`, so the service group owns it: it ends with the shutdown.
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { [service] in
                while (try? await Task.sleep(for: service.metricsInterval)) != nil { self.reportMetrics() }
            }
            try? await gracefulShutdown()
            tasks.cancelAll()
        }
        logger.info("socket.io draining", metadata: ["sessions": "\(engine.sessionCount)"])
        await drain(over: service.drainWindow)
        try? await channel.close()
        reportMetrics()
    }

    /// The address `run()` listens on, once it does; throws if it could not listen.
    public func listeningAddress() async throws -> SocketAddress {
        try await listening.value()
    }

    /// Brings `metrics` up to the server's figures now. `run()` calls it every `service.metricsInterval`; whoever
    /// serves with `bind` instead calls it when it wants the metrics current (the gateway, once per dashboard tick).
    public func reportMetrics() {
        metrics.report(self)
    }
}

/// An address that is known once a listener is bound, awaited by whoever needs it first (tests, embedders
/// asking for port 0). Lock-protected.
package final class ListeningAddress: Sendable {
    private enum State {
        case waiting([CheckedContinuation<SocketAddress, any Error>])
        case bound(SocketAddress)
        case failed(any Error)
    }

    private struct NoAddress: Error, CustomStringConvertible {
        var description: String { "the listener has no local address" }
    }

    private let state = Mutex<State>(.waiting([]))

    package init() {}

    package func set(_ address: SocketAddress?) {
        guard let address else { return fail(NoAddress()) }
        finish(.bound(address))
    }

    package func fail(_ error: any Error) { finish(.failed(error)) }

    private func finish(_ outcome: State) {
        let waiters = state.withLock { state -> [CheckedContinuation<SocketAddress, any Error>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = outcome
            return waiters
        }
        for waiter in waiters {
            switch outcome {
            case .bound(let address): waiter.resume(returning: address)
            case .failed(let error): waiter.resume(throwing: error)
            case .waiting: break
            }
        }
    }

    package var current: SocketAddress? {
        state.withLock { if case .bound(let address) = $0 { address } else { nil } }
    }

    package func value() async throws -> SocketAddress {
        try await withCheckedThrowingContinuation { continuation in
            let outcome: Result<SocketAddress, any Error>? = state.withLock { state in
                switch state {
                case .waiting(var waiters):
                    waiters.append(continuation)
                    state = .waiting(waiters)
                    return nil
                case .bound(let address): return .success(address)
                case .failed(let error): return .failure(error)
                }
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}
