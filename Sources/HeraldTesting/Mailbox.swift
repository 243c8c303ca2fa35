import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Thrown when a bounded wait runs out: the test fails instead of hanging.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public let what: String
    public let after: Duration
    public var description: String { "timed out after \(after) waiting for \(what)" }
}

/// A single-consumer queue of values produced on any thread, read with a bounded wait.
/// The deadline runs on an event loop timer, so a wait needs no sleeping task.
public final class Mailbox<Element: Sendable>: Sendable {
    private struct Waiter {
        let token: Int
        let continuation: CheckedContinuation<Element?, any Error>
        let timer: Scheduled<Void>
    }

    private struct State {
        var buffer: [Element] = []
        var finished = false
        var waiter: Waiter?
        var nextToken = 0
    }

    private let state = Mutex(State())
    private let timerLoop: any EventLoop
    private let name: String

    public init(_ name: String, timerLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()) {
        self.name = name
        self.timerLoop = timerLoop
    }

    public func send(_ element: Element) {
        let waiter: Waiter? = state.withLock { state in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.buffer.append(element)
            return nil
        }
        if let waiter {
            waiter.timer.cancel()
            waiter.continuation.resume(returning: element)
        }
    }

    /// No more elements; buffered ones are still delivered, then `next` returns nil.
    public func finish() {
        let waiter: Waiter? = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        if let waiter {
            waiter.timer.cancel()
            waiter.continuation.resume(returning: nil)
        }
    }

    /// The next element, nil once finished; throws `WaitTimedOut` when none arrives in time.
    public func next(timeout: Duration = .seconds(5)) async throws -> Element? {
        try await withCheckedThrowingContinuation { continuation in
            let immediate: Result<Element?, any Error>? = state.withLock { locked in
                precondition(locked.waiter == nil, "Mailbox \(name) has a single consumer")
                if !locked.buffer.isEmpty { return .success(locked.buffer.removeFirst()) }
                if locked.finished { return .success(nil) }
                let token = locked.nextToken
                locked.nextToken += 1
                let timer = timerLoop.scheduleTask(in: TimeAmount(timeout)) { [self] in
                    let expired: Waiter? = state.withLock { state in
                        guard let waiter = state.waiter, waiter.token == token else { return nil }
                        state.waiter = nil
                        return waiter
                    }
                    expired?.continuation.resume(throwing: WaitTimedOut(what: name, after: timeout))
                }
                locked.waiter = Waiter(token: token, continuation: continuation, timer: timer)
                return nil
            }
            if let immediate { continuation.resume(with: immediate) }
        }
    }

    /// Elements received so far, without waiting.
    public func drain() -> [Element] {
        state.withLock { state in
            defer { state.buffer = [] }
            return state.buffer
        }
    }

    /// Whether nothing is buffered right now.
    public var isEmpty: Bool { state.withLock { $0.buffer.isEmpty } }
}

extension TimeAmount {
    public init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension Mailbox where Element == String {
    /// Sends each line read from `handle` (a child's stdout) until it closes, then finishes. A plain thread reads:
    /// blocking reads, lines handed over as they complete.
    public func receiveLines(from handle: FileHandle) {
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    send(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending = Data(pending[pending.index(after: newline)...])
                }
            }
            finish()
        }
    }
}
