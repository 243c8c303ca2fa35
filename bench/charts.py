"""PNG charts from `herald bench … --output FILE.json` results.

    bench/.venv/bin/python bench/charts.py bench/results/*.json --out bench/results

Broadcast results give round-trip percentiles and deliveries per second against clients; fanout results
(one or several runs) give deliveries per second and latency to the last member against room size;
idle and storm results give one bar chart each of their headline numbers.
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out", default=".")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    fanouts, written = [], []
    for file in args.files:
        with open(file) as handle:
            result = json.load(handle)
        name = os.path.splitext(os.path.basename(file))[0]
        kind = result.get("scenario")
        if kind == "broadcast":
            written.append(broadcast(result, args.out, name))
        elif kind == "fanout":
            fanouts.append(result)
        elif kind == "idle":
            written.append(bars(result, ["connectionsPerSecond"], args.out, name,
                                f"idle: {result['connected']} clients, {result.get('serverKiBPerConnection')} KiB/conn"))
        elif kind == "storm":
            written.append(bars(result["handshake"], ["p50", "p95", "p99", "max"], args.out, name,
                                f"storm: handshake ms, {result['handshakesPerSecond']}/s"))
    if fanouts:
        written.append(fanout(fanouts, args.out))
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
