"""Socket.IO clients (python-socketio's AsyncClient) held open for Tests/HeraldTests/ClusterLiveTests.swift.

The Swift test owns the processes (redis-server, herald nodes, nginx) and drives this agent one
command per line on stdin, because its clients must stay connected while the test publishes, kills
Redis and restarts it. Each command is a JSON object with an "op"; each answer is one JSON line on
stdout: {"ok": true, ...} or {"ok": false, "error": "..."}. Every wait carries the caller's timeout,
so a broken deployment answers with an error instead of hanging.

Ops:
  connect       name, url, transport ("websocket" | "polling"), timeout  -> sid, transport
  event         name, event, timeout                                     -> args
  disconnected  name, timeout                                            -> reason, after (s)
  state         name                                                     -> connected, sid, disconnects
  close         name
Stdin closing disconnects every client and exits.
"""

import asyncio
import json
import sys
import time
import traceback

import socketio


class Client:
    def __init__(self, name):
        self.name = name
        # No reconnection: a cut connection must stay visible to the test.
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events = {}
        self.disconnects = []
        self.gone = asyncio.Event()
        self.sio.on("*", self._any_event)
        self.sio.on("disconnect", self._disconnected)

    def queue(self, event):
        return self.events.setdefault(event, asyncio.Queue())

    async def _any_event(self, event, *args):
        await self.queue(event).put(list(args))

    async def _disconnected(self, reason=None):
        self.disconnects.append({"reason": str(reason), "at": time.monotonic()})
        self.gone.set()


clients = {}


async def connect(command):
    name = command["name"]
    if name in clients:
        raise ValueError(f"client {name!r} exists")
    client = Client(name)
    clients[name] = client
    await asyncio.wait_for(
        client.sio.connect(command["url"], transports=[command["transport"]], wait_timeout=command["timeout"]),
        command["timeout"],
    )
    return {"sid": client.sio.get_sid("/"), "transport": client.sio.transport()}


async def event(command):
    client = clients[command["name"]]
    args = await asyncio.wait_for(client.queue(command["event"]).get(), command["timeout"])
    return {"args": args}


async def disconnected(command):
    client = clients[command["name"]]
    start = time.monotonic()
    await asyncio.wait_for(client.gone.wait(), command["timeout"])
    first = client.disconnects[0]
    return {"reason": first["reason"], "after": max(0.0, first["at"] - start)}


async def state(command):
    client = clients[command["name"]]
    return {
        "connected": client.sio.connected,
        "sid": client.sio.get_sid("/") if client.sio.connected else None,
        "disconnects": [d["reason"] for d in client.disconnects],
    }


async def close(command):
    client = clients.pop(command["name"])
    await asyncio.wait_for(client.sio.disconnect(), 10)
    return {}


OPS = {"connect": connect, "event": event, "disconnected": disconnected, "state": state, "close": close}


def answer(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    answer({"ok": True, "ready": True})
    while line := await reader.readline():
        try:
            command = json.loads(line)
            result = await OPS[command["op"]](command)
            answer({"ok": True, **result})
        except asyncio.TimeoutError:
            answer({"ok": False, "error": f"timed out after {command.get('timeout')}s: {line.decode().strip()}"})
        except Exception as error:  # reported to the test, which fails with it
            traceback.print_exc()
            answer({"ok": False, "error": f"{type(error).__name__}: {error}"})
    for client in list(clients.values()):
        try:
            await asyncio.wait_for(client.sio.disconnect(), 5)
        except Exception:
            pass


if __name__ == "__main__":
    asyncio.run(main())
