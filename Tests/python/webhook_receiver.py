"""A webhook receiver for Tests/HeraldTests/WebhookLiveTests.swift: checks each POST's X-Herald-Signature the way
docs/webhooks.md tells receivers to, answers the first `fail` requests with 503 (to make herald retry), and prints
one JSON line per request: {"status": answered, "valid": signature ok, "events": [...], "authorization": header}. The first line is
{"port": N}. With CERT and KEY (PEM files) it speaks only HTTPS. Standard library only.

Usage: webhook_receiver.py SECRET FAIL [CERT KEY]
"""

import hashlib
import hmac
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = sys.argv[1].encode()
failures_left = int(sys.argv[2])


def verify(timestamp, body, signature):
    if not timestamp or not signature or abs(time.time() - int(timestamp)) > 300:
        return False
    expected = "sha256=" + hmac.new(SECRET, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global failures_left
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        valid = verify(self.headers.get("X-Herald-Timestamp"), body, self.headers.get("X-Herald-Signature"))
        status = 204 if valid else 401
        if valid and failures_left > 0:
            failures_left -= 1
            status = 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        events = json.loads(body).get("events", []) if valid else []
        print(json.dumps({"status": status, "valid": valid, "events": events,
                          "authorization": self.headers.get("Authorization")}), flush=True)

    def log_message(self, *args):
        pass


def exit_with_parent():
    # The test holds our stdin open: its end (the test run ending, however) ends the receiver too.
    sys.stdin.read()
    os._exit(0)


threading.Thread(target=exit_with_parent, daemon=True).start()
server = HTTPServer(("127.0.0.1", 0), Handler)
if len(sys.argv) > 4:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    # A client that refuses the certificate fails the handshake in accept(): the server ignores it (an OSError).
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(json.dumps({"port": server.server_address[1]}), flush=True)
server.serve_forever()
