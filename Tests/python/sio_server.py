"""A python-socketio AsyncServer on uvicorn: a Socket.IO server nobody here wrote, for the Swift client tests.

    sio_server.py PORT

`/`: refuses auth {"token":"bad"}, emits `auth` with the auth payload on connect, answers `message` with
`message-back`, acknowledges `message-with-ack` with its arguments, and on `ask-client` asks the client
`question` (with acknowledgement) and reports the answer as `client-answered`.
"""
import sys

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", ping_interval=5, ping_timeout=5)


@sio.event
async def connect(sid, environ, auth):
    if isinstance(auth, dict) and auth.get("token") == "bad":
        raise socketio.exceptions.ConnectionRefusedError("not authorized")
    await sio.emit("auth", auth or {}, to=sid)


@sio.on("message")
async def message(sid, *args):
    await sio.emit("message-back", args if len(args) != 1 else args[0], to=sid)


@sio.on("message-with-ack")
async def message_with_ack(sid, *args):
    return args


@sio.on("ask-client")
async def ask_client(sid, data):
    answer = await sio.call("question", data, to=sid, timeout=5)
    await sio.emit("client-answered", answer, to=sid)


if __name__ == "__main__":
    uvicorn.run(socketio.ASGIApp(sio), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
