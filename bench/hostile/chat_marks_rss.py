"""RSS of a herald node before/after the combining-marks chat attack: one websocket client joins chat:a and sends
MESSAGES texts of one letter plus 300 000 combining acute accents (600 KB, one character), then READERS clients
join the room (each is sent the room's history). Prints the RSS growth, what was stored, and whether a fresh
client still connects. Extra HERALD_* settings (e.g. to emulate the unbounded build) come from the environment.

Usage: .venv/bin/python bench/hostile/chat_marks_rss.py PATH/TO/herald PORT [MESSAGES] [READERS] (needs websocket-client)."""
import json, sys, time
import websocket
from hostile_node import Node

binary, port = sys.argv[1], int(sys.argv[2])
messages = int(sys.argv[3]) if len(sys.argv) > 3 else 40
readers = int(sys.argv[4]) if len(sys.argv) > 4 else 10
node = Node(binary, port)
rss = node.rss

def client():
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=10)
    ws.recv(); ws.send("40"); ws.recv()
    return ws

def until_ack(ws, ack):
    while True:
        frame = ws.recv()
        if frame == "2": ws.send("3"); continue
        if frame.startswith("43%d[" % ack): return json.loads(frame[len("43%d" % ack):])[0]

try:
    before = rss()
    attacker = client()
    attacker.send('420["chat:join",{"room":"chat:a"}]'); until_ack(attacker, 0)
    text = "a" + "\u0301" * 300_000
    stored = 0
    for index in range(messages):
        attacker.send('42%d["chat:send",{"room":"chat:a","text":"%s"}]' % (index + 1, text))
        if until_ack(attacker, index + 1).get("ok"): stored += 1
    history_bytes = 0
    for _ in range(readers):
        ws = client()
        ws.send('420["chat:join",{"room":"chat:a"}]'); until_ack(ws, 0)
        while True:
            frame = ws.recv()
            if frame.startswith('42["chat:history"'): history_bytes += len(frame.encode()); break
        ws.close()
    time.sleep(2)
    after = rss()
    fresh = client(); fresh.close()
    print(f"{binary}: RSS before {before} MiB, after {after} MiB, growth {after - before} MiB; "
          f"stored {stored}/{messages} texts of {len(text.encode())} bytes; history sent {history_bytes // 1024} KiB "
          f"to {readers} readers; fresh client connected")
finally:
    node.stop()
