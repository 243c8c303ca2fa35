// Cross-node broadcast latency and publish throughput through Redis.
//
//   redis-server --port 6399 --save '' --appendonly no --daemonize yes
//   swift build -c release --product ClusterLatencyBench
//   .build/release/ClusterLatencyBench redis://127.0.0.1:6399 [samples] [burst]
//
// Two herald nodes in this process share rooms through Redis; one raw websocket client sits on node A in
// room "r". Latency: the time from `io.to("r").emit` until the client has read the frame, emitted on node A
// (local) and on node B (across Redis), one at a time. Throughput: node B emits a burst as fast as it can and
// the rate is taken when the client on node A has read the last one.
import Foundation
import Synchronization
import HeraldTesting
import NIOCore
import NIOPosix
import HeraldRedis
import HeraldRedisAdapter
import SocketIO
import SocketIOProtocol

let arguments = CommandLine.arguments
let url = arguments.count > 1 ? arguments[1] : "redis://127.0.0.1:6379"
let samples = arguments.count > 2 ? Int(arguments[2]) ?? 2000 : 2000
let burst = arguments.count > 3 ? Int(arguments[3]) ?? 50_000 : 50_000

let redis = try RedisConfiguration(url: url)
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

func node() async throws -> (SocketIOServer, RedisClusterBus, any Channel) {
    let bus = RedisClusterBus(configuration: redis, eventLoop: group.next())
    try await bus.connect()
    let io = SocketIOServer(adapterFactory: ClusterAdapter.factory(bus: bus))
    io.onConnection { socket in socket.join("r") }
    let channel = try await io.bind(host: "127.0.0.1", port: 0, group: group)
    try await (io.sockets.adapter as! ClusterAdapter).ready()
    return (io, bus, channel)
}

let (a, _, channelA) = try await node()
let (b, _, _) = try await node()
let client = try await RawSocketIOClient.open(port: channelA.localAddress!.port!, group: clientGroup)
_ = try await client.connect()
await (a.sockets.adapter as! ClusterAdapter).subscriptionsSettled()

func percentile(_ sorted: [Double], _ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }

func measure(from io: SocketIOServer) async throws -> [Double] {
    var latencies: [Double] = []
    for index in 0..<samples {
        let start = ContinuousClock.now
        io.to("r").emit("m", .int(index))
        _ = try await client.nextText()
        let elapsed = ContinuousClock.now - start
        latencies.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
    }
    return latencies.sorted()
}

// Warm up both paths first.
_ = try await measure(from: a)
_ = try await measure(from: b)
let local = try await measure(from: a)
let remote = try await measure(from: b)

// Throughput at the Redis side: a plain subscriber on the room's channel counts what node B got through
// (the websocket client would measure itself, not the node).
let counted = Counter(target: burst)
let subscriber = RedisSubscriber(configuration: redis, eventLoop: group.next()) { _, _, _ in counted.increment() }
try await subscriber.connect()
try await subscriber.subscribe("herald#/#r#")
let started = ContinuousClock.now
for index in 0..<burst { b.to("r").emit("m", .int(index)) }
try await counted.done()
let elapsed = ContinuousClock.now - started
let seconds = Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)

func row(_ name: String, _ values: [Double]) -> String {
    String(format: "%@  p50 %.0f µs  p99 %.0f µs  (n=%d)", name, percentile(values, 0.5), percentile(values, 0.99), values.count)
}
print(row("local broadcast     ", local))
print(row("cross-node broadcast", remote))
print(String(format: "added by Redis: p50 %.0f µs, p99 %.0f µs",
             percentile(remote, 0.5) - percentile(local, 0.5), percentile(remote, 0.99) - percentile(local, 0.99)))
print(String(format: "publishes through Redis from one node (received by a subscriber): %.0f/s (%d in %.2f s)", Double(burst) / seconds, burst, seconds))
exit(0)

final class Counter: Sendable {
    let target: Int
    let state = Mutex<(count: Int, waiter: CheckedContinuation<Void, Never>?)>((0, nil))
    init(target: Int) { self.target = target }

    func increment() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.count += 1
            guard state.count >= target else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func done() async throws {
        await withCheckedContinuation { continuation in
            let finished = state.withLock { state -> Bool in
                if state.count >= target { return true }
                state.waiter = continuation
                return false
            }
            if finished { continuation.resume() }
        }
    }
}
