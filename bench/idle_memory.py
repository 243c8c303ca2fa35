"""Server memory per idle websocket connection: RSS delta of a herald process / N idle Socket.IO clients.

    bench/idle_memory.py --pid PID --url ws://127.0.0.1:3000 -n 5000

Opens N websocket connections in one asyncio process, joins the main namespace on each (sends `40`,
waits for the CONNECT reply), answers the server's pings, reads the server's RSS from /proc, and closes
everything. Prints one JSON line.
"""
import argparse, asyncio, json, time

import aiohttp


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def client(session, url, connected, stop):
    async with session.ws_connect(url, autoping=True, compress=0) as ws:
        await ws.receive()          # Engine.IO open packet
        await ws.send_str("40")
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                return
            if msg.data.startswith("40"):
                break
            if msg.data == "2":
                await ws.send_str("3")
        connected.release()
        while not stop.is_set():
            try:
                msg = await asyncio.wait_for(ws.receive(), 1)
            except asyncio.TimeoutError:
                continue
            if msg.type != aiohttp.WSMsgType.TEXT:
                return
            if msg.data == "2":
                await ws.send_str("3")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--url", default="ws://127.0.0.1:3000")
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to let the server settle before reading RSS")
    args = parser.parse_args()
    url = args.url.rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
    before = rss_kib(args.pid)
    connected = asyncio.Semaphore(0)
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        tasks = []
        for index in range(args.n):
            tasks.append(asyncio.create_task(client(session, url, connected, stop)))
            if index % 200 == 199:
                await asyncio.sleep(0)   # let handshakes progress while ramping
        for _ in range(args.n):
            await asyncio.wait_for(connected.acquire(), 60)
        ramp = time.monotonic() - started
        await asyncio.sleep(args.settle)
        after = rss_kib(args.pid)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({
        "clients": args.n,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": round((after - before) / args.n, 2),
        "ramp_seconds": round(ramp, 2),
    }))


asyncio.run(main())
