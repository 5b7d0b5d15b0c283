#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A real SMTP server on 127.0.0.1 for the tests: Debian's python3-aiosmtpd.

usage: smtpd.py --dir DIR [--mode accept|refuse|greet-refuse|hang] [--cert PEM --key PEM]
                [--user USER --password PASSWORD]

Listens on an ephemeral port of 127.0.0.1 and writes it to DIR/port once ready.
Each accepted message becomes DIR/mail-N.json: {"from", "to", "data"} (data as
received, after the server undid the dot-stuffing). Modes: accept; refuse (every
RCPT gets 550); greet-refuse (554 at the greeting); hang (accepts connections and
never says a word). With --cert, STARTTLS is offered and required before MAIL;
with --user, AUTH is required (only over TLS unless there is no --cert).
Runs until killed. Always run with Debian's /usr/bin/python3 (the module is there).
"""

import argparse
import asyncio
import json
import os
import socket
import ssl
import sys
import time


def write_port(d, port):
    tmp = os.path.join(d, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, os.path.join(d, "port"))


def hang(d):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    write_port(d, s.getsockname()[1])
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)  # never answered, never closed


def greet_refuse(d):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    write_port(d, s.getsockname()[1])
    while True:
        c, _ = s.accept()
        c.sendall(b"554 5.3.2 not accepting mail from you\r\n")
        time.sleep(0.2)
        c.close()


class Handler:
    def __init__(self, d, mode):
        self.d, self.mode, self.n = d, mode, 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "refuse":
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        rec = {"from": envelope.mail_from, "to": envelope.rcpt_tos,
               "data": envelope.original_content.decode("utf-8", "surrogateescape"),
               "tls": session.ssl is not None, "auth": session.authenticated}
        tmp = os.path.join(self.d, "mail.tmp")
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(self.d, "mail-%d.json" % self.n))
        return "250 Message accepted"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--mode", default="accept")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    a = p.parse_args()
    if a.mode == "hang":
        return hang(a.dir)
    if a.mode == "greet-refuse":
        return greet_refuse(a.dir)

    from aiosmtpd.smtp import SMTP, AuthResult

    ctx = None
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)

    def authenticator(server, session, envelope, mechanism, data):
        ok = (a.user is not None and data is not None and data.login == a.user.encode()
              and data.password == a.password.encode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    handler = Handler(a.dir, a.mode)

    def factory():
        return SMTP(handler, hostname="localhost", tls_context=ctx, require_starttls=ctx is not None,
                    auth_required=a.user is not None, auth_require_tls=ctx is not None,
                    authenticator=authenticator if a.user else None, timeout=30)

    async def serve():
        loop = asyncio.get_running_loop()
        srv = await loop.create_server(factory, host="127.0.0.1", port=0)
        write_port(a.dir, srv.sockets[0].getsockname()[1])
        await srv.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
