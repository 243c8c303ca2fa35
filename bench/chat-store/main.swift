// Messages stored per second and history page latency through `Store`, on SQLite and on PostgreSQL.
// Usage: swift run -c release ChatStoreBench <database URL> [messages]
//   e.g. sqlite:///tmp/bench.sqlite   or   postgres://herald@127.0.0.1:5433/bench
// bench/chat-store/run.sh starts a throwaway PostgreSQL cluster and runs both.
import Foundation
import Logging
import HeraldStore

let arguments = CommandLine.arguments
guard arguments.count > 1 else {
    print("usage: ChatStoreBench <database URL> [messages]")
    exit(2)
}
let location = try MessageStoreLocation(url: arguments[1])
let count = arguments.count > 2 ? Int(arguments[2])! : 5_000
var logger = Logger(label: "bench")
logger.logLevel = .error
let store = try await location.open(logger: logger)
try await store.migrate()
let text = String(repeating: "x", count: 100)
let run = UUID().uuidString.prefix(8)

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func report(_ name: String, _ n: Int, _ elapsed: Duration) {
    let s = seconds(elapsed)
    print("\(location) \(name): \(n) messages in \(String(format: "%.2f", s)) s = \(Int(Double(n) / s)) /s")
}

// One at a time, each awaited: what one sender waiting for its ack sees.
let serialRoom = "chat:serial-\(run)"
var start = ContinuousClock.now
for index in 0..<count {
    _ = try await store.append(NewMessage(room: serialRoom, sender: "bench", text: text,
                                          timeMilliseconds: wallClockMilliseconds(), clientMessageID: "s\(index)"))
}
report("sequential append", count, ContinuousClock.now - start)

// Many senders at once (32 in flight), as a busy node sees them.
let concurrentRoom = "chat:concurrent-\(run)"
start = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    let writers = 32
    for writer in 0..<writers {
        group.addTask {
            for index in stride(from: writer, to: count, by: writers) {
                _ = try await store.append(NewMessage(room: concurrentRoom, sender: "w\(writer)", text: text,
                                                      timeMilliseconds: wallClockMilliseconds(), clientMessageID: "c\(index)"))
            }
        }
    }
    try await group.waitForAll()
}
report("32 concurrent appends", count, ContinuousClock.now - start)

// History pages of 50 from random points of the serial room (its ids are contiguous per run).
let newest = try await store.page(room: serialRoom, before: nil, limit: 1).messages[0].id
var latencies: [Double] = []
for _ in 0..<1_000 {
    let before = newest - Int64.random(in: 0..<Int64(count)) + 1
    let pageStart = ContinuousClock.now
    let page = try await store.page(room: serialRoom, before: before, limit: 50)
    latencies.append(seconds(ContinuousClock.now - pageStart) * 1000)
    precondition(page.messages.count <= 50)
}
let sorted = latencies.sorted()
func percentile(_ p: Double) -> String { String(format: "%.3f", sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) }
print("\(location) history page (limit 50, room of \(count)): p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, max \(percentile(1)) ms")
try await store.close()
