// Publishes per second through `Redis`: one-at-a-time (await each reply) vs pipelined
// (a window of futures in flight) vs batched (`publish(batch:)`), against a running redis-server.
// Usage: swift run -c release RedisPublishBench [redis://127.0.0.1:6379] [count]
import NIOCore
import NIOPosix
import HeraldRedis

let arguments = CommandLine.arguments
let url = arguments.count > 1 ? arguments[1] : "redis://127.0.0.1:6379"
let count = arguments.count > 2 ? Int(arguments[2])! : 200_000
let configuration = try RedisConfiguration(url: url)
let client = RedisClient(configuration: configuration, eventLoop: MultiThreadedEventLoopGroup.singleton.any())
try await client.connect()
let payload = ByteBuffer(string: String(repeating: "x", count: 64))

func measure(_ name: String, _ n: Int, _ body: () async throws -> Void) async throws {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print("\(name): \(n) publishes in \((seconds * 1000).rounded() / 1000) s = \(Int(Double(n) / seconds)) /s")
}

let serial = min(count, 20_000)
try await measure("one-at-a-time", serial) {
    for _ in 0..<serial { _ = try await client.publish("bench", message: payload) }
}
try await measure("pipelined (window 1024 futures)", count) {
    var window: [EventLoopFuture<Int>] = []
    window.reserveCapacity(1024)
    for _ in 0..<count {
        window.append(client.publishFuture("bench", message: payload))
        if window.count == 1024 {
            for f in window { _ = try await f.get() }
            window.removeAll(keepingCapacity: true)
        }
    }
    for f in window { _ = try await f.get() }
}
try await measure("batched (publish(batch:) of 1024)", count) {
    let batch = Array(repeating: (channel: "bench", message: payload), count: 1024)
    var sent = 0
    while sent < count {
        _ = try await client.publish(batch: batch)
        sent += batch.count
    }
}
await client.close()
