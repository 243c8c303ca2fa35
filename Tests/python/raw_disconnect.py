"""Speaks Engine.IO/Socket.IO by hand over websocket-client or requests, to pin down exact packets.

Usage: raw_disconnect.py URL TRANSPORT   (TRANSPORT: websocket | polling)

Connects to `/` with a good token, reads the CONNECT answer, sends an explicit Socket.IO
DISCONNECT ("41") and only then an Engine.IO close ("1"). The Swift side then expects the reason
"client namespace disconnect" (python-socketio's own client cannot promise that ordering over
websocket). Prints one JSON line; exits non-zero on failure. Every blocking call has a timeout.
"""

import json
import sys
import traceback
import urllib.parse

import requests
import websocket

TIMEOUT = 10
AUTH = '40{"token":"secret","user":"raw"}'


def fail(message):
    raise AssertionError(message)


def over_websocket(url):
    parts = urllib.parse.urlsplit(url)
    ws = websocket.create_connection(
        f"ws://{parts.netloc}/socket.io/?EIO=4&transport=websocket", timeout=TIMEOUT)
    try:
        opened = ws.recv()
        if not opened.startswith("0{"):
            fail(f"open packet {opened!r}")
        ws.send(AUTH)
        connected = ws.recv()
        if not connected.startswith("40{") or '"sid"' not in connected:
            fail(f"connect answer {connected!r}")
        ws.send("41")
        ws.send("1")
    finally:
        ws.close()
    return opened


def over_polling(url):
    base = f"{url}/socket.io/?EIO=4&transport=polling"
    with requests.Session() as http:
        opened = http.get(base, timeout=TIMEOUT).text
        if not opened.startswith("0{"):
            fail(f"open packet {opened!r}")
        sid = json.loads(opened[1:])["sid"]
        session = f"{base}&sid={sid}"
        answer = http.post(session, data=AUTH, timeout=TIMEOUT)
        if answer.status_code != 200:
            fail(f"POST connect: {answer.status_code} {answer.text!r}")
        connected = http.get(session, timeout=TIMEOUT).text
        if not connected.startswith("40{"):
            fail(f"connect answer {connected!r}")
        # Two posts, so the DISCONNECT is certainly handled before the close.
        for body in ("41", "1"):
            answer = http.post(session, data=body, timeout=TIMEOUT)
            if answer.status_code != 200:
                fail(f"POST {body!r}: {answer.status_code} {answer.text!r}")
    return opened


def main():
    url, transport = sys.argv[1], sys.argv[2]
    result = {"transport": transport, "ok": False}
    try:
        {"websocket": over_websocket, "polling": over_polling}[transport](url)
        result["ok"] = True
    except Exception as error:
        result["error"] = f"{type(error).__name__}: {error}"
        traceback.print_exc(file=sys.stderr)
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
