"""RSS of a herald node before/after 20 clients each send a 10-attachment binary event and stop after 9 x 1 MB.

Usage: .venv/bin/python bench/hostile/attachments_rss.py PATH/TO/herald PORT (needs websocket-client)."""
import sys, time
import websocket
from hostile_node import Node

binary, port = sys.argv[1], int(sys.argv[2])
node = Node(binary, port)
rss = node.rss
try:
    before = rss()
    placeholders = ",".join('{"_placeholder":true,"num":%d}' % i for i in range(10))
    blob = b"\x01" * 1_000_000
    clients, closed = [], 0
    for _ in range(20):
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=5)
        ws.recv(); ws.send("40"); ws.recv()
        ws.send('4510-["up",%s]' % placeholders)
        try:
            for _ in range(9): ws.send_binary(blob)
        except Exception:
            closed += 1
        clients.append(ws)
    time.sleep(2)
    after = rss()
    alive = 0
    for ws in clients:
        try:
            ws.settimeout(0.2)
            if ws.recv() != "": alive += 1
        except websocket.WebSocketTimeoutException: alive += 1
        except Exception: pass
    print(f"{binary}: RSS before {before} MiB, after {after} MiB, growth {after - before} MiB; connections still open {alive}/20")
finally:
    node.stop()
