import Foundation

/// Now, in milliseconds since 1970 UTC: the resolution messages are stored and shown with.
public func wallClockMilliseconds() -> Int64 {
    Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
}
