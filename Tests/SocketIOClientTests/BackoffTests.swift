import HeraldTesting
import SocketIO
import SocketIOClient
import Testing

@Suite struct BackoffTests {
    @Test func ceilingDoublesUpToTheMaximum() {
        let ceilings = (1...6).map {
            ReconnectionBackoff.ceiling(attempt: $0, initialDelay: .seconds(1), maxDelay: .seconds(5))
        }
        #expect(ceilings == [.seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5), .seconds(5)])
        // No overflow for absurd attempt numbers.
        #expect(ReconnectionBackoff.ceiling(attempt: 500, initialDelay: .seconds(1), maxDelay: .seconds(5)) == .seconds(5))
    }

    /// socket.io-client's backoff: the base delay moved by up to ±50 % of itself, then capped.
    @Test func delaysAreTheBaseRandomizedByHalfThenCapped() {
        var generator = SeededGenerator(seed: 42)
        let windows: [(Duration, Duration)] = [
            (.milliseconds(500), .milliseconds(1500)), (.seconds(1), .seconds(3)), (.seconds(2), .seconds(5)),
            (.seconds(4), .seconds(5)), (.seconds(5), .seconds(5)),
        ]
        for (index, (low, high)) in windows.enumerated() {
            let delays = (0..<2000).map { _ in
                ReconnectionBackoff.delay(attempt: index + 1, initialDelay: .seconds(1), maxDelay: .seconds(5), using: &generator)
            }
            #expect(delays.allSatisfy { $0 >= low && $0 <= high }, "attempt \(index + 1)")
            // Both sides of the window are used (below: the cap takes the upper part of attempt 3).
            #expect(delays.min()! < low + (high - low) / 50 || low == high, "attempt \(index + 1)")
            #expect(delays.max()! > high - (high - low) / 50 || low == high, "attempt \(index + 1)")
        }
    }

    @Test func noRandomizationOutsideZeroToOne() {
        var generator = SeededGenerator(seed: 3)
        for factor in [0, -1, 1.5, .nan] {
            let delays = (1...5).map {
                ReconnectionBackoff.delay(attempt: $0, initialDelay: .seconds(1), maxDelay: .seconds(5), randomization: factor, using: &generator)
            }
            #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
        }
    }

    @Test func sameSeedSameDelays() {
        var first = SeededGenerator(seed: 7)
        var second = SeededGenerator(seed: 7)
        let a = (1...10).map { ReconnectionBackoff.delay(attempt: $0, initialDelay: .seconds(1), maxDelay: .seconds(5), using: &first) }
        let b = (1...10).map { ReconnectionBackoff.delay(attempt: $0, initialDelay: .seconds(1), maxDelay: .seconds(5), using: &second) }
        #expect(a == b)
    }

    @Test func documentedDefaults() {
        let configuration = SocketIOClientConfiguration()
        #expect(configuration.path == "/socket.io/")
        #expect(configuration.transports == [.polling, .websocket])
        #expect(configuration.upgrade)
        #expect(configuration.reconnection)
        #expect(configuration.reconnectionAttempts == .max)
        #expect(configuration.reconnectionDelay == .seconds(1))
        #expect(configuration.reconnectionDelayMax == .seconds(5))
        #expect(configuration.randomizationFactor == 0.5)
        #expect(configuration.connectTimeout == .seconds(20))
        #expect(configuration.ackTimeout == nil)
        #expect(configuration.maxAttachments == SocketIOConfiguration().maxAttachments)
        #expect(configuration.maxAttachmentBytes == SocketIOConfiguration().engine.maxPayload)
    }
}
