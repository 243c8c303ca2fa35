import HeraldTesting
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

    @Test func fullJitterStaysWithinTheCeilingAndCoversIt() {
        var generator = SeededGenerator(seed: 42)
        for attempt in 1...10 {
            let ceiling = ReconnectionBackoff.ceiling(attempt: attempt, initialDelay: .seconds(1), maxDelay: .seconds(5))
            let delays = (0..<2000).map { _ in
                ReconnectionBackoff.delay(
                    attempt: attempt, initialDelay: .seconds(1), maxDelay: .seconds(5), using: &generator)
            }
            #expect(delays.allSatisfy { $0 >= .zero && $0 <= ceiling })
            // Full jitter: the whole window is used, down to nearly zero and up to nearly the ceiling.
            #expect(delays.min()! < ceiling / 50)
            #expect(delays.max()! > ceiling * 49 / 50)
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
        #expect(configuration.reconnectionAttempts == 10)
        #expect(configuration.reconnectionDelay == .seconds(1))
        #expect(configuration.reconnectionDelayMax == .seconds(5))
        #expect(configuration.connectTimeout == .seconds(20))
        #expect(configuration.ackTimeout == nil)
    }
}
