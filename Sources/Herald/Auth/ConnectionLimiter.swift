import NIOCore
import SocketIOProtocol

/// One socket's token bucket and violation record. A value type driven with explicit times, so tests
/// need no clock; the gateway keeps one per socket behind its lock.
public struct ConnectionLimiter: Sendable {
    public let limits: ConnectionLimits
    private var tokens: Double
    private var refilledAt: NIODeadline
    private var violations: [NIODeadline] = []

    public enum Verdict: Sendable, Equatable {
        case admitted
        /// Refused; `disconnect` when this violation reached `maxViolations` within the window.
        case refused(AuthError, disconnect: Bool)
    }

    public init(limits: ConnectionLimits, now: NIODeadline) {
        self.limits = limits
        self.tokens = Double(limits.burst)
        self.refilledAt = now
    }

    /// Checks one incoming event of `size` bytes arriving at `now`.
    public mutating func admit(size: Int, now: NIODeadline) -> Verdict {
        let elapsed = Double((now - refilledAt).nanoseconds) / 1e9
        if elapsed > 0 {
            tokens = min(Double(limits.burst), tokens + elapsed * limits.eventsPerSecond)
            refilledAt = now
        }
        if size > limits.maxEventBytes {
            return violation(AuthError(.eventTooLarge, "events are limited to \(limits.maxEventBytes) bytes"), now: now)
        }
        guard tokens >= 1 else {
            return violation(AuthError(.rateLimited, "too many events: at most \(Int(limits.eventsPerSecond)) per second"), now: now)
        }
        tokens -= 1
        return .admitted
    }

    /// Records a violation found elsewhere (too many rooms) and says whether the socket should go.
    public mutating func violation(_ error: AuthError, now: NIODeadline) -> Verdict {
        let windowStart = now - TimeAmount(limits.violationWindow)
        violations.removeAll { $0 < windowStart }
        violations.append(now)
        return .refused(error, disconnect: violations.count >= limits.maxViolations)
    }

    /// The wire size of an event: name and JSON arguments, binary attachments by their byte count.
    public static func size(of name: String, args: [JSONValue]) -> Int {
        func size(_ value: JSONValue) -> Int {
            switch value {
            case .binary(let buffer): return buffer.readableBytes
            case .array(let items): return items.reduce(2) { $0 + size($1) + 1 }
            case .object(let object): return object.reduce(2) { $0 + $1.key.utf8.count + 4 + size($1.value) }
            default: return value.jsonString.utf8.count
            }
        }
        return args.reduce(name.utf8.count + 4) { $0 + size($1) + 1 }
    }
}
