#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Behaviour tests of core/sms.c through tests/sms/sms-send.c and gateway.py.

usage: test-sms.py --driver SMS_SEND --gateway GATEWAY_PY [--openssl OPENSSL] GROUP
GROUP: unit, generic, twilio, errors, proxy, tls. Output is TAP. Every child
process runs under a timeout and every gateway is stopped on the way out, also
when meson kills us (SIGTERM) on its own timeout.
"""

import argparse
import base64
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
              "no_proxy", "NO_PROXY")
TO = "+15551234567"
CHILD_TIMEOUT = 30

args = None
counter = 0
failed = 0
tmpdir = None


def tap(ok, desc, diag=None):
    global counter, failed
    counter += 1
    if not ok:
        failed += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", counter, desc))
    if diag and not ok:
        for line in str(diag).splitlines():
            print("# " + line)
    sys.stdout.flush()
    return ok


def skip(desc, why):
    global counter
    counter += 1
    print("ok %d - %s # SKIP %s" % (counter, desc, why))


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS and k != "EHR_SMS_TOKEN"}
    env.update(extra or {})
    return env


class Result:
    def __init__(self, cp, wall_ms):
        self.rc = cp.returncode
        self.out = cp.stdout.decode("utf-8", "replace")
        self.err = cp.stderr.decode("utf-8", "replace")
        self.wall_ms = wall_ms
        m = dict(re.findall(r"(\w+)=(\S*)", self.out.splitlines()[0] if self.out else ""))
        self.r = m.get("r")
        self.status = int(m["status"]) if "status" in m else None
        self.elapsed_ms = int(m["elapsed_ms"]) if "elapsed_ms" in m else None
        self.fields = m

    def __str__(self):
        return "rc=%s wall_ms=%d\nstdout: %s\nstderr: %s" % (self.rc, self.wall_ms, self.out, self.err[-2000:])


def drive(argv, env=None, timeout=CHILD_TIMEOUT):
    t0 = time.monotonic()
    cp = subprocess.run([args.driver] + argv, env=clean_env(env), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=timeout, stdin=subprocess.DEVNULL)
    res = Result(cp, int((time.monotonic() - t0) * 1000))
    # Under -Db_sanitize=address,undefined a report must fail the test, not just scroll by.
    if "Sanitizer" in res.err or "runtime error:" in res.err:
        tap(False, "sanitizer report from sms-send %s" % " ".join(argv[:1]), res.err)
    return res


def send(url, to=TO, msg="Your ehr2fa code is 123456", token="t0k", extra=(), env=None):
    argv = ["send", "--url", url] + list(extra)
    if token is not None:
        argv += ["--token", token]
    return drive(argv + ["--", to, msg], env)


class Gateway:
    """A gateway.py process; use as a context manager."""

    def __init__(self, tls=None, bind="127.0.0.1"):
        global tmpdir
        self.dir = tempfile.mkdtemp(dir=tmpdir)
        self.port_file = os.path.join(self.dir, "port")
        self.log = os.path.join(self.dir, "requests.jsonl")
        cmd = [sys.executable, args.gateway, "--port-file", self.port_file, "--log", self.log, "--bind", bind,
               "--lifetime", "240"]
        if tls:
            cmd += ["--cert", tls[0], "--key", tls[1]]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("gateway did not start")
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.host = "[::1]" if ":" in bind else "127.0.0.1"

    def url(self, path="/ok", scheme="http", host=None):
        return "%s://%s:%d%s" % (scheme, host or self.host, self.port, path)

    def requests(self):
        try:
            with open(self.log, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def last(self):
        r = self.requests()
        return r[-1] if r else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@contextlib.contextmanager
def closed_port():
    """A port that refuses connections: bound, never listening, held until we are done,
    so no other process can take it in between."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


@contextlib.contextmanager
def full_backlog():
    """A port whose accept queue is full: the kernel drops further SYNs, so a connect()
    hangs in SYN_SENT, which is how a gateway behind a black-holing firewall looks."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        time.sleep(0.2)
        yield port
    finally:
        for c in fillers:
            c.close()
        ls.close()


@contextlib.contextmanager
def not_http():
    """A port that answers every connection with a line that is not HTTP, then closes."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    ls.settimeout(0.2)
    done = threading.Event()

    def serve():
        while not done.is_set():
            try:
                c, _ = ls.accept()
            except OSError:
                continue
            with c:
                c.settimeout(2)
                try:
                    c.recv(65536)
                    c.sendall(b"SSH-2.0-OpenSSH_9.2 not a web server\r\n\r\n")
                except OSError:
                    pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield ls.getsockname()[1]
    finally:
        done.set()
        t.join()
        ls.close()


def hdrs(req):
    return {k.lower(): v for k, v in req["headers"]}


def write_file(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)
    return path


# ---------------------------------------------------------------------------------------------

def group_unit():
    for inp, out in [("+1 (555) 123-4567", "+15551234567"), ("+15551234567", "+15551234567"),
                     ("  +44 20 7946 0958", "+442079460958"), ("+33.1.23.45.67.89", "+33123456789"),
                     ("+49 30/1234567", "+49301234567"), ("+1234567", "+1234567"),
                     ("+123456789012345", "+123456789012345")]:
        res = drive(["normalize", inp])
        tap(res.r == "OK" and res.fields.get("out") == out and res.fields.get("e164") == "1",
            "normalize %r -> %s" % (inp, out), res)
    for inp in ["15551234567", "555-1234", "+0 555 123 4567", "+1 555 123 456a", "+1234567890123456",
                "+123456", "++15551234567", "+1 (555)) 1234567", "+1 (555 1234567", "+1 (5)(5) 1234567",
                "+1 555 1234567 ext 2", "", "+", "+1\n5551234567", "tel:+15551234567"]:
        res = drive(["normalize", inp])
        tap(res.r == "EINVAL", "normalize rejects %r" % inp, res)
    for inp, out in [("+15551234566", "***66"), ("+1 (555) 123-4566", "***66"), ("7", "***"), ("", "***"),
                     ("NULL", "***")]:
        res = drive(["mask", inp])
        tap(res.fields.get("mask") == out, "mask %r -> %s" % (inp, out), res)

    # Gateway settings, checked without the network.
    checks = [
        (["--url", "https://sms.example.org/v1/send", "--token", "abc"], "OK", "https URL"),
        (["--url", "http://127.0.0.1:8080/", "--token", "abc"], "OK", "http to 127.0.0.1"),
        (["--url", "http://127.9.8.7/", "--token", "abc"], "OK", "http to 127.0.0.0/8"),
        (["--url", "http://localhost:8080/", "--token", "abc"], "OK", "http to localhost"),
        (["--url", "http://[::1]:8080/", "--token", "abc"], "OK", "http to ::1"),
        (["--url", "http://sms.example.org/", "--token", "abc"], "EINVAL", "http to a remote host"),
        (["--url", "http://128.0.0.1/", "--token", "abc"], "EINVAL", "http to 128.0.0.1"),
        (["--url", "http://127.0.0.1.nip.io/", "--token", "abc"], "EINVAL", "http to 127.0.0.1.<domain>"),
        (["--url", "http://localhost.example.org/", "--token", "abc"], "EINVAL", "http to localhost.<domain>"),
        (["--url", "http://[::2]/", "--token", "abc"], "EINVAL", "http to ::2"),
        (["--url", "ftp://127.0.0.1/", "--token", "abc"], "EINVAL", "ftp scheme"),
        (["--url", "file:///etc/passwd", "--token", "abc"], "EINVAL", "file scheme"),
        (["--url", "https://user:pw@sms.example.org/", "--token", "abc"], "EINVAL", "credentials in the URL"),
        (["--url", "sms.example.org", "--token", "abc"], "EINVAL", "no scheme"),
        (["--url", "", "--token", "abc"], "EINVAL", "empty URL (generic)"),
        (["--url", "https://sms.example.org/", "--token", "a\r\nX-Injected: 1"], "EINVAL", "CR/LF in token"),
        (["--url", "https://sms.example.org/", "--token", "a b"], "EINVAL", "space in token"),
        (["--url", "https://sms.example.org/", "--token", ""], "EINVAL", "empty token"),
        (["--url", "https://sms.example.org/"], "EINVAL", "no token"),
        (["--url", "https://sms.example.org/", "--token", "a", "--timeout-ms", "120001"], "EINVAL",
         "timeout over the ceiling"),
        (["--url", "https://sms.example.org/", "--token", "a", "--connect-timeout-ms", "999999"], "EINVAL",
         "connect timeout over the ceiling"),
        (["--url", "https://sms.example.org/", "--token", "a", "--ca-file", "relative.pem"], "EINVAL",
         "relative ca_file"),
        (["--url", "https://sms.example.org/", "--token", "a", "--proxy", "http://proxy.example.org:3128"], "OK",
         "https through a remote proxy"),
        (["--url", "http://127.0.0.1/", "--token", "a", "--proxy", "http://proxy.example.org:3128"], "EINVAL",
         "plain http through a remote proxy"),
        (["--url", "http://127.0.0.1/", "--token", "a", "--proxy", "http://127.0.0.1:3128"], "OK",
         "plain http through a loopback proxy"),
        (["--url", "https://sms.example.org/", "--token", "a", "--proxy", "http://u:p@proxy.example.org:3128"],
         "EINVAL", "credentials in the proxy URL"),
        (["--url", "https://sms.example.org/", "--token", "a", "--proxy", "gopher://proxy.example.org"], "EINVAL",
         "proxy scheme not http/https/socks"),
        (["--mode", "twilio", "--token", "AC0123:secret", "--from", "+15550001111"], "OK",
         "twilio with the default URL"),
        (["--mode", "twilio", "--token", "AC0123:secret", "--from", "EHR2FA"], "OK", "twilio alphanumeric From"),
        (["--mode", "twilio", "--token", "AC0123secret", "--from", "+15550001111"], "EINVAL",
         "twilio token without SID:"),
        (["--mode", "twilio", "--token", ":secret", "--from", "+15550001111"], "EINVAL", "twilio empty SID"),
        (["--mode", "twilio", "--token", "AC/../x:secret", "--from", "+15550001111"], "EINVAL",
         "twilio SID with a path in it"),
        (["--mode", "twilio", "--token", "AC0123:secret"], "EINVAL", "twilio without From"),
        (["--mode", "twilio", "--token", "AC0123:secret", "--from", "5550001111"], "EINVAL", "twilio numeric From"),
        (["--mode", "twilio", "--token", "AC0123:secret", "--from", "TOOLONGSENDER"], "EINVAL",
         "twilio sender ID over 11 characters"),
    ]
    for argv, want, desc in checks:
        res = drive(["check"] + argv)
        tap(res.r == want, "check: %s -> %s" % (desc, want), res)

    # The token file.
    d = tempfile.mkdtemp(dir=tmpdir)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    cases = [
        (write_file(p("ok"), "s3cret-token\n"), "OK", "s3cret-token", "trailing newline stripped"),
        (write_file(p("crlf"), "s3cret-token\r\n"), "OK", "s3cret-token", "CRLF stripped"),
        (write_file(p("bare"), "AC12:tok"), "OK", "AC12:tok", "no newline"),
        (write_file(p("max"), "x" * 4096), "OK", "x" * 4096, "4096 bytes (the limit)"),
        (write_file(p("big"), "x" * 4097), "EFBIG", None, "4097 bytes"),
        (write_file(p("empty"), ""), "EINVAL", None, "empty"),
        (write_file(p("nl"), "\n\n"), "EINVAL", None, "only newlines"),
        (write_file(p("ctl"), "abc\ndef\n"), "EINVAL", None, "newline inside"),
        (write_file(p("nul"), b"abc\0def"), "EINVAL", None, "NUL inside"),
        (write_file(p("g"), "tok\n", 0o640), "ENOTUNIQ", None, "group-readable (0640)"),
        (write_file(p("o"), "tok\n", 0o604), "ENOTUNIQ", None, "other-readable (0604)"),
        (p("missing"), "ENOENT", None, "missing"),
    ]
    os.symlink(p("ok"), p("link"))
    cases.append((p("link"), "ELOOP", None, "symlink to a good file"))
    os.mkfifo(p("fifo"), 0o600)
    cases.append((p("fifo"), "EBADFD", None, "FIFO (must not hang)"))
    os.mkdir(p("dir"), 0o700)
    cases.append((p("dir"), "EBADFD", None, "directory"))
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody").pw_uid
        write_file(p("foreign"), "tok\n")
        os.chown(p("foreign"), nobody, -1)
        cases.append((p("foreign"), "EPERM", None, "owned by another user"))
    for path, want, tok, desc in cases:
        res = drive(["read-token", path], timeout=10)
        m = re.search(r"token=\[(.*)\]", res.out, re.S)
        tap(res.r == want and (tok is None or (m and m.group(1) == tok)), "token file: %s -> %s" % (desc, want), res)
    if os.geteuid() != 0:
        skip("token file: owned by another user -> EPERM", "needs root to chown")


def group_generic():
    with Gateway() as gw:
        msg = 'Code 123456 "q" \\ back\nline\ttab \x01 \x7f é ✓ </script>'
        token = "s3cr3t-Token_1.~+/="
        res = send(gw.url("/ok"), msg=msg, token=token)
        req = gw.last()
        tap(res.r == "OK" and res.status == 200 and res.rc == 0, "2xx answer -> 0, status 200", res)
        expect_body = json.dumps({"to": TO, "message": msg}, separators=(",", ":"), ensure_ascii=False)
        tap(req is not None and bytes.fromhex(req["body_hex"]) == expect_body.encode(),
            "JSON body is exactly %s" % expect_body.encode("unicode_escape").decode(), req)
        tap(req is not None and json.loads(req["body"]) == {"to": TO, "message": msg}, "JSON body parses back", req)
        h = hdrs(req) if req else {}
        tap(req is not None and req["method"] == "POST" and req["path"] == "/ok", "POST to the URL's path", req)
        tap(h.get("authorization") == "Bearer " + token, "Authorization: Bearer <token>", h)
        tap(h.get("content-type") == "application/json", "Content-Type: application/json", h)
        tap(h.get("content-length") == str(len(expect_body.encode())), "Content-Length is the body's", h)
        tap(set(h) == {"host", "user-agent", "accept", "content-type", "authorization", "content-length"},
            "no other headers (no Expect, Cookie, Proxy-*)", sorted(h))
        tap(h.get("user-agent", "").startswith("ehr2fa/"), "User-Agent ehr2fa/<version>", h)
        tap(len(gw.requests()) == 1, "exactly one request", gw.requests())
        tap(res.fields.get("fds_leaked") == "0", "no descriptor left open after the call", res)

        # curl_global_init() under pthread_once, then concurrent transfers.
        res = drive(["send", "--url", gw.url("/ok"), "--token", "t", "--threads", "16", TO, "x"])
        tap(res.r == "OK" and len(gw.requests()) == 17 and res.fields.get("fds_leaked") == "0",
            "16 threads sending at once, from a cold start", res)

        # The token read from a root-only file, as the PAM module does.
        tf = write_file(os.path.join(gw.dir, "token"), token + "\n")
        res = drive(["send", "--url", gw.url("/ok"), "--token-file", tf, TO, "x"])
        tap(res.r == "OK" and hdrs(gw.last()).get("authorization") == "Bearer " + token,
            "token from a file: same header, newline stripped", res)
        res = drive(["send", "--url", gw.url("/ok"), "--token", "t", "--timeout-ms", "0", "--connect-timeout-ms", "0",
                     TO, "x"])
        tap(res.r == "OK", "timeouts 0 -> defaults", res)
        for code in (201, 202, 204):
            res = send(gw.url("/status/%d" % code))
            tap(res.r == "OK" and res.status == code, "%d -> 0" % code, res)

        res = send(gw.url("/ok", host="localhost"))
        tap(res.r == "OK", "http://localhost:<port> works", res)

        # The answer is never printed.
        res = send(gw.url("/big"))
        tap(res.r == "OK" and res.status == 200, "1 MiB 2xx answer -> 0 (read capped, status decides)", res)
        tap("BODY-MARKER" not in res.out + res.err, "the answer's body is not printed", res)

        n = len(gw.requests())
        for to, desc in [("5551234567", "number without +"), ("+1 555 123 4567", "number not normalized"),
                         ("", "empty number")]:
            res = send(gw.url("/ok"), to=to)
            tap(res.r == "EINVAL", "%s -> -EINVAL" % desc, res)
        res = send(gw.url("/ok"), msg="x" * 1601)
        tap(res.r == "EINVAL", "message over 1600 bytes -> -EINVAL", res)
        res = send(gw.url("/ok"), msg="x" * 1600)
        tap(res.r == "OK", "message of 1600 bytes -> 0", res)
        n += 1
        for bad, desc in [(b"\xff\xfe", "invalid UTF-8"), (b"\xc0\xaf", "overlong UTF-8"),
                          (b"\xed\xa0\x80", "UTF-16 surrogate in UTF-8")]:
            cp = subprocess.run([args.driver, "send", "--url", gw.url("/ok"), "--token", "t", TO, b"code " + bad],
                                env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CHILD_TIMEOUT)
            tap(cp.stdout.startswith(b"r=EINVAL"), "%s message -> -EINVAL" % desc, cp.stdout)
        res = send(gw.url("/ok"), token="a\nb")
        tap(res.r == "EINVAL", "newline in token -> -EINVAL", res)
        res = send("http://sms.example.invalid/ok")
        tap(res.r == "EINVAL", "plain http to a remote host -> -EINVAL", res)
        tap(len(gw.requests()) == n, "nothing sent for invalid arguments", gw.requests()[n:])


def group_twilio():
    with Gateway() as gw:
        msg = "Your ehr2fa code is 123456 & more=+ é/?"
        token = "AC0123456789abcdef:auth/Tok+en="
        res = drive(["send", "--mode", "twilio", "--url", gw.url("/2010-04-01/Accounts/AC0123/Messages.json"),
                     "--token", token, "--from", "+15550001111", TO, msg])
        req = gw.last()
        tap(res.r == "OK" and res.status == 200, "twilio: 2xx -> 0", res)
        q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
        expect = "To=%s&From=%s&Body=%s" % (q(TO), q("+15550001111"), q(msg))
        tap(req is not None and bytes.fromhex(req["body_hex"]) == expect.encode(), "form body is exactly " + expect,
            req)
        tap(req is not None and urllib.parse.parse_qs(req["body"], strict_parsing=True) ==
            {"To": [TO], "From": ["+15550001111"], "Body": [msg]}, "form body parses back", req)
        h = hdrs(req) if req else {}
        tap(h.get("authorization") == "Basic " + base64.b64encode(token.encode()).decode(),
            "Authorization: Basic base64(SID:TOKEN)", h)
        tap(h.get("content-type") == "application/x-www-form-urlencoded", "form Content-Type", h)
        tap(set(h) == {"host", "user-agent", "accept", "content-type", "authorization", "content-length"},
            "no other headers", sorted(h))
        tap(req is not None and req["path"] == "/2010-04-01/Accounts/AC0123/Messages.json", "path kept", req)

        res = drive(["send", "--mode", "twilio", "--url", gw.url("/ok"), "--token", "AC1:t", "--from", "EHR2FA",
                     TO, "x"])
        tap(res.r == "OK" and urllib.parse.parse_qs(gw.last()["body"])["From"] == ["EHR2FA"],
            "alphanumeric sender ID", res)
        res = drive(["send", "--mode", "twilio", "--url", gw.url("/status/400"), "--token", "AC1:t",
                     "--from", "EHR2FA", TO, "x"])
        tap(res.r == "EREMOTEIO" and res.status == 400, "twilio 400 -> -EREMOTEIO, status 400", res)
        n = len(gw.requests())
        res = drive(["send", "--mode", "twilio", "--url", gw.url("/ok"), "--token", "AC1t", "--from", "EHR2FA",
                     TO, "x"])
        tap(res.r == "EINVAL" and len(gw.requests()) == n, "token without ':' -> -EINVAL, nothing sent", res)


def group_errors():
    with Gateway() as gw:
        for timeout_ms in (1500, 700):
            res = drive(["send", "--url", gw.url("/hang"), "--token", "t", "--timeout-ms", str(timeout_ms), TO, "x"])
            tap(res.r == "ETIMEDOUT" and res.rc == 1 and res.fields.get("fds_leaked") == "0",
                "gateway accepts, never answers -> -ETIMEDOUT (no descriptor left open)", res)
            # The bound is on the call itself; the process around it only gets a loose check, so
            # that a loaded machine (sanitizers, parallel tests) does not make this flaky.
            tap(res.elapsed_ms is not None and timeout_ms - 100 <= res.elapsed_ms < timeout_ms + 1000
                and res.wall_ms < timeout_ms + 5000,
                "returns within timeout + 1 s (timeout %d ms, took %s ms in the call, %d ms wall)"
                % (timeout_ms, res.elapsed_ms, res.wall_ms), res)
        tap(gw.requests() and gw.requests()[-1]["path"] == "/hang", "the hung request reached the gateway")
        res = drive(["send", "--url", gw.url("/stall"), "--token", "t", "--timeout-ms", "1000", TO, "x"])
        tap(res.r == "ETIMEDOUT" and res.elapsed_ms < 2000, "200 then a body that never comes -> -ETIMEDOUT", res)

        for code in (500, 503, 404, 401, 429):
            res = send(gw.url("/status/%d" % code))
            tap(res.r == "EREMOTEIO" and res.status == code and res.rc == 1, "%d -> -EREMOTEIO, status %d" % (code, code),
                res)
        res = send(gw.url("/big500"))
        tap(res.r == "EREMOTEIO" and res.status == 500 and "BODY-MARKER" not in res.out + res.err,
            "500 with a 1 MiB body -> -EREMOTEIO, body not printed", res)

        n = len(gw.requests())
        res = send(gw.url("/redirect"))
        tap(res.r == "EREMOTEIO" and res.status == 302, "302 -> -EREMOTEIO, status 302", res)
        tap(len(gw.requests()) == n + 1, "the redirect is not followed", gw.requests()[n:])

    with not_http() as port:
        res = send("http://127.0.0.1:%d/ok" % port)
        tap(res.r == "EBADE" and res.status == 0, "an answer that is not HTTP -> -EBADE, not -EREMOTEIO", res)

    with closed_port() as port:
        res = send("http://127.0.0.1:%d/ok" % port)
        tap(res.r == "ECONNREFUSED" and res.status == 0, "closed port -> -ECONNREFUSED", res)
        tap(res.fields.get("fds_leaked") == "0", "no descriptor left open after a failure", res)

    with full_backlog() as port:
        res = drive(["send", "--url", "http://127.0.0.1:%d/ok" % port, "--token", "t", "--connect-timeout-ms", "800",
                     "--timeout-ms", "8000", TO, "x"])
        if res.r == "ETIMEDOUT":
            tap(res.elapsed_ms < 1800, "connect never completes -> -ETIMEDOUT after the connect timeout (%d ms)"
                % res.elapsed_ms, res)
        else:
            skip("connect timeout", "this kernel completed the connect despite a full backlog (%s)" % res.r)


def group_proxy():
    with Gateway() as gw, closed_port() as dead:
        dead_url = "http://127.0.0.1:%d/" % dead
        env = {v: dead_url for v in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                     "ALL_PROXY")}
        curl = shutil.which("curl")
        if curl:
            cp = subprocess.run([curl, "-s", "-o", "/dev/null", "-m", "10", gw.url("/control")], env=clean_env(env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CHILD_TIMEOUT)
            tap(cp.returncode != 0, "control: curl(1) with the same environment goes to the dead proxy (exit %d)"
                % cp.returncode)
        else:
            skip("control: curl(1) honours the proxy variables", "no curl(1)")
        n = len(gw.requests())
        res = send(gw.url("/ok"), env=env)
        tap(res.r == "OK" and len(gw.requests()) == n + 1 and gw.last()["path"] == "/ok",
            "http_proxy/HTTPS_PROXY/ALL_PROXY pointing at a dead proxy are ignored", res)

        res = send(gw.url("/ok"), extra=["--proxy", dead_url])
        tap(res.r == "ECONNREFUSED", "a configured proxy is used: dead proxy -> -ECONNREFUSED", res)

        # The gateway doubles as an HTTP proxy: a proxied request arrives in absolute form.
        target = "http://127.0.0.1:%d/via-proxy" % dead
        res = send(target, extra=["--proxy", gw.url("")])
        tap(res.r == "OK" and gw.last()["path"] == target, "the configured proxy carries the request", res)
        res = send(target, extra=["--proxy", gw.url("")], env={"no_proxy": "*", "NO_PROXY": "*"})
        tap(res.r == "OK" and gw.last()["path"] == target, "no_proxy=* does not route around the configured proxy",
            res)
        res = send(gw.url("/ok"), extra=["--proxy", "http://sms-proxy.example.org:3128"])
        tap(res.r == "EINVAL", "plain http through a non-loopback proxy -> -EINVAL", res)


def group_tls():
    if not args.openssl:
        skip("tls", "no openssl(1)")
        return
    d = tempfile.mkdtemp(dir=tmpdir)

    def mkcert(name, cn="localhost", san="DNS:localhost,IP:127.0.0.1,IP:::1"):
        cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
        subprocess.run([args.openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=" + cn,
                        "-addext", "subjectAltName=" + san],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=CHILD_TIMEOUT)
        return cert, key

    good = mkcert("gw")
    other = mkcert("other")
    wrong_name = mkcert("wrongname", cn="sms.example.org", san="DNS:sms.example.org")
    with Gateway(tls=good) as gw:
        res = send(gw.url("/ok", "https"), extra=["--ca-file", good[0]])
        req = gw.last()
        tap(res.r == "OK" and res.status == 200, "https with ca_file = the self-signed cert -> 0", res)
        tap(req is not None and json.loads(req["body"])["to"] == TO, "the request arrived over TLS", req)
        res = send(gw.url("/ok", "https", "localhost"), extra=["--ca-file", good[0]])
        tap(res.r == "OK", "https://localhost verifies by name", res)
        n = len(gw.requests())
        res = send(gw.url("/ok", "https"))
        tap(res.r == "EKEYREJECTED" and res.rc == 1, "self-signed without ca_file -> -EKEYREJECTED", res)
        res = send(gw.url("/ok", "https"), extra=["--ca-file", other[0]])
        tap(res.r == "EKEYREJECTED", "ca_file of another CA -> -EKEYREJECTED", res)
        tap(len(gw.requests()) == n, "nothing reached the gateway without verification", gw.requests()[n:])
        res = send(gw.url("/ok", "https"), extra=["--ca-file", os.path.join(d, "missing.pem")])
        tap(res.r == "EINVAL", "ca_file that does not exist -> -EINVAL", res)
        res = send(gw.url("/status/500", "https"), extra=["--ca-file", good[0]])
        tap(res.r == "EREMOTEIO" and res.status == 500, "https 500 -> -EREMOTEIO", res)
        with closed_port() as dead:
            env = {"https_proxy": "http://127.0.0.1:%d/" % dead, "HTTPS_PROXY": "http://127.0.0.1:%d/" % dead}
            res = send(gw.url("/ok", "https"), extra=["--ca-file", good[0]], env=env)
            tap(res.r == "OK", "https_proxy in the environment is ignored for https too", res)
    with Gateway(tls=wrong_name) as gw:
        res = send(gw.url("/ok", "https"), extra=["--ca-file", wrong_name[0]])
        tap(res.r == "EKEYREJECTED", "trusted cert for another host name -> -EKEYREJECTED", res)
    with Gateway(tls=good) as gw:
        res = drive(["send", "--url", gw.url("/hang", "https"), "--token", "t", "--ca-file", good[0],
                     "--timeout-ms", "1000", TO, "x"])
        tap(res.r == "ETIMEDOUT" and res.elapsed_ms < 2000, "https gateway that never answers -> -ETIMEDOUT", res)
    group_tls_environment(good)


def group_tls_environment(good):
    """The caller's environment reaches libcurl and OpenSSL in-process (they read it when
    they start); through ehr2fa-sms-send, as the module sends, none of it does, from
    many threads of one host at once (posix_spawn(), no setenv())."""
    marker, keylog = os.path.join(tmpdir, "provider-loaded"), os.path.join(tmpdir, "tls-keys")
    cnf = write_file(os.path.join(tmpdir, "hostile.cnf"),
                     "openssl_conf = init\n[init]\nproviders = provs\n[provs]\nevil = evil_sect\n"
                     "[evil_sect]\nmodule = %s\nactivate = 1\n" % args.marker_provider, 0o644)
    hostile = {"OPENSSL_CONF": cnf, "EHR2FA_TEST_MARKER": marker, "SSLKEYLOGFILE": keylog,
               "OPENSSL_MODULES": tmpdir, "OPENSSL_ENGINES": tmpdir, "SSL_CERT_DIR": tmpdir,
               "CURL_CA_BUNDLE": good[0], "CURL_SSL_BACKEND": "none"}
    with Gateway(tls=good) as gw:
        res = send(gw.url("/ok", "https"), extra=["--ca-file", good[0]], env=hostile)
        tap(os.path.exists(marker), "in-process, a caller's OPENSSL_CONF loads its provider (what the child prevents)",
            res)
        for f in (marker, keylog):
            if os.path.exists(f):
                os.unlink(f)
        n = len(gw.requests())
        res = send(gw.url("/ok", "https"), extra=["--ca-file", good[0], "--sender", args.sender, "--threads", "8"],
                   env=hostile)
        tap(res.r == "OK" and len(gw.requests()) == n + 8, "8 threads send through ehr2fa-sms-send at once", res)
        tap(not os.path.exists(marker), "through ehr2fa-sms-send the caller's OPENSSL_CONF has no effect", res)
        tap(not os.path.exists(keylog), "through ehr2fa-sms-send the caller's SSLKEYLOGFILE has no effect", res)
        tap(res.fields.get("fds_leaked") == "0", "no descriptor left open by the child's sends", res)
        # A caller's SSL_CERT_FILE cannot make the child trust the caller's certificate.
        res = send(gw.url("/ok", "https"), extra=["--sender", args.sender], env=dict(hostile, SSL_CERT_FILE=good[0]))
        tap(res.r == "EKEYREJECTED", "the caller's SSL_CERT_FILE is not trusted (sms_ca_file is)", res)
        res = send(gw.url("/status/500", "https"), extra=["--ca-file", good[0], "--sender", args.sender])
        tap(res.r == "EREMOTEIO" and res.status == 500, "the child's answer carries the status back", res)
    res = send("http://127.0.0.1:9/ok", extra=["--sender", "/nonexistent/ehr2fa-sms-send"])
    tap(res.r == "ECHILD", "a sender that cannot run -> -ECHILD", res)


GROUPS = {"unit": group_unit, "generic": group_generic, "twilio": group_twilio, "errors": group_errors,
          "proxy": group_proxy, "tls": group_tls}


def main():
    global args, tmpdir
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--openssl")
    ap.add_argument("--sender", required=True)
    ap.add_argument("--marker-provider", required=True)
    ap.add_argument("group", choices=sorted(GROUPS))
    args = ap.parse_args()
    args.driver = os.path.abspath(args.driver)
    args.sender = os.path.abspath(args.sender)
    args.marker_provider = os.path.abspath(args.marker_provider)

    # Turn meson's SIGTERM (its timeout) into an exception so the finally blocks stop the gateways.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmpdir = tempfile.mkdtemp(prefix="ehr2fa-sms-")
    try:
        GROUPS[args.group]()
    except Exception as e:  # report, do not hang
        tap(False, "%s: unexpected %s: %s" % (args.group, type(e).__name__, e))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
        print("1..%d" % counter)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
