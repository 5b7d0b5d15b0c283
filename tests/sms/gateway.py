#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A stand-in SMS gateway for the tests of core/sms.c (standard library only).

Binds 127.0.0.1 (or --bind) on an ephemeral port, writes the port to --port-file
(atomically), and appends one JSON line per request to --log:
  {"method", "path", "headers": [[name, value], ...], "body": str, "body_hex": str}
The request is logged before it is answered, so requests that are never answered
are logged too. What it answers depends on the path (absolute-form paths, as a
client sends to a proxy, are routed on their path part):

  /ok, /anything-else   200 with a small JSON body
  /status/NNN           status NNN
  /hang                 read the request, never answer
  /stall                send "200" and headers, then never send the body
  /redirect             302 to /ok
  /big, /big500         200 / 500 with a 1 MiB body containing BODY-MARKER

With --cert and --key it speaks TLS. It exits by itself after --lifetime seconds
or as soon as the process that started it is gone, so a killed test never leaves
it behind.
"""

import argparse
import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

HANG_SEC = 600
BIG_BYTES = 1024 * 1024
MARKER = b"BODY-MARKER"
MAX_BODY = 1024 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "fake-sms-gateway/1"

    def log_message(self, fmt, *args):
        pass

    def record(self, body):
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "replace"),
            "body_hex": body.hex(),
        }
        with self.server.log_lock:
            with open(self.server.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")

    def reply(self, status, body=b'{"sid":"SM00000000000000000000000000000000","status":"queued"}',
              extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client stopped reading (its size cap): expected

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(n, MAX_BODY)) if n > 0 else b""
        self.record(body)
        path = urllib.parse.urlsplit(self.path).path
        if path == "/hang":
            time.sleep(HANG_SEC)
            return
        if path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.flush()
            time.sleep(HANG_SEC)
            return
        if path == "/redirect":
            self.reply(302, b"", [("Location", "/ok")])
            return
        if path in ("/big", "/big500"):
            self.reply(200 if path == "/big" else 500, MARKER * (BIG_BYTES // len(MARKER)))
            return
        if path.startswith("/status/"):
            self.reply(int(path[len("/status/"):]), b'{"error":"as requested"}')
            return
        self.reply(200)

    do_POST = do_GET = do_PUT = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # TLS handshakes the client rejects, resets: expected in these tests


def watchdog(ppid, lifetime):
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline and os.getppid() == ppid:
        time.sleep(0.2)
    os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--lifetime", type=float, default=300)
    a = ap.parse_args()
    if a.bind not in ("127.0.0.1", "::1"):
        sys.exit("loopback only")

    if ":" in a.bind:
        Server.address_family = __import__("socket").AF_INET6
    srv = Server((a.bind, 0), Handler)
    srv.log_path = a.log
    srv.log_lock = threading.Lock()
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)

    threading.Thread(target=watchdog, args=(os.getppid(), a.lifetime), daemon=True).start()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
