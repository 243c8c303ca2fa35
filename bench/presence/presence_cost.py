"""Node-side CPU of presence changes and webhooks (BENCHMARKS.md, "Presence: cost per join and leave").

Starts redis-server and one `herald serve` (the binary given) per phase, drives it with python-socketio clients and
reads the node's CPU time (utime + stime, /proc/PID/stat) around each measured part, so the figure is CPU per unit
of work whatever else the machine runs:

- plain:     CLIENTS clients each subscribe to and unsubscribe from their own room CYCLES times, in a room
             without presence (the baseline: Socket.IO, auth and the adapter's Redis subscriptions);
- presence:  the same in rooms with presence: two presence changes per cycle, each a transition (a join and a
             leave, broadcast to the room);
- webhooks:  the same with a webhook receiver: four more events per cycle (room.occupied, presence.join,
             presence.leave, room.vacated);
- notes:     with webhooks forwarding client event `note`, CLIENTS clients emit NOTES notes each as fast as they
             can; the receiver counts events and POSTs, and the time from the first event to the last received;
- notes-off: the same notes without webhooks (the baseline of the notes).

Usage: presence_cost.py HERALD [CLIENTS CYCLES NOTES]   (run with the test venv's python)
Prints one JSON object.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import socketio

HERALD = sys.argv[1]
CLIENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
CYCLES = int(sys.argv[3]) if len(sys.argv) > 3 else 200
NOTES = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
SECRET = "presence-bench-secret-of-32-bytes!"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def token(sub):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": sub, "name": sub.title(), "exp": int(time.time()) + 3600}).encode())
    signature = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


class Receiver:
    """Answers every POST 204 and counts events and batches (the signature is not checked: its cost is the
    receiver's, not the node's)."""

    def __init__(self):
        self.events = 0
        self.batches = 0
        self.first = None
        self.last = None
        self.types = {}
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                events = json.loads(body)["events"]
                count = len(events)
                with lock:
                    for event in events:
                        outer.types[event["type"]] = outer.types.get(event["type"], 0) + 1
                    now = time.monotonic()
                    outer.first = outer.first or now
                    outer.last = now
                    outer.events += count
                    outer.batches += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self):
        self.events = self.batches = 0
        self.first = self.last = None
        self.types = {}


class Node:
    def __init__(self, directory, redis_port, webhook=None, events=""):
        self.port, self.api_port = free_port(), free_port()
        config = os.path.join(directory, "rules.json")
        with open(config, "w") as f:
            json.dump({"auth": {"rooms": [
                {"pattern": "doc:{id}", "presence": True, "allow": [{"authenticated": True}]},
                {"pattern": "plain:{id}", "allow": [{"authenticated": True}]},
            ]}}, f)
        arguments = [HERALD, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--api-port", str(self.api_port),
                     "--api-key", "bench-key", "--redis-url", f"redis://127.0.0.1:{redis_port}", "--jwt-secret", SECRET,
                     "--config", config, "--log-level", "warning", "--events-per-second", "100000", "--event-burst", "100000"]
        if webhook:
            # A queue that holds the whole flood: every event is delivered, none dropped.
            arguments += ["--webhook-url", f"http://127.0.0.1:{webhook}/hooks", "--webhook-secret", "s",
                          "--webhook-max-queue", "1000000"]
            if events:
                arguments += ["--webhook-events", events]
        self.process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=open(os.path.join(directory, "node.log"), "a"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if b" 200 " in s.recv(100):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("herald did not become ready")

    def metric(self, name):
        with socket.create_connection(("127.0.0.1", self.api_port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            text = b""
            while chunk := s.recv(65536):
                text += chunk
        for line in text.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    @property
    def cpu(self):
        return cpu_seconds(self.process.pid)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


async def connect(node, count):
    clients = []
    for index in range(count):
        client = socketio.AsyncClient()
        await client.connect(f"http://127.0.0.1:{node.port}", transports=["websocket"], auth={"token": token(f"user-{index}")})
        clients.append(client)
    return clients


async def cycles(node, clients, prefix):
    async def one(index, client):
        for _ in range(CYCLES):
            answer = await client.call("subscribe", {"room": f"{prefix}:{index}"})
            assert answer == {"ok": True}, answer
            answer = await client.call("unsubscribe", {"room": f"{prefix}:{index}"})
            assert answer.get("ok") is True, answer
    await asyncio.gather(*(one(index, client) for index, client in enumerate(clients)))


async def notes(clients):
    async def one(client):
        for index in range(NOTES):
            await client.emit("note", {"n": index})
    await asyncio.gather(*(one(client) for client in clients))
    # Every note has gone through the node: an ack after all the emits on each connection.
    await asyncio.gather(*(client.call("subscribe", {"room": f"plain:{index}"}) for index, client in enumerate(clients)))


async def delivered(receiver, expected):
    deadline = time.monotonic() + 120
    while receiver.events < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


async def phase(directory, redis_port, name, receiver=None, events=""):
    node = Node(directory, redis_port, receiver.port if receiver else None, events)
    try:
        clients = await connect(node, CLIENTS)
        if receiver:
            deadline = time.monotonic() + 10
            while receiver.events < CLIENTS and time.monotonic() < deadline:  # the user.connected events
                await asyncio.sleep(0.01)
            receiver.reset()
        before, started = node.cpu, time.monotonic()
        if name.startswith("notes"):
            await notes(clients)
            expected = CLIENTS * NOTES
        else:
            await cycles(node, clients, "plain" if name == "plain" else "doc")
            expected = 4 * CLIENTS * CYCLES
        if receiver:
            await delivered(receiver, expected)
        cpu, wall = node.cpu - before, time.monotonic() - started
        result = {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3)}
        if receiver:
            result.update(events=receiver.events, batches=receiver.batches, types=dict(receiver.types),
                          failed_posts=node.metric("herald_webhook_failed_attempts_total"),
                          send_s=round((receiver.last or 0) - (receiver.first or 0), 3))
        for client in clients:
            await client.disconnect()
        return result
    finally:
        node.stop()


async def main():
    directory = tempfile.mkdtemp(prefix="herald-presence-bench-")
    redis_port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    receiver = Receiver()
    load = os.getloadavg()
    try:
        results = {"clients": CLIENTS, "cycles_per_client": CYCLES, "notes_per_client": NOTES, "loadavg_start": load}
        results["plain"] = await phase(directory, redis_port, "plain")
        results["presence"] = await phase(directory, redis_port, "presence")
        results["webhooks"] = await phase(directory, redis_port, "webhooks", receiver)
        results["notes-off"] = await phase(directory, redis_port, "notes-off")
        results["notes"] = await phase(directory, redis_port, "notes", receiver, events="note")
        results["loadavg_end"] = os.getloadavg()
        changes = 2 * CLIENTS * CYCLES
        results["node_cpu_us_per_presence_change"] = round((results["presence"]["cpu_s"] - results["plain"]["cpu_s"]) / changes * 1e6, 1)
        webhook_events = results["webhooks"]["events"]
        results["node_cpu_us_per_presence_webhook_event"] = round(
            (results["webhooks"]["cpu_s"] - results["presence"]["cpu_s"]) / max(1, webhook_events) * 1e6, 1)
        note_events = results["notes"]["events"]
        results["node_cpu_us_per_note_webhook_event"] = round(
            (results["notes"]["cpu_s"] - results["notes-off"]["cpu_s"]) / max(1, note_events) * 1e6, 1)
        # Two runs of webhooks, different events per batch: CPU = events * per_event + batches * per_batch.
        e1, b1, c1 = webhook_events, results["webhooks"]["batches"], results["webhooks"]["cpu_s"] - results["presence"]["cpu_s"]
        e2, b2, c2 = note_events, results["notes"]["batches"], results["notes"]["cpu_s"] - results["notes-off"]["cpu_s"]
        determinant = e1 * b2 - e2 * b1
        if determinant:
            results["node_cpu_us_per_webhook_event_alone"] = round((c1 * b2 - c2 * b1) / determinant * 1e6, 1)
            results["node_cpu_us_per_webhook_post_alone"] = round((e1 * c2 - e2 * c1) / determinant * 1e6, 1)
        results["note_events_per_s_sent"] = round(note_events / max(1e-3, results["notes"]["send_s"]))
        print(json.dumps(results, indent=1))
    finally:
        redis.terminate()
        redis.wait()
        receiver.server.shutdown()


asyncio.run(main())
