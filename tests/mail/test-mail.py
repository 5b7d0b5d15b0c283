#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Behaviour tests of core/mail*.c through tests/mail/mail-send.c and smtpd.py.

usage: test-mail.py --driver MAIL_SEND --smtpd SMTPD_PY --sender EHR2FA_MAIL_SEND
                    [--openssl OPENSSL] GROUP
GROUP: unit, send, errors, tls. Output is TAP. Every child runs under a timeout and
every server is stopped on the way out.
"""

import argparse
import email
import email.policy
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ehrtest import have_aiosmtpd, mails, smtpd as smtpd_in  # noqa: E402

args = None
counter = 0
failed = 0
tmpdir = None


def tap(ok, desc, diag=None):
    global counter, failed
    counter += 1
    failed += 0 if ok else 1
    print("%s %d - %s" % ("ok" if ok else "not ok", counter, desc))
    if diag is not None and not ok:
        for line in str(diag).splitlines():
            print("# " + line)
    sys.stdout.flush()
    return ok


def skip(desc, why):
    global counter
    counter += 1
    print("ok %d - %s # SKIP %s" % (counter, desc, why))


def smtpd(mode="accept", **kw):
    return smtpd_in(tmpdir, mode, **kw)


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def conf(url, extra=""):
    return write(os.path.join(tmpdir, "ehr2fa.conf"),
                 "mail_url = %s\nmail_from = ehr2fa@example.org\nmail_sender = %s\nissuer = Example Clinic\n%s"
                 % (url, args.sender, extra), 0o644)


def run(*a, timeout=60):
    p = subprocess.run([args.driver] + list(a), capture_output=True, timeout=timeout, env={"PATH": "/usr/bin:/bin"})
    return (p.stdout + p.stderr).decode("utf-8", "replace")  # bytes: keep the CRLFs as they are


def send(confpath, to=("alice@example.org",), subject="Password reset", body="Hello.\n"):
    bodyfile = write(os.path.join(tmpdir, "body"), body)
    t0 = time.monotonic()
    out = run("send", confpath, subject, bodyfile, *to)
    m = re.search(r"r=(\w+) status=(\d+)", out)
    return (m.group(1) if m else out), (int(m.group(2)) if m else -1), time.monotonic() - t0


def group_unit():
    for a in ("alice@example.org", "a.b+tag@mail.example.org", "x_y-z@localhost"):
        tap(run("address", a).strip() == "valid", "address %s is accepted" % a)
    for a in ("alice@example.org>\r\nBcc: evil@example.net", "a,b@example.org", "a b@example.org",
              '"q"@example.org', "alice@exa mple.org", "ålice@example.org", "alice@", "@example.org",
              "a..b@example.org", "alice@example.org,evil@example.net", "<alice@example.org>"):
        tap(run("address", a).strip() == "invalid", "address %r is refused" % a)
    body = write(os.path.join(tmpdir, "b"), "Line one\n.\nBcc: evil@example.net\n")
    msg = run("build", "ehr2fa@example.org", "Example Clinic", "Reset", body, "alice@example.org",
              "bob@example.org")
    tap("\r\nTo: alice@example.org, bob@example.org\r\n" in msg, "To lists both recipients", msg)
    tap(msg.startswith("Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"), "Date is RFC 5322, in UTC", msg)
    tap(re.search(r"\r\nMessage-ID: <[0-9a-f]{32}@example\.org>\r\n", msg) is not None,
        "Message-ID is random, at the sender's domain", msg)
    tap("\r\nFrom: Example Clinic <ehr2fa@example.org>\r\n" in msg, "From has the issuer as its name", msg)
    head, _, rest = msg.partition("\r\n\r\n")
    tap("Bcc" not in head and "Bcc: evil@example.net" in rest, "a header-like body line stays in the body", msg)
    tap(all(line.endswith("\r") or line == "" for line in msg.split("\n")[:-1]), "every line ends in CRLF", msg)
    parsed = email.message_from_string(msg.replace("\r\n", "\n"), policy=email.policy.default)
    out = run("build", "ehr2fa@example.org", "Klinik Müller", "Passwort zurücksetzen", write(
        os.path.join(tmpdir, "b2"), "Grüße, Ärztin\n"), "alice@example.org")
    p2 = email.message_from_string(out.replace("\r\n", "\n"), policy=email.policy.default)
    tap(p2["Subject"] == "Passwort zurücksetzen" and "=?UTF-8?B?" in out, "a non-ASCII subject is encoded", out)
    tap(p2["From"].addresses[0].display_name == "Klinik Müller", "a non-ASCII display name is encoded", out)
    tap(p2.get_content() == "Grüße, Ärztin\n" and "base64" in out, "a non-ASCII body goes in base64", out)
    tap(parsed.get_content().startswith("Line one\n.\n"), "the body reads back", msg)
    tap(run("build", "ehr2fa@example.org", "", "Reset\r\nBcc: evil@example.net", body, "alice@example.org")
        .strip() == "r=EINVAL", "a subject with a line break is refused")
    tap(run("build", "ehr2fa@example.org", "", "Reset", body, "alice@example.org\nBcc: x@y.z").strip()
        == "r=EINVAL", "a recipient with a line break is refused")
    tap(run("build", "ehr2fa@example.org", "", "Reset", write(os.path.join(tmpdir, "b3"), "a\x1b[2Jb\n"),
            "alice@example.org").strip() == "r=EINVAL", "a body with a control character is refused")
    # Settings.
    for url, extra, want, what in (
            ("", "", "EOPNOTSUPP", "no mail_url: no mail"),
            ("https://mail.example.org", "", "EINVAL", "an http URL"),
            ("smtp://user:pw@mail.example.org", "", "EINVAL", "credentials inside the URL"),
            ("smtp://mail.example.org", "", "OK", "smtp:// (STARTTLS)"),
            ("smtps://mail.example.org:465", "", "OK", "smtps://"),
            ("smtp://mail.example.org", "mail_allow_plain = yes\nmail_credentials_file = %s\n"
             % write(os.path.join(tmpdir, "creds"), "u:p\n"), "EINVAL",
             "a password in the clear to another host"),
            ("smtp://127.0.0.1:25", "mail_allow_plain = yes\nmail_credentials_file = %s\n"
             % write(os.path.join(tmpdir, "creds"), "u:p\n"), "OK", "a password in the clear to this host"),
            ("smtp://mail.example.org", "mail_credentials_file = %s\n"
             % write(os.path.join(tmpdir, "creds-open"), "u:p\n", 0o644), "ENOTUNIQ",
             "a credentials file readable by others"),
            ("smtp://mail.example.org", "mail_credentials_file = %s\n"
             % write(os.path.join(tmpdir, "creds-bad"), "no-colon\n"), "EINVAL", "credentials without USER:"),
    ):
        c = write(os.path.join(tmpdir, "ehr2fa.conf"), ("mail_url = %s\n" % url if url else "")
                  + "mail_from = ehr2fa@example.org\n" + extra, 0o644)
        out = run("check", c)
        tap(out.strip().endswith("r=" + want), "check: %s gives %s" % (what, want), out)


def group_send():
    if not have_aiosmtpd():
        return skip("sending", "python3-aiosmtpd is not installed (scripts/deps.sh)")
    with smtpd() as (port, d):
        c = conf("smtp://127.0.0.1:%d" % port, "mail_allow_plain = yes\n")
        r, status, _ = send(c, to=("alice@example.org", "bob@example.org"),
                            body="Dear Alice,\n.\n..two dots\nThanks.\n")
        tap(r == "OK" and status == 250, "a message is accepted (250)", (r, status))
        got = mails(d)
        tap(len(got) == 1 and got[0]["from"] == "ehr2fa@example.org"
            and got[0]["to"] == ["alice@example.org", "bob@example.org"], "envelope: sender and both recipients", got)
        m = email.message_from_string(got[0]["data"].replace("\r\n", "\n"), policy=email.policy.default) if got else None
        tap(m is not None and m.get_content() == "Dear Alice,\n.\n..two dots\nThanks.\n",
            "lines starting with dots arrive intact (dot-stuffing)", got)
        tap(m is not None and m["Subject"] == "Password reset" and m["Message-ID"] and m["Date"],
            "Subject, Message-ID and Date arrive", got)
        tap(not got[0]["tls"], "mail_allow_plain = yes: cleartext", got)
        c = conf("smtp://127.0.0.1:%d" % port)
        r, _, _ = send(c)
        tap(r == "EKEYREJECTED", "smtp:// without mail_allow_plain requires STARTTLS: a server without it is refused",
            r)
        tap(len(mails(d)) == 1, "nothing was sent in the clear")
    with smtpd(user="relay", password="s3cret:pass") as (port, d):
        creds = write(os.path.join(tmpdir, "creds"), "relay:s3cret:pass\n")
        c = conf("smtp://127.0.0.1:%d" % port, "mail_allow_plain = yes\nmail_credentials_file = %s\n" % creds)
        r, status, _ = send(c)
        tap(r == "OK" and len(mails(d)) == 1 and mails(d)[0]["auth"], "AUTH with the credentials file", (r, status))
        write(creds, "relay:wrong\n")
        r, status, _ = send(c)
        tap(r == "EREMOTEIO" and status == 535, "wrong credentials: EREMOTEIO, SMTP 535", (r, status))
        c = conf("smtp://127.0.0.1:%d" % port, "mail_allow_plain = yes\n")
        r, status, _ = send(c)
        tap(r == "EREMOTEIO" and status >= 500, "no credentials where AUTH is required: refused", (r, status))


def group_errors():
    if not have_aiosmtpd():
        return skip("errors", "python3-aiosmtpd is not installed (scripts/deps.sh)")
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    c = conf("smtp://127.0.0.1:%d" % port, "mail_allow_plain = yes\n")
    r, _, t = send(c)
    tap(r == "ECONNREFUSED" and t < 5, "server down: ECONNREFUSED at once (%.2f s)" % t, r)
    with smtpd("hang") as (port, d):
        c = conf("smtp://127.0.0.1:%d" % port, "mail_allow_plain = yes\nmail_timeout_ms = 1500\n")
        r, _, t = send(c)
        tap(r == "ETIMEDOUT" and 1.4 < t < 5, "server hangs: ETIMEDOUT within mail_timeout_ms (%.2f s)" % t, r)
    with smtpd("refuse") as (port, d):
        c = conf("smtp://127.0.0.1:%d" % port, "mail_allow_plain = yes\n")
        r, status, _ = send(c)
        tap(r == "EREMOTEIO" and status == 550, "recipient refused: EREMOTEIO, SMTP 550", (r, status))
        tap(mails(d) == [], "nothing delivered")
    with smtpd("greet-refuse") as (port, d):
        c = conf("smtp://127.0.0.1:%d" % port, "mail_allow_plain = yes\n")
        r, status, _ = send(c)
        tap(r == "EREMOTEIO" and status == 554, "refused at the greeting: EREMOTEIO, SMTP 554", (r, status))
    c = write(os.path.join(tmpdir, "ehr2fa.conf"), "mail_url = smtp://127.0.0.1:%d\nmail_from = a@example.org\n"
              "mail_allow_plain = yes\nmail_sender = /nonexistent/ehr2fa-mail-send\n" % port, 0o644)
    r, _, _ = send(c)
    tap(r == "ECHILD", "the sender cannot run: ECHILD", r)


def make_cert():
    cert, key = os.path.join(tmpdir, "cert.pem"), os.path.join(tmpdir, "key.pem")
    subprocess.run([args.openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def group_tls():
    if not have_aiosmtpd():
        return skip("tls", "python3-aiosmtpd is not installed (scripts/deps.sh)")
    if not args.openssl:
        return skip("tls", "no openssl to make a certificate")
    cert, key = make_cert()
    with smtpd(cert=cert, key=key, user="relay", password="pw") as (port, d):
        creds = write(os.path.join(tmpdir, "creds"), "relay:pw\n")
        c = conf("smtp://localhost:%d" % port, "mail_ca_file = %s\nmail_credentials_file = %s\n" % (cert, creds))
        r, status, _ = send(c)
        got = mails(d)
        tap(r == "OK" and len(got) == 1 and got[0]["tls"] and got[0]["auth"],
            "STARTTLS with the configured CA, then AUTH", (r, status, got))
        c = conf("smtp://localhost:%d" % port, "mail_credentials_file = %s\n" % creds)
        r, _, _ = send(c)
        tap(r == "EKEYREJECTED" and len(mails(d)) == 1, "a certificate the system does not trust is refused", r)
        c = conf("smtp://localhost:%d" % port, "mail_allow_plain = yes\nmail_credentials_file = %s\n" % creds)
        r, status, _ = send(c)
        tap(r == "EREMOTEIO" and len(mails(d)) == 1,
            "mail_allow_plain = yes to a server that requires STARTTLS: refused by it", (r, status))


def main():
    global args, tmpdir
    p = argparse.ArgumentParser()
    p.add_argument("--driver", required=True)
    p.add_argument("--smtpd")  # tests/mail/smtpd.py; ehrtest.SMTPD finds it
    p.add_argument("--sender", required=True)
    p.add_argument("--openssl")
    p.add_argument("group")
    args = p.parse_args()
    args.sender = os.path.abspath(args.sender)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmpdir = tempfile.mkdtemp(prefix="ehr2fa-mail-")
    try:
        {"unit": group_unit, "send": group_send, "errors": group_errors, "tls": group_tls}[args.group]()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    print("1..%d" % counter)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
