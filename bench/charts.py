"""PNG charts from `herald bench … --output FILE.json` results.

    bench/.venv/bin/python bench/charts.py bench/results/*.json --out bench/results

Broadcast results give round-trip percentiles and deliveries per second against clients; fanout results
(one or several runs) give deliveries per second and latency to the last member against room size;
idle and storm results give one bar chart each of their headline numbers. Cluster results give, per node,
the latency to its last client and its deliveries against the expected count; fanout runs over several nodes
(`--member-node`/`--publisher-node`) give one chart of latency to the last member, one node against across nodes.

    bench/.venv/bin/python bench/charts.py --compare bench/results/compare --out bench/results/compare

With --compare DIR (the output of bench/compare.sh: DIR/<server>-<scenario>.json) it draws one chart per
figure with a line or bar per server: compare-broadcast.png (p95 round trip and deliveries/s against
clients) and compare-summary.png (fanout deliveries/s, idle memory per connection, storm handshakes/s).
"""
import argparse, json, os

import matplotlib
matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt


def broadcast(result, out, name):
    steps = result["steps"]
    clients = [s["clients"] for s in steps]
    fig, (rtt, rate) = plt.subplots(1, 2, figsize=(11, 4))
    for key in ("p50", "p95", "p99"):
        rtt.plot(clients, [s["roundTrip"][key] for s in steps], marker="o", label=key)
    rtt.plot(clients, [s["toLastClient"]["p95"] for s in steps], marker="x", linestyle=":", label="p95 to last client")
    rtt.axhline(result["p95LimitMs"], color="red", linestyle="--", linewidth=1, label="p95 limit")
    rtt.set(xlabel="clients", ylabel="round trip (ms)", title="broadcast latency")
    rtt.legend()
    rate.plot(clients, [s["deliveriesPerSecond"] for s in steps], marker="o")
    rate.set(xlabel="clients", ylabel="deliveries / s", title="broadcast deliveries per second")
    fig.tight_layout()
    return save(fig, out, name)


def fanout(results, out):
    results = sorted(results, key=lambda r: r["members"])
    members = [r["members"] for r in results]
    fig, (rate, latency) = plt.subplots(1, 2, figsize=(11, 4))
    rate.bar([str(m) for m in members], [r["deliveriesPerSecond"] for r in results])
    rate.set(xlabel="room members", ylabel="deliveries / s", title="fanout deliveries per second")
    for key in ("p50", "p99", "max"):
        latency.plot([str(m) for m in members], [r["latencyToLastMember"][key] for r in results], marker="o", label=key)
    latency.set(xlabel="room members", ylabel="ms", title="latency to the last member")
    latency.legend()
    fig.tight_layout()
    return save(fig, out, "fanout")


def cluster(result, out, name):
    nodes = result["perNode"]
    labels = [f"node {i}\n{n['clients']}" for i, n in enumerate(nodes)] + ["all"]
    fig, (latency, counts) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.25
    for offset, key in enumerate(("p50", "p99", "max")):
        values = [n["toLastClient"][key] for n in nodes] + [result["toLastClient"][key]]
        latency.bar([i + (offset - 1) * width for i in range(len(labels))], values, width, label=key)
    latency.set_xticks(range(len(labels)), labels, fontsize=8)
    latency.set(ylabel="ms", title=f"cluster: {result['broadcasts']} broadcasts at {result['rate']}/s, to the last client")
    latency.legend()
    x = range(len(nodes))
    counts.bar([i - 0.2 for i in x], [n["expectedDeliveries"] for n in nodes], 0.4, label="expected")
    counts.bar([i + 0.2 for i in x], [n["deliveries"] for n in nodes], 0.4, label="delivered")
    counts.set_xticks(list(x), labels[:-1], fontsize=8)
    counts.set(ylabel="deliveries", title=f"{result['deliveriesPerSecond']:.0f} deliveries/s, lost {result['lost']}, dup {result['duplicated']}")
    counts.legend()
    fig.tight_layout()
    return save(fig, out, name)


def cluster_fanout(results, out):
    labels = [("one node" if r["memberServer"] == r["publisherServer"] else "across nodes") + f"\n{r['members']} members, {r['rate']:.0f}/s"
              for r in results]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.25
    for offset, key in enumerate(("p50", "p99", "max")):
        ax.bar([i + (offset - 1) * width for i in range(len(results))], [r["latencyToLastMember"][key] for r in results], width, label=key)
    ax.set_xticks(range(len(results)), labels)
    ax.set(ylabel="ms", title="fanout: latency to the last member")
    ax.legend()
    fig.tight_layout()
    return save(fig, out, "cluster-fanout")


def bars(result, keys, out, name, title):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(keys, [result[k] for k in keys])
    ax.set(title=title)
    fig.tight_layout()
    return save(fig, out, name)


def save(fig, out, name):
    path = os.path.join(out, name + ".png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


COMPARE_SERVERS = ["herald", "python", "node", "socketio", "hummingbird"]


def compare(directory, out):
    def load(server, scenario):
        path = os.path.join(directory, f"{server}-{scenario}.json")
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            return json.load(handle)

    servers = [s for s in COMPARE_SERVERS if any(load(s, sc) for sc in ("idle", "storm", "broadcast", "fanout"))]
    written = []
    fig, (rtt, rate) = plt.subplots(1, 2, figsize=(11, 4))
    limit = None
    for server in servers:
        result = load(server, "broadcast")
        if not result or not result["steps"]:
            continue
        limit = result["p95LimitMs"]
        clients = [s["clients"] for s in result["steps"]]
        rtt.plot(clients, [s["roundTrip"]["p95"] for s in result["steps"]], marker="o", label=server, color=f"C{COMPARE_SERVERS.index(server)}")
        rate.plot(clients, [s["deliveriesPerSecond"] for s in result["steps"]], marker="o", label=server, color=f"C{COMPARE_SERVERS.index(server)}")
    if limit is not None:
        rtt.axhline(limit, color="red", linestyle="--", linewidth=1, label="p95 limit")
    rtt.set(xlabel="clients", ylabel="p95 round trip (ms)", title="broadcast: p95 round trip")
    rate.set(xlabel="clients", ylabel="deliveries / s", title="broadcast: deliveries per second")
    rtt.legend()
    rate.legend()
    fig.tight_layout()
    written.append(save(fig, out, "compare-broadcast"))

    fig, (fan, memory, storm) = plt.subplots(1, 3, figsize=(13, 4))

    def bar(ax, scenario, pick, title, ylabel):
        names, values = [], []
        for server in servers:
            result = load(server, scenario)
            value = pick(result) if result else None
            if value is not None:
                names.append(server)
                values.append(value)
        ax.bar(names, values, color=[f"C{COMPARE_SERVERS.index(n)}" for n in names])
        ax.set(title=title, ylabel=ylabel)

    bar(fan, "fanout", lambda r: r["deliveriesPerSecond"], "fanout deliveries per second", "deliveries / s")
    bar(memory, "idle", lambda r: r.get("serverKiBPerConnection"), "idle: server memory per connection", "KiB")
    bar(storm, "storm", lambda r: r["handshakesPerSecond"], "storm: handshakes per second", "handshakes / s")
    fig.tight_layout()
    written.append(save(fig, out, "compare-summary"))
    return written


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*")
    parser.add_argument("--out", default=".")
    parser.add_argument("--compare", metavar="DIR", help="draw the per-server comparison from bench/compare.sh results")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.compare:
        for path in compare(args.compare, args.out):
            print(path)
    fanouts, cluster_fanouts, written = [], [], []
    for file in args.files:
        with open(file) as handle:
            result = json.load(handle)
        name = os.path.splitext(os.path.basename(file))[0]
        kind = result.get("scenario")
        if kind == "broadcast":
            written.append(broadcast(result, args.out, name))
        elif kind == "fanout" and result.get("memberServer"):
            cluster_fanouts.append(result)
        elif kind == "fanout":
            fanouts.append(result)
        elif kind == "cluster":
            written.append(cluster(result, args.out, name))
        elif kind == "idle":
            written.append(bars(result, ["connectionsPerSecond"], args.out, name,
                                f"idle: {result['connected']} clients, {result.get('serverKiBPerConnection')} KiB/conn"))
        elif kind == "storm":
            written.append(bars(result["handshake"], ["p50", "p95", "p99", "max"], args.out, name,
                                f"storm: handshake ms, {result['handshakesPerSecond']}/s"))
    if fanouts:
        written.append(fanout(fanouts, args.out))
    if cluster_fanouts:
        written.append(cluster_fanout(cluster_fanouts, args.out))
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
