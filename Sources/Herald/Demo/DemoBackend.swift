import Synchronization

/// Runs `DemoSimulation` on a clock: an order step every `orderInterval`, business figures every
/// `businessInterval`, each event handed to `publish` (the node passes its publish API's path).
/// The clock is injected so tests can use short intervals or their own clock.
public final class DemoBackend<C: Clock>: Sendable where C.Duration == Duration {
    public typealias Publish = @Sendable (PublishRequest) async -> Void

    public let configuration: DemoConfiguration
    private let clock: C
    private let start: C.Instant
    private let simulation: Mutex<DemoSimulation>
    private let publish: Publish

    public init(configuration: DemoConfiguration, clock: C, publish: @escaping Publish) {
        self.configuration = configuration
        self.clock = clock
        self.start = clock.now
        self.simulation = Mutex(DemoSimulation(ordersPerUser: configuration.ordersPerUser))
        self.publish = publish
    }

    private var elapsed: Duration { start.duration(to: clock.now) }

    /// The user's orders (placed on first use), for the token's `orders` claim and the orders page.
    public func orders(of user: String) -> [DemoSimulation.Order] {
        let now = elapsed
        return simulation.withLock { $0.orders(of: user, at: now) }
    }

    /// Publishes until cancelled. Each loop awaits its publish before the next step, so events leave in order.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                await every(configuration.orderInterval) { [self] in
                    let now = elapsed
                    return simulation.withLock { $0.advanceOrder(at: now) }
                }
            }
            group.addTask { [self] in
                await every(configuration.businessInterval) { [self] in
                    let now = elapsed
                    return [simulation.withLock { $0.business(at: now) }]
                }
            }
        }
    }

    private func every(_ interval: Duration, _ step: @Sendable () -> [DemoSimulation.Event]) async {
        while !Task.isCancelled {
            do { try await clock.sleep(for: interval) } catch { return }
            for event in step() { await publish(Self.request(for: event)) }
        }
    }

    /// The publish request an event becomes: the same shape a backend would POST to `/api/publish`.
    public static func request(for event: DemoSimulation.Event) -> PublishRequest {
        switch event {
        case .orderUpdated(let order, let previous):
            var data = order.json
            if case .object(var object) = data {
                object["previous"] = .string(previous.rawValue)
                data = .object(object)
            }
            return PublishRequest(rooms: ["order:\(order.id)"], event: "order:updated", args: [data])
        case .business(let figures):
            return PublishRequest(rooms: ["dashboard"], event: "dashboard:business", args: [figures])
        }
    }
}
