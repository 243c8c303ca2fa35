#!/usr/bin/env python3
"""Attacks a running `herald serve` the way issue 9 describes and reports what each costs the server.

    scripts/hostile-edge.py PID PORT [family ...]     families: silent, pingflood, bigheaders (default: all)

PID is the server's process id (its RSS and open file descriptors are read from /proc/PID). Each family reports
the server's RSS and descriptor count before and after; run each against a fresh server for clean numbers.
"""
import os
import socket
import sys
import time

UPGRADE = (b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
HANDSHAKE = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def report(name, pid, before_rss, before_fds, note=""):
    after_rss, after_fds = rss_kib(pid), fds(pid)
    print(f"{name}: RSS {before_rss / 1024:.1f} -> {after_rss / 1024:.1f} MiB "
          f"(+{(after_rss - before_rss) / 1024:.1f} MiB), fds {before_fds} -> {after_fds} {note}", flush=True)


def silent(pid, port):
    """300 connections: half send nothing, half send half a request head; open descriptors 12 s later."""
    rss, count = rss_kib(pid), fds(pid)
    sockets = []
    for index in range(300):
        s = socket.create_connection(("127.0.0.1", port))
        if index % 2:
            s.sendall(HANDSHAKE)
        sockets.append(s)
    time.sleep(12)
    report("silent+half-head x300 after 12 s", pid, rss, count)
    for s in sockets:
        s.close()


def pingflood(pid, port):
    """One websocket client sends 64 MiB of pings and reads nothing."""
    rss, count = rss_kib(pid), fds(pid)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(UPGRADE)
    s.settimeout(3)
    frame = bytes([0x89, 0x80 | 125, 1, 2, 3, 4]) + bytes(125)
    chunk = frame * (65536 // len(frame))
    sent = 0
    try:
        while sent < 64 << 20:
            s.sendall(chunk)
            sent += len(chunk)
    except (socket.timeout, OSError):
        pass
    time.sleep(1)
    report("pingflood", pid, rss, count, f"(client got {sent >> 20} MiB of pings out)")
    s.close()


def bigheaders(pid, port):
    """1 000 polling handshakes with a 70 KB header each."""
    rss, count = rss_kib(pid), fds(pid)
    header = b"X-Big: " + b"b" * 70_000 + b"\r\n"
    statuses = {}
    for _ in range(1000):
        s = socket.create_connection(("127.0.0.1", port))
        try:
            s.sendall(HANDSHAKE + header + b"Connection: close\r\n\r\n")
            answer = s.recv(64)
            status = answer.split(b" ")[1].decode() if answer.startswith(b"HTTP/") else "closed"
        except OSError:
            status = "reset"
        statuses[status] = statuses.get(status, 0) + 1
        s.close()
    time.sleep(1)
    report("bigheaders x1000", pid, rss, count, f"answers {statuses}")


def main():
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    families = sys.argv[3:] or ["silent", "pingflood", "bigheaders"]
    for name in families:
        globals()[name](pid, port)


if __name__ == "__main__":
    main()
