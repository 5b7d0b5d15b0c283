#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Real su(1) and sudo(8) with the shipped pam-auth-update profile
(debian/pam-configs/ehr2fa), in a private mount namespace.

The test process unshare()s its mount namespace, then bind-mounts over the
system's own files, so nothing outside a temporary directory changes:

* /etc: a copy, with two throwaway local users in passwd/shadow/group (ehrsu, a
  normal user, and clin1, enrolled, with a password and sudo rights),
  /etc/ehr2fa/ehr2fa.conf naming the test's store, and a sudoers.d file;
* /usr/share/pam-configs: a copy with the shipped profile added, and
  /var/lib/pam, /var/cache/debconf: copies, for the real pam-auth-update
  --enable ehr2fa, which writes /etc/pam.d/common-* (in the /etc copy);
* the PAM module directory: a copy with this build's pam_ehr2fa.so, so the
  profile's "pam_ehr2fa.so" resolves as on an installed system;
* /var/log: an empty directory (su records failures in btmp).

su and sudo are the installed setuid programs, run as the throwaway users under
a pseudo-terminal whose prompts the test answers, the code from oathtool. Needs
root, util-linux's su and setpriv, sudo, pam-auth-update (libpam-runtime),
pamtester and oathtool; skips (exit 77 alone) without them, or when the module is
built with a sanitizer (a setuid program ignores LD_PRELOAD, so the runtime
could not come first)."""

import ctypes
import errno
import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ehrtest  # noqa: E402
from ehrtest import ADMIN, MODULE, PASSWORD, SECRET, need, oath, sanitizer_preload  # noqa: E402

SOURCE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PROFILE = os.environ.get("EHR2FA_PAM_PROFILE", os.path.join(SOURCE, "debian", "pam-configs", "ehr2fa"))
CLONE_NEWNS = 0x00020000
NORMAL, TARGET = "ehrsu", "clin1"


def check_prerequisites():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: a private mount namespace and setuid su/sudo")
    for tool in ("su", "sudo", "setpriv", "pam-auth-update", "pamtester", "oathtool", "openssl"):
        need(tool)
    if not os.path.exists(PROFILE):
        if os.path.isdir(os.path.dirname(os.path.dirname(PROFILE))):
            raise AssertionError(f"debian/ has no pam-auth-update profile at {PROFILE}")
        raise unittest.SkipTest(f"{PROFILE} not there (no debian/ in this tree)")
    for f in (MODULE, ADMIN):
        if not os.path.exists(f):
            raise unittest.SkipTest(f"{f} not built")
    if sanitizer_preload():
        raise unittest.SkipTest("module built with a sanitizer: setuid su and sudo cannot preload its runtime")


def security_dir():
    """Where libpam looks for a module named without a path."""
    for d in ("/usr/lib/x86_64-linux-gnu/security", "/usr/lib/aarch64-linux-gnu/security", "/lib/security",
              "/usr/lib64/security", "/usr/lib/security"):
        if os.path.exists(os.path.join(d, "pam_unix.so")):
            return d
    raise unittest.SkipTest("pam_unix.so not found")


def run(*argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r


def bind(src, dst):
    run("mount", "--bind", src, dst)


def copy_over(path, tmp):
    """A copy of the directory path in tmp, bind-mounted over path."""
    copy = os.path.join(tmp, path.strip("/").replace("/", "_"))
    if os.path.isdir(path):
        shutil.copytree(path, copy, symlinks=True)
    else:
        os.makedirs(copy)
        os.makedirs(path, exist_ok=True)
    bind(copy, path)
    return copy


class Pty:
    """A program on a pseudo-terminal of its own (its controlling terminal, where su
    and sudo ask), as a user would type at it."""

    def __init__(self, argv, env):
        self.master, slave = os.openpty()

        def child():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, preexec_fn=child,
                                  close_fds=True)
        os.close(slave)
        self.out = ""
        self.seen = 0

    def read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.master, 4096)
        except OSError as e:
            if e.errno == errno.EIO:
                return None
            raise
        if not data:
            return None
        self.out += data.decode(errors="replace")
        return True

    def expect(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.out[self.seen:])
            if m:
                self.seen += m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self.read(left) is None:
                raise AssertionError(f"no {pattern!r} in:\n{self.out}")

    def send(self, line):
        os.write(self.master, (line + "\n").encode())

    def finish(self, timeout=60):
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and self.read(deadline - time.monotonic()) is not None:
                pass
            self.p.wait(timeout=max(1, deadline - time.monotonic()))
        finally:
            if self.p.poll() is None:
                self.p.send_signal(signal.SIGKILL)
                self.p.wait()
            os.close(self.master)
        return self.p.returncode


class SuSudo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        check_prerequisites()
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNS) != 0:
            raise unittest.SkipTest(f"unshare(CLONE_NEWNS): {os.strerror(ctypes.get_errno())}")
        run("mount", "--make-rprivate", "/")
        cls.tmp = tempfile.mkdtemp(prefix="ehr2fa-su-")
        os.chmod(cls.tmp, 0o755)
        cls.etc = copy_over("/etc", cls.tmp)
        cls.add_users()
        cls.store = os.path.join(cls.tmp, "store")
        os.makedirs("/etc/ehr2fa", exist_ok=True)
        with open("/etc/ehr2fa/ehr2fa.conf", "w") as f:
            f.write(f"store_dir = {cls.store}\nfail_delay_ms = 0\ndaemon_socket = none\n")
        os.chmod("/etc/ehr2fa/ehr2fa.conf", 0o644)
        os.makedirs(os.path.join(cls.tmp, "sudo-ts"), mode=0o700)
        with open("/etc/sudoers.d/ehr2fa-test", "w") as f:
            f.write(f"Defaults lecture=never, timestampdir={cls.tmp}/sudo-ts\n{TARGET} ALL=(ALL) ALL\n")
        os.chmod("/etc/sudoers.d/ehr2fa-test", 0o440)
        configs = copy_over("/usr/share/pam-configs", cls.tmp)
        shutil.copy(PROFILE, os.path.join(configs, "ehr2fa"))
        copy_over("/var/lib/pam", cls.tmp)
        copy_over("/var/cache/debconf", cls.tmp)
        sec = security_dir()
        copy_over(sec, cls.tmp)
        shutil.copy(MODULE, os.path.join(sec, "pam_ehr2fa.so"))
        os.chmod(os.path.join(sec, "pam_ehr2fa.so"), 0o644)
        os.makedirs(os.path.join(cls.tmp, "log"))
        bind(os.path.join(cls.tmp, "log"), "/var/log")
        run("pam-auth-update", "--enable", "ehr2fa", env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))

    @classmethod
    def add_users(cls):
        with open("/etc/passwd") as f:
            taken = {ln.split(":")[2] for ln in f if ln.count(":") >= 6}
        uid = 61500
        while str(uid) in taken or str(uid + 1) in taken:
            uid += 2
        cls.uids = {NORMAL: uid, TARGET: uid + 1}
        crypted = run("openssl", "passwd", "-6", "-stdin", input=PASSWORD + "\n").stdout.strip()
        with open("/etc/passwd", "a") as p, open("/etc/shadow", "a") as s, open("/etc/group", "a") as g:
            for name, n in cls.uids.items():
                p.write(f"{name}:x:{n}:{n}:{name}:/tmp:/bin/sh\n")
                s.write(f"{name}:{crypted}:19000:0:99999:7:::\n")
                g.write(f"{name}:x:{n}:\n")

    @classmethod
    def tearDownClass(cls):
        # The mounts go with this process's namespace; the copies are ours.
        shutil.rmtree(getattr(cls, "tmp", "/nonexistent"), ignore_errors=True)

    def setUp(self):
        if os.path.exists(self.store):
            shutil.rmtree(self.store)
        self.admin("init")
        self.admin("user", "add", TARGET, "--phone", "+15551234566", "--email", "c@example.org", "--name", "Clin One",
                   "--role", "staff", "--existing")  # clin1 is in the (copied) /etc/passwd
        self.admin("totp", "enroll", TARGET, "--secret", SECRET, "--no-qr")

    def admin(self, *args):
        return run(ADMIN, "--conf", "/etc/ehr2fa/ehr2fa.conf", *args)

    def audit(self):
        return json.loads(self.admin("--json", "audit", "show", "--user", TARGET).stdout)

    def as_user(self, name, *argv):
        n = self.uids[name]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TERM": "dumb", "LANG": "C", "HOME": "/tmp"}
        return Pty(["setpriv", f"--reuid={n}", f"--regid={n}", "--clear-groups", *argv], env)

    def test_profile_puts_the_module_after_the_password(self):
        with open("/etc/pam.d/common-auth") as f:
            auth = [ln.split() for ln in f if ln.strip() and not ln.startswith("#")]
        names = [next((w for w in ln if w.endswith(".so")), "") for ln in auth]
        self.assertIn("pam_ehr2fa.so", names, auth)
        self.assertLess(names.index("pam_unix.so"), names.index("pam_ehr2fa.so"), auth)

    def test_su_asks_the_password_then_the_code(self):
        t = self.as_user(NORMAL, "su", TARGET, "-c", "echo SU-OK-$(id -un)")
        t.expect(r"Password: ")
        t.send(PASSWORD)
        t.expect(r"Verification code: ")
        t.send(oath())
        self.assertEqual(t.finish(), 0, t.out)
        self.assertIn(f"SU-OK-{TARGET}", t.out)
        self.assertNotIn("Trust this device", t.out)  # su is a step-up: never offered
        row = self.audit()[-1]
        self.assertEqual(row["action"], "second factor accepted", row)
        self.assertIn("service=su", row["source"])

    def test_su_with_a_wrong_code_fails(self):
        t = self.as_user(NORMAL, "su", TARGET, "-c", "echo SU-OK-$(id -un)")
        t.expect(r"Password: ")
        t.send(PASSWORD)
        t.expect(r"Verification code: ")
        t.send("%06d" % ((int(oath()) + 1) % 1000000))
        self.assertNotEqual(t.finish(), 0, t.out)
        self.assertNotIn("SU-OK", t.out)
        self.assertIn("Authentication failure", t.out)

    def test_sudo_asks_the_code_after_a_trusted_login(self):
        """A console login (service login, the same common-auth) trusts this host;
        sudo still asks the code: its code is a step-up."""
        r = subprocess.run(["pamtester", "login", TARGET, "authenticate"], input=f"{PASSWORD}\n{oath()}\ny\n",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Trust this device", r.stdout + r.stderr)
        devices = json.loads(self.admin("--json", "device", "list", TARGET).stdout)
        self.assertEqual(len(devices), 1, devices)
        r = subprocess.run(["pamtester", "login", TARGET, "authenticate"], input=f"{PASSWORD}\n",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)  # the login itself: trusted, no code
        self.assertNotIn("Verification code", r.stdout + r.stderr)

        t = self.as_user(TARGET, "sudo", "-k", "echo", "SUDO-OK")
        t.expect(r"password for " + TARGET)
        t.send(PASSWORD)
        t.expect(r"Verification code: ")
        t.send(oath(step=1))  # the next step's: the first login spent this one's
        self.assertEqual(t.finish(), 0, t.out)
        self.assertIn("SUDO-OK", t.out)
        self.assertNotIn("Trust this device", t.out)
        row = self.audit()[-1]
        self.assertEqual(row["action"], "second factor accepted", row)
        self.assertIn("service=sudo", row["source"])


if __name__ == "__main__":
    ehrtest.main(check_prerequisites)
