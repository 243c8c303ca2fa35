"""Drives a live Herald server with python-socketio (a client nobody here wrote), async or sync.

Usage: sio_scenarios.py URL TRANSPORT [FLAVOUR]   (TRANSPORT: websocket | polling | upgrade;
FLAVOUR: async (socketio.AsyncClient, the default) | sync (socketio.Client))

The server is the fixture in Tests/HeraldTests/PythonClientTests.swift. Prints one JSON line
with the steps that ran and exits non-zero on the first failure. Every await has a timeout so a
broken server fails the run instead of hanging it.
"""

import asyncio
import json
import sys
import traceback

import socketio

STEP_TIMEOUT = 10  # seconds; generous because CI machines are shared
QUIET = 0.3  # how long "nothing arrived" is watched for, after an ordering barrier

TRANSPORTS = {
    "websocket": ["websocket"],
    "polling": ["polling"],
    "upgrade": ["polling", "websocket"],
}


class Failure(Exception):
    pass


class SyncClient:
    """socketio.Client behind AsyncClient's interface, so one scenario runs both: its blocking calls run in a
    thread; its handlers (called on the client's threads) run coroutines on the scenario's loop."""

    def __init__(self, **options):
        self.client = socketio.Client(**options)
        self.loop = asyncio.get_running_loop()

    def on(self, event, handler=None, namespace=None):
        def register(handler):
            def call(*args):
                result = handler(*args)
                if asyncio.iscoroutine(result):
                    return asyncio.run_coroutine_threadsafe(result, self.loop).result(STEP_TIMEOUT)
                return result

            self.client.on(event, call, namespace=namespace)
            return handler

        return register(handler) if handler else register

    async def connect(self, *args, **options):
        return await asyncio.to_thread(self.client.connect, *args, **options)

    async def call(self, *args, **options):
        return await asyncio.to_thread(self.client.call, *args, **options)

    async def disconnect(self):
        return await asyncio.to_thread(self.client.disconnect)

    def __getattr__(self, name):  # connected, namespaces, transport(), get_sid()
        return getattr(self.client, name)


FLAVOURS = {"async": socketio.AsyncClient, "sync": SyncClient}
flavour = FLAVOURS["async"]


def check(condition, message):
    if not condition:
        raise Failure(message)


async def within(awaitable, what):
    try:
        return await asyncio.wait_for(awaitable, STEP_TIMEOUT)
    except asyncio.TimeoutError:
        raise Failure(f"timed out after {STEP_TIMEOUT}s: {what}") from None


class Client:
    """An AsyncClient whose received events land in per-event queues, so tests await them in order."""

    def __init__(self, name, events=()):
        self.name = name
        self.sio = flavour(reconnection=False)
        self.inbox = {}
        for event in events:
            self._collect(event, namespace="/")

    def _collect(self, event, namespace):
        queue = self.inbox.setdefault((namespace, event), asyncio.Queue())

        async def handler(*args):
            await queue.put(args)

        self.sio.on(event, handler, namespace=namespace)

    async def next(self, event, namespace="/"):
        return await within(self.inbox[(namespace, event)].get(), f"{self.name} waiting for {event!r}")

    def pending(self, event, namespace="/"):
        return self.inbox[(namespace, event)].qsize()

    async def call(self, event, data=None, namespace="/"):
        return await within(
            self.sio.call(event, data, namespace=namespace, timeout=STEP_TIMEOUT),
            f"{self.name} ack for {event!r}",
        )


async def scenario(url, transport, steps):
    transports = TRANSPORTS[transport]

    def step(name):
        steps.append(name)

    # A refused token: the middleware's ConnectError reaches the client as connect_error data.
    step("refused-token")
    refused = flavour(reconnection=False)
    errors = []
    refused.on("connect_error", lambda data=None: errors.append(data))
    try:
        await within(
            refused.connect(url, auth={"token": "wrong"}, transports=transports, wait_timeout=STEP_TIMEOUT),
            "refused connect",
        )
        raise Failure("connect with a wrong token succeeded")
    except socketio.exceptions.ConnectionError as error:
        check("failed to connect" in str(error), f"unexpected ConnectionError: {error}")
    check(errors == [{"message": "invalid token", "data": {"reason": "bad-token"}}], f"connect_error data: {errors}")
    check(not refused.connected, "refused client reports connected")
    await within(refused.disconnect(), "refused client cleanup")

    # A namespace the server does not have: connect_error "Invalid namespace" for it, and no connection.
    step("invalid-namespace")
    stray = flavour(reconnection=False)
    refusals = []
    stray.on("connect_error", lambda data=None: refusals.append(data), namespace="/nope")
    try:
        await within(
            stray.connect(url, auth={"token": "secret", "user": "stray"}, transports=transports,
                          namespaces=["/nope"], wait_timeout=STEP_TIMEOUT),
            "connect to /nope",
        )
        raise Failure("connect to /nope succeeded")
    except socketio.exceptions.ConnectionError:
        pass
    check(refusals == [{"message": "Invalid namespace"}], f"connect_error for /nope: {refusals}")
    check(not stray.connected, "a client refused its only namespace reports connected")
    await within(stray.disconnect(), "stray client cleanup")

    # Two good clients; alice also joins /admin over the same connection.
    step("connect")
    alice = Client("alice", events=["welcome", "dm", "room-say", "room-marker"])
    bob = Client("bob", events=["welcome", "dm", "room-say", "room-marker"])

    @alice.sio.on("question")
    async def question(n, blob):
        # The return value is the acknowledgement: (number, bytes) exercises a BINARY_ACK upstream.
        return n * 2, blob[::-1]

    await within(
        alice.sio.connect(url, auth={"token": "secret", "user": "alice"}, transports=transports,
                          namespaces=["/", "/admin"], wait_timeout=STEP_TIMEOUT),
        "alice connect",
    )
    await within(
        bob.sio.connect(url, auth={"token": "secret", "user": "bob"}, transports=transports,
                        namespaces=["/"], wait_timeout=STEP_TIMEOUT),
        "bob connect",
    )
    check(alice.sio.connected and bob.sio.connected, "clients not connected")

    step("transport")
    expected = "polling" if transport == "polling" else "websocket"
    check(alice.sio.transport() == expected, f"client transport {alice.sio.transport()!r}, want {expected!r}")
    server_side = await alice.call("transport")
    check(server_side == expected, f"server sees transport {server_side!r}, want {expected!r}")

    step("welcome-binary")  # server → client binary emitted from onConnection
    (welcome,) = await alice.next("welcome")
    check(welcome.get("user") == "alice", f"welcome: {welcome}")
    check(welcome.get("id") == alice.sio.get_sid("/"), f"welcome id {welcome.get('id')} != sid {alice.sio.get_sid('/')}")
    check(welcome.get("blob") == bytes([0, 1, 2, 255]), f"welcome blob: {welcome.get('blob')!r}")

    step("echo-ack")
    payload = {"text": "héllo ✓", "n": 1, "list": [True, None, 2.5]}
    answer = await alice.call("echo", payload)
    check(answer == payload, f"echo answered {answer!r}")
    answer = await alice.call("echo", ("a", 2, [3]))
    check(answer == ("a", 2, [3]), f"multi-arg echo answered {answer!r}")

    step("echo-binary")  # client → server binary (placeholders) and back in the ack (BINARY_ACK)
    binary = {"blob": b"\x00\xffbinary\x00", "nested": [b"a", {"deep": b"\x01" * 1000}], "text": "t"}
    answer = await alice.call("echo", binary)
    check(answer == binary, f"binary echo answered {answer!r}")

    step("personal-room")
    delivered = await bob.call("dm", {"to": "alice", "text": "psst"})
    check(delivered is True, f"dm ack {delivered!r}")
    (dm,) = await alice.next("dm")
    check(dm == {"from": "bob", "text": "psst"}, f"dm: {dm}")
    check(bob.pending("dm") == 0, "bob got his own dm")

    step("join-room")
    for client in (alice, bob):
        joined = await client.call("join", "lobby")
        check("lobby" in joined.get("rooms", []), f"{client.name} join ack {joined}")

    step("room-say")
    said = await alice.call("room-say", {"room": "lobby", "text": "hello room"})
    check(said is True, f"room-say ack {said!r}")
    (heard,) = await bob.next("room-say")
    check(heard == {"from": "alice", "text": "hello room"}, f"bob heard {heard}")
    # The marker goes to the whole room after the room-say; it arriving first at alice proves
    # (same connection, same order) that the room-say was never sent to her.
    await alice.next("room-marker")
    await bob.next("room-marker")
    await asyncio.sleep(QUIET)
    check(alice.pending("room-say") == 0, "the sender received its own room-say")

    step("server-emit-with-ack")
    verdict = await alice.call("ask-me", 21)
    check(verdict == {"ok": True}, f"server judged our answer: {verdict}")

    step("admin-namespace")
    check("/admin" in alice.sio.namespaces, f"namespaces {alice.sio.namespaces}")
    stats = await alice.call("stats", namespace="/admin")
    check(stats == {"namespace": "/admin", "sockets": 2}, f"admin stats {stats}")

    step("disconnect")
    await within(alice.sio.disconnect(), "alice disconnect")
    await within(bob.sio.disconnect(), "bob disconnect")
    check(not alice.sio.connected and not bob.sio.connected, "still connected after disconnect")


async def main():
    global flavour
    url, transport = sys.argv[1], sys.argv[2]
    name = sys.argv[3] if len(sys.argv) > 3 else "async"
    if transport not in TRANSPORTS or name not in FLAVOURS:
        print(f"unknown transport {transport!r} or flavour {name!r}", file=sys.stderr)
        return 2
    flavour = FLAVOURS[name]
    steps = []
    result = {"transport": transport, "flavour": name, "ok": False, "steps": steps}
    try:
        await scenario(url, transport, steps)
        result["ok"] = True
    except Exception as error:  # any failure is reported, with the step it happened in
        result["failed_step"] = steps[-1] if steps else None
        result["error"] = f"{type(error).__name__}: {error}"
        traceback.print_exc(file=sys.stderr)
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
