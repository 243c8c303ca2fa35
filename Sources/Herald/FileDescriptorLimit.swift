#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Each connection holds a file descriptor, and Linux starts processes with a soft limit (often 1024) far below
/// what a push server needs, so a node raises its soft limit to the hard limit at start.
public enum FileDescriptorLimit {
    public struct Limits: Sendable, Hashable {
        public var soft: UInt64
        public var hard: UInt64
    }

    /// Raises the soft limit to the hard one; returns the limits in force afterwards (nil if they cannot be read).
    @discardableResult
    public static func raiseToHard() -> Limits? {
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return Limits(soft: UInt64(limit.rlim_cur), hard: UInt64(limit.rlim_max))
    }

    /// Connections one node can hold under a limit, leaving room for listeners, Redis, logs and the like.
    public static func connectionCeiling(_ limits: Limits) -> UInt64 {
        limits.soft > 64 ? limits.soft - 64 : 0
    }
}
