"""The python-socketio peer for bench/compare.sh: an ASGI AsyncServer on uvicorn with the bench-server handlers.

    CONNECT auth {"room": R}     -> join room R
    EVENT broadcast P (ack id)   -> emit("broadcast", P) to everybody, then ack P
    EVENT echo ...args (ack id)  -> ack args
    EVENT fanout P               -> emit("tick", P) to room "fanout"

Usage: bench/.venv/bin/python bench/peers/python/server.py [--host 127.0.0.1] [--port 3300] [--ping-interval 25000]
(bench/compare.sh creates bench/.venv with python-socketio, uvicorn[standard] and matplotlib.)
"""

import argparse
import resource

import socketio
import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3300)
    parser.add_argument("--ping-interval", type=int, default=25000, help="ms")
    parser.add_argument("--ping-timeout", type=int, default=20000, help="ms")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    sio = socketio.AsyncServer(
        async_mode="asgi",
        transports=["websocket"],
        ping_interval=args.ping_interval / 1000,
        ping_timeout=args.ping_timeout / 1000,
        cors_allowed_origins="*",
    )

    @sio.event
    async def connect(sid, environ, auth):
        room = auth.get("room") if isinstance(auth, dict) else None
        if isinstance(room, str):
            await sio.enter_room(sid, room)

    @sio.on("broadcast")
    async def broadcast(sid, payload):
        await sio.emit("broadcast", payload)
        return payload

    @sio.on("echo")
    async def echo(sid, *args):
        return args

    @sio.on("fanout")
    async def fanout(sid, payload):
        await sio.emit("tick", payload, room="fanout")

    app = socketio.ASGIApp(sio)
    print(f"python-peer listening on {args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", backlog=4096,
                ws_max_size=1_000_000, ws_per_message_deflate=False)


if __name__ == "__main__":
    main()
