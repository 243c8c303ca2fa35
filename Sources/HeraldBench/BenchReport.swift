import Foundation

/// Plain-text tables and JSON files for the scenario results.
public enum BenchReport {
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in
            ([header[column]] + rows.map { column < $0.count ? $0[column] : "" }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n")
    }

    public static func json<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(value)
    }

    static func ms(_ value: Double) -> String { String(format: "%.2f", value) }
    static func opt<T>(_ value: T?) -> String { value.map { "\($0)" } ?? "-" }

    public static func text(_ r: IdleResult) -> String {
        table(["clients", "connected", "failed", "ramp s", "conn/s", "hs p50 ms", "hs p99 ms", "RSS before KiB", "RSS after KiB", "KiB/conn", "bench KiB/conn", "bench CPU %", "server CPU %"],
              [["\(r.clients)", "\(r.connected)", "\(r.failed)", "\(r.rampSeconds)", "\(r.connectionsPerSecond)",
                ms(r.handshake.p50), ms(r.handshake.p99), opt(r.serverRSSBeforeKiB), opt(r.serverRSSAfterKiB),
                opt(r.serverKiBPerConnection), opt(r.benchKiBPerConnection), "\(r.benchCPU.percentOfOneCore)", opt(r.serverCPU?.percentOfOneCore)]])
    }

    public static func text(_ r: StormResult) -> String {
        table(["clients", "connected", "failed", "all in s", "handshakes/s", "hs p50 ms", "hs p95 ms", "hs max ms", "bench CPU %", "server CPU %"],
              [["\(r.clients)", "\(r.connected)", "\(r.failed)", "\(r.secondsUntilAllIn)", "\(r.handshakesPerSecond)",
                ms(r.handshake.p50), ms(r.handshake.p95), ms(r.handshake.max), "\(r.benchCPU.percentOfOneCore)",
                opt(r.serverCPU?.percentOfOneCore)]])
    }

    public static func text(_ r: BroadcastResult) -> String {
        table(["clients", "broadcasts", "rtt p50 ms", "p95 ms", "p99 ms", "max ms", "to last p50 ms", "p99 ms", "deliveries/s", "lost", "dup", "mismatch", "bench CPU %", "server CPU %"],
              r.steps.map { s in
                  ["\(s.clients)", "\(s.broadcasts)", ms(s.roundTrip.p50), ms(s.roundTrip.p95), ms(s.roundTrip.p99),
                   ms(s.roundTrip.max), ms(s.toLastClient.p50), ms(s.toLastClient.p99), "\(s.deliveriesPerSecond)", "\(s.lost)", "\(s.duplicated)", "\(s.mismatchedClients)",
                   "\(s.benchCPU.percentOfOneCore)", opt(s.serverCPU?.percentOfOneCore)]
              }) + "\nstopped: \(r.stoppedBecause)"
    }

    public static func text(_ r: FanoutResult) -> String {
        table(["members", "events", "rate/s", "deliveries", "lost", "dup", "seconds", "deliveries/s", "last p50 ms", "p99 ms", "max ms", "bench CPU %", "server CPU %"],
              [["\(r.members)", "\(r.events)", "\(r.rate)", "\(r.deliveries)", "\(r.lost)", "\(r.duplicated)", "\(r.seconds)",
                "\(r.deliveriesPerSecond)", ms(r.latencyToLastMember.p50), ms(r.latencyToLastMember.p99),
                ms(r.latencyToLastMember.max), "\(r.benchCPU.percentOfOneCore)", opt(r.serverCPU?.percentOfOneCore)]])
            + (r.drainTimedOut ? "\ndrain deadline passed with \(r.lost) deliveries missing" : "")
            + (r.dropped > 0 ? "\nserver closed \(r.dropped) members" : "")
            + (r.memberServer.map { "\nmembers on \($0), publisher on \(r.publisherServer ?? "?")" } ?? "")
    }

    public static func text(_ r: SoakResult) -> String {
        let head = table(["cycles", "completed", "failed", "seconds", "cycles/s", "RSS warm KiB", "RSS end KiB", "growth %", "settle s", "bench CPU %", "server CPU %"],
              [["\(r.cycles)", "\(r.completed)", "\(r.failed)", "\(r.seconds)", "\(r.cyclesPerSecond)", opt(r.serverRSSWarmKiB),
                opt(r.serverRSSEndKiB), opt(r.rssGrowthPercent), opt(r.settleSeconds), "\(r.benchCPU.percentOfOneCore)",
                opt(r.serverCPU?.percentOfOneCore)]])
        let modes = table(["mode", "completed", "failed"],
              r.byMode.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value.completed)", "\($0.value.failed)"] })
        let names = Set(r.resourcesWarm.keys).union(r.resourcesEnd.keys).sorted()
        let gauges = table(["gauge", "warm", "end"], names.map { name in
            [name, r.resourcesWarm[name].map { String(format: "%g", $0) } ?? "-", r.resourcesEnd[name].map { String(format: "%g", $0) } ?? "-"]
        })
        return head + "\n\n" + modes + "\n\n" + gauges
            + "\nRSS every tenth (KiB): \(r.rssSamplesKiB.map(String.init).joined(separator: " "))"
            + (r.leftovers.isEmpty ? "\nleftovers: none" : "\nleftovers: \(r.leftovers)")
            + (r.errors.isEmpty ? "" : "\nerrors: \(r.errors)")
    }

    public static func text(_ r: ReconnectResult) -> String {
        let exited: String = opt(r.secondsUntilNodeExited), back: String = opt(r.secondsUntilAllBack)
        var row: [String] = ["\(r.clients)", r.action, "\(r.recovery)", "\(r.connectedBefore)", exited, back, "\(r.connectedAtEnd)"]
        row += ["\(r.reconnects)", "\(r.recovered)", "\(r.failedAttempts)", "\(r.refused503)", "\(r.refused1013)", "\(r.serverDisconnects)"]
        let head = table(["clients", "action", "recovery", "in before", "node exited s", "all back s", "at end", "reconnects", "recovered",
                          "failed attempts", "503", "1013", "server DISCONNECT"], [row])
        let counts: [String] = ["\(r.published)", "\(r.publishFailures)", "\(r.missedTotal)", "\(r.clientsMissing)",
                                "\(r.maxMissedPerClient)", "\(r.duplicatedTotal)", "\(r.clientsWithDuplicates)"]
        let events = table(["published", "publish failures", "missed", "clients missing", "max missed/client", "duplicated", "clients with dups"],
                           [counts])
        var nodeRows: [[String]] = []
        for node in r.nodes {
            let h = r.reconnectHandshakes[node]
            let cpu: String = opt(r.nodeCPUSeconds[node])
            nodeRows.append([node, h.map { "\($0.count)" } ?? "0", h.map { ms($0.p50) } ?? "-", h.map { ms($0.p99) } ?? "-",
                             h.map { ms($0.max) } ?? "-", cpu])
        }
        let nodes = table(["node", "reconnect handshakes", "p50 ms", "p99 ms", "max ms", "CPU s (signal → all back)"], nodeRows)
        var text = head + "\n\n" + events
        text += "\n\n" + nodes
        if !r.sampleMissed.isEmpty { text += "\none client missed: \(r.sampleMissed.map(String.init).joined(separator: " "))" }
        if !r.errors.isEmpty { text += "\nerrors: \(r.errors)" }
        return text
    }

    public static func text(_ r: ClusterResult) -> String {
        let head = table(["nodes", "clients", "connected", "failed", "processes", "ramp s", "broadcasts", "rate/s", "to last p50 ms", "p95 ms", "p99 ms", "max ms", "ack p50 ms", "deliveries/s", "lost", "dup", "mismatch", "bench CPU %"],
              [["\(r.nodes)", "\(r.clients)", "\(r.connected)", "\(r.failed)", "\(r.processes)", "\(r.rampSeconds)", "\(r.broadcasts)", "\(r.rate)",
                ms(r.toLastClient.p50), ms(r.toLastClient.p95), ms(r.toLastClient.p99), ms(r.toLastClient.max), ms(r.roundTrip.p50),
                "\(r.deliveriesPerSecond)", "\(r.lost)", "\(r.duplicated)", "\(r.mismatchedClients)", "\(r.benchCPU.percentOfOneCore)"]])
        let nodes = table(["node", "server", "clients", "deliveries", "expected", "to last p50 ms", "p99 ms", "max ms", "server CPU %", "server RSS KiB"],
              r.perNode.enumerated().map { index, n in
                  ["\(index)", n.server, "\(n.clients)", "\(n.deliveries)", "\(n.expectedDeliveries)", ms(n.toLastClient.p50),
                   ms(n.toLastClient.p99), ms(n.toLastClient.max), opt(n.serverCPU?.percentOfOneCore), opt(n.serverRSSKiB)]
              })
        return head + "\n\n" + nodes
            + (r.drainTimedOut ? "\ndrain deadline passed with \(r.lost) deliveries missing" : "")
            + (r.dropped > 0 ? "\nservers closed \(r.dropped) clients" : "")
            + (r.errors.isEmpty ? "" : "\nerrors: \(r.errors)")
    }
}

