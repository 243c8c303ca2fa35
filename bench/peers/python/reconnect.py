"""The reconnect scenario against the python-socketio peer (server.py here), stopped with SIGTERM or SIGKILL and
restarted 0.5 s after it exited: do python-socketio clients come back, how fast, what do they see?

    bench/.venv/bin/python bench/peers/python/reconnect.py CLIENTS term|kill
"""
import asyncio, os, signal, subprocess, sys, time
import socketio

N = int(sys.argv[1]); SIG = sys.argv[2]; PORT = 3790
PY = sys.executable
SERVER = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.py"), "--port", str(PORT)]

async def wait_port():
    for _ in range(200):
        try:
            r, w = await asyncio.open_connection("127.0.0.1", PORT); w.close(); return
        except OSError:
            await asyncio.sleep(0.05)
    raise SystemExit("server did not start")

async def main():
    server = subprocess.Popen([PY] + SERVER, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    await wait_port()
    reasons, connects, clients = {}, [0], []
    back_at = []
    t0 = [None]
    for i in range(N):
        c = socketio.AsyncClient(reconnection=True, reconnection_delay=1, reconnection_delay_max=5, randomization_factor=0.5)
        def make(c):
            async def on_connect():
                connects[0] += 1
                if t0[0] is not None: back_at.append(time.monotonic() - t0[0])
            async def on_disconnect(reason=None):
                reasons[str(reason)] = reasons.get(str(reason), 0) + 1
            c.on("connect", on_connect); c.on("disconnect", on_disconnect)
        make(c)
        await c.connect(f"http://127.0.0.1:{PORT}", transports=["websocket"], auth={"room": "r"})
        clients.append(c)
    before = [c.get_sid() for c in clients]
    print(f"{N} connected; sending {SIG}", flush=True)
    t0[0] = time.monotonic()
    server.send_signal(signal.SIGTERM if SIG == "term" else signal.SIGKILL)
    server.wait()
    exited = time.monotonic() - t0[0]
    await asyncio.sleep(0.5)
    server = subprocess.Popen([PY] + SERVER, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(back_at) < N and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    print(f"server exited after {exited:.2f} s; disconnect reasons {reasons}; back {len(back_at)}/{N}, "
          f"all back after {max(back_at) if len(back_at) == N else float('nan'):.2f} s; "
          f"same sid as before (recovered): {sum(1 for c, sid in zip(clients, before) if c.get_sid() == sid)}", flush=True)
    for c in clients:
        c.reconnection = False
        try: await c.disconnect()
        except Exception: pass
    server.kill(); server.wait()

asyncio.run(main())
