"""Markdown tables from bench/compare.sh results: each figure per server, herald's ratio to each peer, and
which side (the bench or the server) was CPU-bound.

    bench/.venv/bin/python bench/compare.py bench/results/compare [--servers herald python node socketio hummingbird] [--out FILE.md]

Reads DIR/<server>-<scenario>.json (scenarios idle, storm, broadcast, fanout) and DIR/meta.txt.
A ratio is herald's figure divided by the peer's; the arrow on each figure says which way is better, so
"herald/node 2.0×" on deliveries/s (↑) and 0.5× on KiB per connection (↓) are both herald ahead.

Server CPU per delivery (µs) is the server's CPU seconds over the measured window divided by the deliveries
in it: unlike wall-clock rates, it does not depend on how many cores the server got on a shared machine, so it
says what the same work costs elsewhere (a delivery is one event written to one client).

CPU-bound rule (CPU as % of one core over the measured wall time, from getrusage for the bench and
/proc/PID/stat for the server; the machine has `nproc` cores shared by both): a single-process peer
(python, node, socketio) at ≥ 85 % is bound by its one core; otherwise, when bench + server reach ≥ 85 % of all
cores, the machine is saturated and the side using more of it is named; otherwise neither was.
"""
import argparse, json, os

SINGLE_THREADED = {"python", "node", "socketio"}
ORDER = ["herald", "python", "node", "socketio", "hummingbird"]


def load(directory, server, scenario):
    path = os.path.join(directory, f"{server}-{scenario}.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def cpu(result):
    bench = result.get("benchCPU", {}).get("percentOfOneCore")
    server = (result.get("serverCPU") or {}).get("percentOfOneCore")
    return bench, server


def cpu_per_delivery(cpu_share, deliveries):
    """Server CPU µs per delivery, or None without a server pid or deliveries."""
    if not cpu_share or not deliveries:
        return None
    return cpu_share["cpuSeconds"] * 1e6 / deliveries


def step_cpu_per_delivery(step):
    share = step.get("serverCPU")
    return cpu_per_delivery(share, step["deliveriesPerSecond"] * share["wallSeconds"] if share else 0)


def bound(server_name, bench, server, cores):
    if bench is None or server is None:
        return "?"
    if server_name in SINGLE_THREADED and server >= 85:
        return "server (its one core)"
    if bench + server >= 85 * cores:
        return "machine full, mostly server" if server >= bench else "machine full, mostly bench"
    return "neither"


def fmt(value, digits=None):
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if digits is None and isinstance(value, int):
        digits = 0
    if digits is None:
        digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    text = f"{value:,.{digits}f}".replace(",", " ")
    return text


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    r = a / b
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.2g}×"


def headline(results, servers, p95_limit):
    """(label, better, {server: value}) rows."""
    rows = []

    def add(label, better, scenario, pick):
        values = {}
        for s in servers:
            r = results.get((s, scenario))
            try:
                values[s] = pick(r) if r else None
            except (KeyError, TypeError, ValueError):
                values[s] = None
        rows.append((label, better, values))

    add("idle: clients in (of asked)", "↑", "idle", lambda r: f"{r['connected']} / {r['clients']}")
    add("idle: connections/s", "↑", "idle", lambda r: r["connectionsPerSecond"])
    add("idle: handshake p99 ms", "↓", "idle", lambda r: r["handshake"]["p99"])
    add("idle: server KiB per connection", "↓", "idle", lambda r: r.get("serverKiBPerConnection"))
    add("idle: server RSS after, KiB", "↓", "idle", lambda r: r.get("serverRSSAfterKiB"))
    add("storm: seconds until all in", "↓", "storm", lambda r: r["secondsUntilAllIn"] if r["connected"] == r["clients"] else None)
    add("storm: handshakes/s", "↑", "storm", lambda r: r["handshakesPerSecond"])
    add("storm: handshake p95 ms", "↓", "storm", lambda r: r["handshake"]["p95"])
    def most_clients(r):
        under = max([s["clients"] for s in r["steps"] if s["roundTrip"]["p95"] <= r["p95LimitMs"]], default=0)
        # Never over the limit up to --max-clients: only a lower bound, so no ratio.
        return f"≥ {fmt(under)}" if r["stoppedBecause"] != "p95 limit" and under == r["steps"][-1]["clients"] else under

    add(f"broadcast: most clients with p95 ≤ {p95_limit} ms", "↑", "broadcast", most_clients)
    add("broadcast: best deliveries/s", "↑", "broadcast", lambda r: max(s["deliveriesPerSecond"] for s in r["steps"]))
    add("broadcast: server CPU µs per delivery (last step)", "↓", "broadcast",
        lambda r: step_cpu_per_delivery(r["steps"][-1]))
    add("broadcast: lost / duplicated (all steps)", "=", "broadcast",
        lambda r: f"{sum(s['lost'] for s in r['steps'])} / {sum(s['duplicated'] for s in r['steps'])}")
    add("fanout: deliveries/s", "↑", "fanout", lambda r: r["deliveriesPerSecond"])
    add("fanout: server CPU µs per delivery", "↓", "fanout",
        lambda r: cpu_per_delivery(r.get("serverCPU"), r["deliveries"]))
    add("fanout: latency to last member p50 ms", "↓", "fanout", lambda r: r["latencyToLastMember"]["p50"])
    add("fanout: latency to last member p99 ms", "↓", "fanout", lambda r: r["latencyToLastMember"]["p99"])
    add("fanout: lost / duplicated", "=", "fanout", lambda r: f"{r['lost']} / {r['duplicated']}")
    return rows


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--servers", nargs="+", default=ORDER)
    parser.add_argument("--out")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    servers = args.servers
    peers = [s for s in servers if s != "herald"]
    results = {}
    for s in servers:
        for scenario in ("idle", "storm", "broadcast", "fanout"):
            r = load(args.directory, s, scenario)
            if r is not None:
                results[(s, scenario)] = r
    broadcast_any = next((r for (s, sc), r in results.items() if sc == "broadcast"), None)
    p95_limit = broadcast_any["p95LimitMs"] if broadcast_any else 250

    out = []
    meta = os.path.join(args.directory, "meta.txt")
    if os.path.exists(meta):
        with open(meta) as handle:
            out.append("\n".join("    " + line.rstrip() for line in handle))
        out.append("")

    header = ["figure"] + servers + ([f"herald/{p}" for p in peers] if "herald" in servers else [])
    rows = []
    for label, better, values in headline(results, servers, p95_limit):
        if all(v is None for v in values.values()):
            continue   # a scenario not run (compare.sh SCENARIOS=…)
        row = [f"{label} {better}" if better != "=" else label] + [fmt(values[s]) for s in servers]
        if "herald" in servers:
            for p in peers:
                a, b = values["herald"], values[p]
                row.append(ratio(a, b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else "")
        rows.append(row)
    out.append(table(header, rows))
    out.append("")

    # Broadcast step by step: p95 round trip, deliveries/s and server CPU per delivery at each client count.
    steps = sorted({s["clients"] for (sv, sc), r in results.items() if sc == "broadcast" for s in r["steps"]})
    if steps:
        bheader = ["broadcast clients"] + [f"{s} p95 ms / deliveries/s / CPU µs per delivery" for s in servers]
        brows = []
        for clients in steps:
            row = [str(clients)]
            for s in servers:
                r = results.get((s, "broadcast"))
                step = next((x for x in (r or {}).get("steps", []) if x["clients"] == clients), None)
                row.append(f"{fmt(step['roundTrip']['p95'])} / {fmt(step['deliveriesPerSecond'])}"
                           f" / {fmt(step_cpu_per_delivery(step))}" if step else "–")
            brows.append(row)
        out.append(table(bheader, brows))
        out.append("")

    # CPU: bench and server, and which was bound, per scenario (broadcast: its last, heaviest step).
    cheader = ["CPU % of one core (bench / server) → bound"] + servers
    crows = []
    for scenario in ("idle", "storm", "broadcast", "fanout"):
        if not any((s, scenario) in results for s in servers):
            continue
        row = [scenario]
        for s in servers:
            r = results.get((s, scenario))
            if r is None:
                row.append("–")
                continue
            if scenario == "broadcast":
                r = r["steps"][-1] if r["steps"] else {}
            bench, server = cpu(r)
            row.append(f"{fmt(bench, 0)} / {fmt(server, 0)} → {bound(s, bench, server, args.cores)}")
        crows.append(row)
    out.append(table(cheader, crows))

    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
