#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The forgotten-password reset (seed 003), end to end, against a real SMTP server
on 127.0.0.1 (Debian's python3-aiosmtpd, tests/mail/smtpd.py) that captures the
mail: "password forgot" with a known and an unknown address (the same answer in
the same time), the code from the captured mail, "password reset" (mismatch,
policy, success, reuse, a newer code, expiry by the test helper's clock), trusted
devices gone, the rate limits, "password send-reset" by a manager with the mail
server down, hanging or refusing, and the new password accepted by pam_unix
through the shadow snapshot in a private mount namespace."""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ehrtest  # noqa: E402
from ehrtest import (ADMIN, EnvTestCase, copy_for_others, have_aiosmtpd, mails, oath, pam_wrapper_lock,  # noqa: E402
                     smtpd)

MAIL_SENDER = os.path.abspath(os.environ.get("EHR2FA_MAIL_SENDER",
                                             os.path.join(ehrtest.BUILD, "mail", "ehr2fa-mail-send")))
HELPER_TEST = os.path.abspath(os.environ.get("EHR2FA_HELPER_TEST",
                                             os.path.join(os.path.dirname(ADMIN), "ehr2fa-helper-test")))
NOBODY = 65534
ANSWER = ("We've e-mailed you instructions for resetting your password to your e-mail address.\n"
          "You should receive it shortly.\n")
NEW = "lantern-orchard-57-quietly"
TOKEN = re.compile(r"\b[a-z2-7]{4}(?:-[a-z2-7]{4}){7}\b")


def check_prerequisites():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (the store, setpriv, a mount namespace)")
    if not have_aiosmtpd():
        raise unittest.SkipTest("python3-aiosmtpd is not installed (scripts/deps.sh)")


def token_of(mail):
    m = TOKEN.search(mail["data"])
    if not m:
        raise AssertionError("no reset code in the mail:\n" + mail["data"])
    return m.group(0)


class Base(EnvTestCase):
    service = "login"  # trust is offered at logins: a reset must void it
    mail_mode = "accept"
    extra = ""

    def setUp(self):
        super().setUp()
        self.server = smtpd(self.env.dir, self.mail_mode)
        self.port, self.maildir = self.server.__enter__()
        self.breached = os.path.join(self.env.dir, "breached.txt")
        with open(self.breached, "w") as f:
            f.write("# known breached\nletmein-letmein\nqwertyuiop123\n")
        self.configure(f"mail_url = smtp://127.0.0.1:{self.port}\n")
        self.env.add_user("drsmith")
        self.env.admin("user", "add", "nurse1", "--email", "nurse1@example.org", "--role", "staff")

    def configure(self, mail, extra=""):
        self.env.write_conf(f"{mail}mail_allow_plain = yes\nmail_from = ehr2fa@example.org\n"
                            f"mail_sender = {MAIL_SENDER}\nmail_timeout_ms = 2000\nissuer = Example Clinic\n"
                            f"password_breached_list = {self.breached}\nreset_answer_ms = 1500\n{self.extra}{extra}")

    def tearDown(self):
        self.server.__exit__(None, None, None)
        super().tearDown()

    def forgot(self, email, **kw):
        t0 = time.monotonic()
        r = self.env.admin("password", "forgot", input=email + "\n", check=False, **kw)
        r.elapsed = time.monotonic() - t0
        return r

    def wait_mails(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while len(mails(self.maildir)) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        got = mails(self.maildir)
        self.assertEqual(len(got), n, got)
        return got

    def reset(self, code, pw=NEW, again=None, **kw):
        return self.env.admin("password", "reset", input=f"{code}\n{pw}\n{again or pw}\n", check=False, **kw)

    def actions(self, user=None, timeout=0):
        deadline = time.monotonic() + timeout
        while True:
            rows = [(a["action"], a["details"]) for a in self.env.audit(user)]
            if timeout == 0 or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)

    def wait_action(self, action, user=None, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = [(a["action"], a["details"]) for a in self.env.audit(user)]
            if any(a == action for a, _ in rows):
                return rows
            time.sleep(0.1)
        raise AssertionError(f"no audit row {action!r}: {rows}")

    def shadow_line(self, login):
        with open(os.path.join(self.env.dir, "nss", "shadow")) as f:
            return next((line for line in f.read().splitlines() if line.startswith(login + ":")), None)


class Flow(Base):
    def test_whole_reset_from_the_mail(self):
        r = self.forgot("DrSmith@Example.org")  # any case: it is the same address
        self.assertEqual((r.returncode, r.stdout.splitlines()[-2:]), (0, ANSWER.splitlines()), r.stderr)
        mail = self.wait_mails(1)[0]
        self.assertEqual(mail["to"], ["drsmith@example.org"])
        self.assertIn("Subject: Password reset on Example Clinic", mail["data"])
        self.assertIn("Your username, in case you've forgotten: drsmith", mail["data"])
        self.assertIn("ehr2fa-admin password reset", mail["data"])
        code = token_of(mail)
        self.assertTrue(self.shadow_line("drsmith").startswith("drsmith:!:"))

        r = self.reset(code, NEW, NEW + "x")
        self.assertIn("the passwords do not match; nothing was changed", r.stderr)
        r = self.reset(code, "short")
        self.assertIn("too short", r.stderr)
        self.assertIn("the code still works", r.stderr)
        r = self.reset(code, "letmein-letmein")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Nothing was changed", r.stderr)
        r = self.reset(code.upper().replace("-", " "), "drsmith-is-my-name")  # contains the login
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(self.shadow_line("drsmith").startswith("drsmith:!:"))

        r = self.reset(code.upper().replace("-", " "))  # case and separators do not matter
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Your password has been changed, drsmith.", r.stdout)
        self.assertRegex(self.shadow_line("drsmith"), r"^drsmith:\$y\$[^:]+:\d+:")
        actions = [a for a, _ in self.actions("drsmith")]
        for a in ("password reset requested", "password reset mail sent", "password reset code used", "password set"):
            self.assertIn(a, actions)

        r = self.reset(code, "another-long-passphrase-9")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("this reset code is not valid: it was already used", r.stderr)
        self.assertIn(("password reset refused", "an unknown or already used reset code"), self.actions())

    def test_a_newer_code_voids_the_older(self):
        self.forgot("drsmith@example.org")
        first = token_of(self.wait_mails(1)[0])
        self.forgot("drsmith@example.org")
        second = token_of(self.wait_mails(2)[1])
        self.assertNotEqual(first, second)
        self.assertIn("already used, or replaced by a newer one", self.reset(first).stderr)
        self.assertEqual(self.reset(second).returncode, 0)

    def test_not_a_code(self):
        r = self.reset("hello")
        self.assertIn("that is not a reset code", r.stderr)
        r = self.reset("a" * 32)  # the shape of one, never issued
        self.assertIn("this reset code is not valid", r.stderr)

    def test_trusted_devices_and_other_codes_go(self):
        self.assertLoginOK(self.env.login("drsmith", oath(), "y"))
        self.assertIn('"id"', self.env.admin("--json", "device", "list", "drsmith").stdout)
        r = self.env.admin("password", "send-reset", "drsmith")  # root: a manager's code too
        self.assertEqual(r.returncode, 0)
        other = token_of(self.wait_mails(1)[0])
        self.forgot("drsmith@example.org")
        code = token_of(self.wait_mails(2)[1])
        self.assertIn("replaced by a newer one", self.reset(other).stderr)
        self.assertEqual(self.reset(code).returncode, 0)
        self.assertEqual(self.env.admin("--json", "device", "list", "drsmith").stdout.strip(), "[]")
        self.assertIn(("password reset code used", "every other reset code and 1 trusted device(s) voided"),
                      self.actions("drsmith"))

    def test_a_2fa_only_record_gets_no_mail(self):
        """The password of an account the host already has is the host's: no code for it."""
        self.env.admin("user", "add", "nobody", "--existing", "--email", "nobody@example.org", "--role", "staff")
        r = self.forgot("nobody@example.org")
        self.assertEqual((r.returncode, r.stdout.splitlines()[-2:]), (0, ANSWER.splitlines()))
        time.sleep(1)
        self.assertEqual(mails(self.maildir), [])
        r = self.env.admin("password", "send-reset", "nobody", check=False)
        self.assertIn("is a 2FA-only record: the password is the host's", r.stderr)


class SameAnswer(Base):
    extra = "reset_max_per_hour = 50\nreset_source_max_per_hour = 100\n"

    def test_unknown_address_same_answer_same_time(self):
        known, unknown = [], []
        for i in range(4):
            k = self.forgot("drsmith@example.org")
            u = self.forgot(f"someone{i}@example.org")
            self.assertEqual((k.returncode, k.stdout), (u.returncode, u.stdout))
            self.assertEqual(k.stderr, u.stderr)
            known.append(k.elapsed)
            unknown.append(u.elapsed)
        self.assertEqual(len(self.wait_mails(4)), 4)  # the known address only
        d = abs(statistics.median(known) - statistics.median(unknown))
        print(f"\nforgot: known {statistics.median(known):.3f} s, unknown {statistics.median(unknown):.3f} s "
              f"(median of 4), difference {d * 1000:.1f} ms", file=sys.stderr)
        self.assertLess(d, 0.1)
        self.assertTrue(all(1.5 <= t < 3 for t in known + unknown), (known, unknown))
        self.assertIn(("password reset requested", "no managed account has the address someone0@example.org"),
                      self.actions())

    def test_mail_server_down_same_answer(self):
        self.server.__exit__(None, None, None)
        self.server = smtpd(self.env.dir, "hang")
        self.port, self.maildir = self.server.__enter__()
        self.configure(f"mail_url = smtp://127.0.0.1:{self.port}\n")
        k = self.forgot("drsmith@example.org")
        u = self.forgot("someone@example.org")
        self.assertEqual((k.returncode, k.stdout), (u.returncode, u.stdout))
        self.assertLess(abs(k.elapsed - u.elapsed), 0.1, (k.elapsed, u.elapsed))
        self.assertLess(k.elapsed, 3)  # the hanging server is waited for by the detached sender only
        rows = self.wait_action("password reset mail failed", "drsmith")
        self.assertTrue(any(a == "password reset mail failed" and "time" in d for a, d in rows), rows)


class RateLimits(Base):
    extra = "reset_max_per_hour = 2\nreset_source_max_per_hour = 4\n"

    def test_per_address_then_per_source(self):
        for _ in range(2):
            self.assertEqual(self.forgot("drsmith@example.org").returncode, 0)
        r = self.forgot("DRSMITH@example.org")
        self.assertEqual(r.returncode, 1)
        self.assertIn("too many password reset requests", r.stderr)
        self.assertEqual(len(self.wait_mails(2)), 2)
        # Unknown addresses are counted the same way: the limit says nothing about them.
        for i in range(2):
            self.assertEqual(self.forgot(f"x{i}@example.org").returncode, 0)
        r = self.forgot("x9@example.org")  # the fifth from this uid on this host
        self.assertIn("too many password reset requests", r.stderr)
        self.assertEqual(self.actions().count(("password reset refused", "rate limited: too many requests for "
                                               "x9@example.org or from uid 0 on this host")), 1)


class SendReset(Base):
    def setUp(self):
        super().setUp()
        self.env.admin("user", "add", "mgr", "--email", "mgr@example.org")
        self.env.admin("perm", "grant", "mgr", "manage_accounts")
        self.env.admin("user", "add", "desk", "--email", "desk@example.org")
        self.env.admin("perm", "grant", "desk", "help_desk")

    def test_manager_sends_only_the_mail(self):
        r = self.env.admin("password", "send-reset", "drsmith", as_user="mgr", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Only drsmith can choose the new password", r.stdout)
        mail = self.wait_mails(1)[0]
        self.assertIn("An account manager (mgr) had it sent to you", mail["data"])
        self.assertEqual(self.reset(token_of(mail)).returncode, 0)
        r = self.env.admin("password", "send-reset", "drsmith", as_user="desk", check=False)
        self.assertEqual(r.returncode, 6, r.stderr)
        # There is no verb that takes another person's login and a password.
        for args in (("password", "reset", "drsmith"), ("password", "set", "drsmith"), ("password", "forgot", "x")):
            self.assertEqual(self.env.admin(*args, as_user="mgr", input=NEW + "\n", check=False).returncode, 2)

    def failing(self, mode, expect, max_sec):
        self.server.__exit__(None, None, None)
        if mode == "down":
            import socket
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            self.server = smtpd(self.env.dir)
            self.server.__enter__()
        else:
            self.server = smtpd(self.env.dir, mode)
            port, _ = self.server.__enter__()
        self.configure(f"mail_url = smtp://127.0.0.1:{port}\n")
        t0 = time.monotonic()
        r = self.env.admin("password", "send-reset", "drsmith", as_user="mgr", check=False)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.returncode, 1)
        self.assertIn(expect, r.stderr)
        self.assertLess(elapsed, max_sec)
        self.assertTrue(any(a == "password reset mail failed" for a, _ in self.actions("drsmith")))

    def test_server_down(self):
        self.failing("down", "the mail server is down (connection refused)", 3)

    def test_server_hangs(self):
        self.failing("hang", "the mail server did not answer in time", 2 + 3 + 2)

    def test_server_refuses(self):
        self.failing("refuse", "the mail server refused it (SMTP 550)", 3)

    def test_no_mail_configured(self):
        self.configure("")
        r = self.env.admin("password", "send-reset", "drsmith", as_user="mgr", check=False)
        self.assertIn("this host sends no mail", r.stderr)
        r = self.forgot("drsmith@example.org")
        self.assertIn("this host sends no mail", r.stderr)


@unittest.skipUnless(shutil.which("setpriv"), "needs setpriv")
class Unprivileged(Base):
    """Anyone may ask and reset, with no login of their own: through the setuid helper."""

    def setUp(self):
        super().setUp()
        self.bindir = tempfile.mkdtemp(prefix="ehr2fa-helper-")
        os.chmod(self.env.dir, 0o755)
        self.admin_copy, helper = copy_for_others(self.bindir, ADMIN, HELPER_TEST)
        self.helper = os.path.join(self.bindir, "ehr2fa-helper")
        os.rename(helper, self.helper)
        os.chown(self.helper, 0, 0)
        os.chmod(self.helper, 0o4755)

    def tearDown(self):
        shutil.rmtree(self.bindir, ignore_errors=True)
        super().tearDown()

    def as_nobody(self, args, input, now=None):
        env = {"PATH": "/usr/bin:/bin", "EHR2FA_CONF": self.env.conf, "EHR2FA_HELPER": self.helper}
        if now:
            env["EHR2FA_TEST_NOW"] = str(now)
        return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
                               self.admin_copy] + args, input=input, capture_output=True, text=True, env=env,
                              timeout=60)

    def test_forgot_and_reset_as_nobody_and_expiry(self):
        r = self.as_nobody(["password", "forgot"], "drsmith@example.org\n")
        self.assertEqual((r.returncode, r.stdout.splitlines()[-2:]), (0, ANSWER.splitlines()), r.stderr)
        code = token_of(self.wait_mails(1)[0])
        later = int(time.time()) + 3600 + 60  # reset_token_ttl is an hour
        r = self.as_nobody(["password", "reset"], f"{code}\n{NEW}\n{NEW}\n", now=later)
        self.assertEqual(r.returncode, 1)
        self.assertIn("this reset code expired at", r.stderr)
        self.assertIn(("password reset refused", "an expired reset code"), self.actions())
        r = self.as_nobody(["password", "reset"], f"{code}\n{NEW}\n{NEW}\n", now=int(time.time()) + 60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Your password has been changed, drsmith.", r.stdout)
        self.assertTrue(any(a["actor"] == "nobody" and a["action"] == "password set" for a in self.env.audit()))
        r = self.as_nobody(["password", "send-reset", "drsmith"], "")
        self.assertNotEqual(r.returncode, 0)  # a manager's verb: root or sudo, never the helper
        self.assertIn("this needs root", r.stderr)


@unittest.skipUnless(shutil.which("unshare") and shutil.which("pamtester"), "needs unshare and pamtester")
class PamUnix(Base):
    """The new password logs in with the distribution's pam_unix, which reads it from
    the shadow snapshot (bind-mounted over /etc/shadow in a private mount namespace)."""

    def pam_unix(self, password):
        svc = os.path.join(self.env.dir, "pam-unix.d")
        os.makedirs(svc, exist_ok=True)
        with open(os.path.join(svc, "unix-only"), "w") as f:
            f.write("auth required pam_unix.so\naccount required pam_unix.so\n")
        passwd, shadow = os.path.join(self.env.dir, "passwd"), os.path.join(self.env.dir, "shadow")
        with open("/etc/passwd") as src, open(passwd, "w") as f:
            added = [a["details"] for a in self.env.audit("drsmith") if a["action"] == "user added"]
            uid = re.search(r"\buid=(\d+)", added[0]).group(1)
            f.write(src.read() + f"drsmith:x:{uid}:{uid}:Dr Smith:/nonexistent:/bin/sh\n")
        with open("/etc/shadow") as src, open(shadow, "w") as f:
            f.write(src.read() + self.shadow_line("drsmith") + "\n")
        script = (f"mount --make-rprivate / && mount --bind {passwd} /etc/passwd && "
                  f"mount --bind {shadow} /etc/shadow && exec pamtester -v unix-only drsmith authenticate")
        # pam_unix alone: no module of ours in this process, so no sanitizer runtime either.
        env = dict(os.environ, LD_PRELOAD="libpam_wrapper.so", PAM_WRAPPER="1", PAM_WRAPPER_SERVICE_DIR=svc)
        with pam_wrapper_lock():
            return subprocess.run(["unshare", "-m", "sh", "-c", script], input=password + "\n", capture_output=True,
                                  text=True, env=env, timeout=60)

    def test_new_password_logs_in_with_pam_unix(self):
        self.forgot("drsmith@example.org")
        self.assertEqual(self.reset(token_of(self.wait_mails(1)[0])).returncode, 0)
        r = self.pam_unix(NEW)
        if "cannot" in r.stderr and "mount" in r.stderr:
            self.skipTest("no mount namespace here: " + r.stderr)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("successfully authenticated", r.stdout + r.stderr)
        r = self.pam_unix("not-the-password-at-all")
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    ehrtest.main(check_prerequisites)
