#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// CPU time of this process (user + system), to show whether the load generator was the bottleneck.
public struct ProcessCPU: Sendable {
    public var seconds: Double

    public static func now() -> ProcessCPU {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func secs(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1_000_000 }
        return ProcessCPU(seconds: secs(usage.ru_utime) + secs(usage.ru_stime))
    }
}

/// CPU used over a wall-clock interval; `percentOfOneCore` above 100 means more than one core was busy.
public struct CPUShare: Codable, Sendable, Equatable {
    public var cpuSeconds: Double
    public var wallSeconds: Double
    public var percentOfOneCore: Double

    public init(cpuSeconds: Double, wallSeconds: Double) {
        self.cpuSeconds = cpuSeconds
        self.wallSeconds = wallSeconds
        percentOfOneCore = wallSeconds > 0 ? (cpuSeconds / wallSeconds * 1000).rounded() / 10 : 0
    }
}

/// Another process's memory and CPU, read from /proc (Linux only; nil elsewhere or when the pid is gone).
public enum ServerProcess {
    public static func rssKiB(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }

    /// utime + stime in seconds (fields 14 and 15 of /proc/PID/stat, counted after the parenthesised name).
    public static func cpuSeconds(pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
