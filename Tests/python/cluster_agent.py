"""Socket.IO clients (python-socketio's AsyncClient, the official socket.io-client in headless Chromium) held
open for the live tests (ClusterLiveTests, DrainLiveTests, OfficialClientTests; the Swift side is ClientAgent).

The Swift test owns the processes (redis-server, herald nodes, nginx) and drives this agent one
command per line on stdin, because its clients must stay connected while the test publishes, kills
Redis and restarts it. Each command is a JSON object with an "op"; each answer is one JSON line on
stdout: {"ok": true, ...} or {"ok": false, "error": "..."}. Every wait carries the caller's timeout,
so a broken deployment answers with an error instead of hanging.

Ops:
  connect       name, url, transport ("websocket" | "polling"), timeout  -> sid, transport
                optional: reconnect (bool: reconnect like an application, 0.2-1 s backoff),
                join (a chat room joined with `chat:join` after every connect), auth (CONNECT payload),
                ca (PEM file of the CAs to trust for https:// URLs; default: the system's)
  call          name, event, data, timeout: emit with an acknowledgement    -> answer (the first ack argument)
  emit          name, event, data: emit without one
  event         name, event, timeout                                     -> args
  received      name, event                                              -> every args received so far
  disconnected  name, timeout                                            -> reason, after (s)
  state         name                                 -> connected, sid, disconnects, connects, disconnected_at
  connected     name, count, timeout: waits for the count-th connect     -> sid
  close         name
  browser       name, url, room, script (path of socket.io.min.js), timeout: the official JavaScript client
                in headless Chromium, websocket, recovery-aware, joined to room   -> id
  browser_state name                                                     -> connects [{id, recovered}],
                                                                            disconnects, events {event: [args]}
  js            body, args, script (path of socket.io.min.js), timeout: runs body, the body of an async
                JavaScript function of `args`, in one page of the official client shared by every js command
                (one Chromium for the agent's life; `once(emitter, event, ms)` helps await events)  -> value
Stdin closing disconnects every client and exits; so does a command-less pause of SECONDS with
--exit-when-idle SECONDS (a test suite's shared agent, which no teardown ends).
"""

import asyncio
import json
import sys
import time
import traceback

import socketio


class Client:
    def __init__(self, name, reconnect=False, join=None, ca=None):
        self.name = name
        options = {}
        if ca:
            # One aiohttp session for polling and the websocket, trusting the test's CA.
            import aiohttp
            import ssl
            context = ssl.create_default_context(cafile=ca)
            options["http_session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        # By default no reconnection: a cut connection must stay visible to the test.
        self.sio = socketio.AsyncClient(reconnection=reconnect, reconnection_delay=0.2, reconnection_delay_max=1, **options)
        self.join = join
        self.events = {}
        self.log = {}
        self.disconnects = []
        self.connects = []
        self.connect_count = asyncio.Condition()
        self.tasks = set()
        self.gone = asyncio.Event()
        self.sio.on("*", self._any_event)
        self.sio.on("disconnect", self._disconnected)
        self.sio.on("connect", self._connected)

    def queue(self, event):
        return self.events.setdefault(event, asyncio.Queue())

    async def _any_event(self, event, *args):
        self.log.setdefault(event, []).append(list(args))
        await self.queue(event).put(list(args))

    async def _connected(self):
        # The connect handler runs inside the client's read loop: the join's ack needs that loop, so join aside.
        task = asyncio.get_running_loop().create_task(self._after_connect())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _after_connect(self):
        # python-socketio has no connection state recovery: every connect is a new session, rooms included.
        if self.join:
            answer = await self.sio.call("chat:join", {"room": self.join}, timeout=10)
            if not (isinstance(answer, dict) and answer.get("ok")):
                raise RuntimeError(f"chat:join {self.join} answered {answer!r}")
        self.connects.append(self.sio.get_sid("/"))
        async with self.connect_count:
            self.connect_count.notify_all()

    async def _disconnected(self, reason=None):
        self.disconnects.append({"reason": str(reason), "at": time.monotonic()})
        self.gone.set()


clients = {}


async def connect(command):
    name = command["name"]
    if name in clients:
        raise ValueError(f"client {name!r} exists")
    client = Client(name, reconnect=command.get("reconnect", False), join=command.get("join"), ca=command.get("ca"))
    clients[name] = client
    await asyncio.wait_for(
        client.sio.connect(command["url"], transports=[command["transport"]], wait_timeout=command["timeout"],
                           auth=command.get("auth")),
        command["timeout"],
    )
    return {"sid": client.sio.get_sid("/"), "transport": client.sio.transport()}


async def event(command):
    client = clients[command["name"]]
    args = await asyncio.wait_for(client.queue(command["event"]).get(), command["timeout"])
    return {"args": args}


async def call(command):
    client = clients[command["name"]]
    answer = await client.sio.call(command["event"], command.get("data"), timeout=command["timeout"])
    return {"answer": answer}


async def emit(command):
    await clients[command["name"]].sio.emit(command["event"], command.get("data"))
    return {}


async def received(command):
    return {"args": clients[command["name"]].log.get(command["event"], [])}


async def connected(command):
    client = clients[command["name"]]

    async def enough():
        async with client.connect_count:
            await client.connect_count.wait_for(lambda: len(client.connects) >= command["count"])

    await asyncio.wait_for(enough(), command["timeout"])
    return {"sid": client.connects[command["count"] - 1]}


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
        "connects": client.connects,
        "disconnected_at": [d["at"] for d in client.disconnects],  # time.monotonic(), one clock for all clients
    }


# The official client's page: io() from the socket.io-client bundle, websocket only (no CORS needed from a
# file:// page), fast reconnection, connection state recovery handled by the client itself.
BROWSER_PAGE = """<!doctype html><meta charset="utf-8"><script src="socket.io.min.js"></script>
<script>
window.herald = {connects: [], disconnects: [], events: {}, errors: []};
function start(url, room) {
  var socket = io(url, {transports: ["websocket"], reconnectionDelay: 200, reconnectionDelayMax: 1000});
  window.socket = socket;
  socket.onAny(function (event) {
    var args = Array.prototype.slice.call(arguments, 1);
    (herald.events[event] = herald.events[event] || []).push(args);
  });
  socket.on("connect", function () {
    var entry = {id: socket.id, recovered: socket.recovered};
    // A recovered socket is back in its rooms; a new one joins again.
    if (socket.recovered) { herald.connects.push(entry); return; }
    socket.emitWithAck("chat:join", {room: room}).then(function (answer) {
      if (answer && answer.ok) { herald.connects.push(entry); } else { herald.errors.push(JSON.stringify(answer)); }
    });
  });
  socket.on("disconnect", function (reason) { herald.disconnects.push(reason); });
  socket.on("connect_error", function (error) { herald.errors.push(String(error && error.message)); });
}
</script>"""

browsers = {}


def _chromium():
    import os
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("HERALD_CHROMIUM", "/usr/bin/chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    service = Service(os.environ.get("HERALD_CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


async def browser(command):
    import os
    import shutil
    import tempfile
    name = command["name"]
    if name in browsers:
        raise ValueError(f"browser {name!r} exists")
    directory = tempfile.mkdtemp(prefix="herald-browser-")
    shutil.copy(command["script"], os.path.join(directory, "socket.io.min.js"))
    with open(os.path.join(directory, "page.html"), "w") as page:
        page.write(BROWSER_PAGE)
    driver = await asyncio.to_thread(_chromium)
    browsers[name] = (driver, directory)
    await asyncio.to_thread(driver.get, "file://" + os.path.join(directory, "page.html"))
    await asyncio.to_thread(driver.execute_script, "start(arguments[0], arguments[1])", command["url"], command["room"])
    deadline = time.monotonic() + command["timeout"]
    while time.monotonic() < deadline:
        state = await asyncio.to_thread(driver.execute_script, "return window.herald")
        if state["connects"]:
            return {"id": state["connects"][0]["id"]}
        await asyncio.sleep(0.05)  # the page has no channel to push on; polling it is the honest way
    raise asyncio.TimeoutError()


async def browser_state(command):
    driver, _ = browsers[command["name"]]
    return await asyncio.to_thread(driver.execute_script, "return window.herald")


# The page of the js op: the official client plus a bounded wait for one event, for the scripts to await.
MATRIX_PAGE = """<!doctype html><meta charset="utf-8"><script src="socket.io.min.js"></script>
<script>
window.once = function (target, event, ms) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error("no " + event + " within " + (ms || 5000) + " ms")); }, ms || 5000);
    // socket.io-client's emitters have once(); herald.js's have on() and off() only.
    function heard() {
      clearTimeout(timer);
      if (!target.once) target.off(event, heard);
      resolve(Array.prototype.slice.call(arguments));
    }
    if (target.once) target.once(event, heard); else target.on(event, heard);
  });
};
</script>"""

# body runs as an async function; its result (or its error) is handed to selenium's callback.
JS_WRAPPER = """var done = arguments[arguments.length - 1];
(async function (args) {
%s
})(arguments[0]).then(
  function (value) { done({ok: true, value: value === undefined ? null : value}); },
  function (error) { done({ok: false, error: String(error && (error.stack || error.message) || error)}); });"""

matrix = {}


async def js(command):
    import os
    import shutil
    import tempfile
    if "driver" not in matrix:
        directory = tempfile.mkdtemp(prefix="herald-matrix-")
        shutil.copy(command["script"], os.path.join(directory, "socket.io.min.js"))
        with open(os.path.join(directory, "page.html"), "w") as page:
            page.write(MATRIX_PAGE)
        driver = await asyncio.to_thread(_chromium)
        matrix.update(driver=driver, directory=directory)
        await asyncio.to_thread(driver.get, "file://" + os.path.join(directory, "page.html"))
    driver = matrix["driver"]
    driver.set_script_timeout(command["timeout"])
    result = await asyncio.to_thread(driver.execute_async_script, JS_WRAPPER % command["body"], command.get("args"))
    if not result.get("ok"):
        raise RuntimeError("JavaScript: " + str(result.get("error")))
    return {"value": result.get("value")}


async def close(command):
    client = clients.pop(command["name"])
    await asyncio.wait_for(client.sio.disconnect(), 10)
    return {}


OPS = {"connect": connect, "call": call, "emit": emit, "event": event, "received": received, "disconnected": disconnected, "state": state,
       "connected": connected, "close": close, "browser": browser, "browser_state": browser_state, "js": js}


def answer(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    answer({"ok": True, "ready": True})
    idle = float(sys.argv[sys.argv.index("--exit-when-idle") + 1]) if "--exit-when-idle" in sys.argv else None
    while True:
        try:
            line = await asyncio.wait_for(reader.readline(), idle)
        except asyncio.TimeoutError:
            break
        if not line:
            break
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
    if "driver" in matrix:
        browsers["(js)"] = (matrix["driver"], matrix["directory"])
    for driver, directory in browsers.values():
        try:
            await asyncio.to_thread(driver.quit)
        except Exception:
            pass
        __import__("shutil").rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
