"""python-socketio against a node at its connection cap: the refusal (503 + Retry-After) must make the client
retry with its backoff, and it must get in once there is room.

    refused_retry.py URL TRANSPORT HELD    (HELD: raw connections that fill the node's cap)

The script fills the cap with HELD silent TCP connections, connects with retry=True, frees the cap at the first
connect_error, and prints one JSON line: {"ok": bool, "connect_errors": n}.
"""
import json
import socket
import sys
import threading
from urllib.parse import urlparse

import socketio

url, transport, held = sys.argv[1], sys.argv[2], int(sys.argv[3])
address = urlparse(url)
holders = [socket.create_connection((address.hostname, address.port)) for _ in range(held)]
errors = []
freed = threading.Event()

sio = socketio.Client(reconnection_delay=0.2, reconnection_delay_max=0.5, randomization_factor=0.1)


@sio.event
def connect_error(data):
    errors.append(str(data))
    if not freed.is_set():
        for holder in holders:
            holder.close()
        freed.set()


sio.connect(url, transports=[transport], retry=True, wait_timeout=5)
ok = sio.connected and len(errors) >= 1
sio.disconnect()
print(json.dumps({"ok": ok, "connect_errors": len(errors), "errors": errors[:3]}))
sys.exit(0 if ok else 1)
