#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""ehr2fad still works inside the sandbox of conf/systemd/ehr2fad.service.

Tests run without systemd as PID 1, so the sandbox is rebuilt from the unit's
own lines with the tools systemd uses underneath: a mount namespace with the
root file system read-only but for the store (ProtectSystem=strict plus
ReadWritePaths), no capabilities and no_new_privs (CapabilityBoundingSet=,
NoNewPrivileges=), and strace watching every system call. Logins go through
the daemon (a good code, a wrong one); then every call it made must be one the
unit's SystemCallFilter= allows, every socket one of RestrictAddressFamilies=,
and no mapping both writable and executable (MemoryDenyWriteExecute=)."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ehrtest import EHR2FAD, Env, oath, need_strace  # noqa: E402

UNIT = os.environ.get("EHR2FA_UNIT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conf",
                                                   "systemd", "ehr2fad.service"))


def unit_settings(path):
    """[Service] key -> list of values, in order."""
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")) and "=" in line:
                k, v = line.split("=", 1)
                settings.setdefault(k, []).append(v)
    return settings


def syscall_group(name, seen=None):
    """The system calls of a systemd group (@system-service), nested groups expanded."""
    seen = seen if seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True,
                         check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        calls |= syscall_group(word, seen) if word.startswith("@") else {word}
    return calls


def allowed_syscalls(filters):
    """SystemCallFilter= lines, as systemd combines them: the first, an allow list,
    sets the set; later allow lines add, ~ lines take away."""
    allowed = set()
    for f in filters:
        deny = f.startswith("~")
        names = set()
        for word in f.lstrip("~").split():
            names |= syscall_group(word) if word.startswith("@") else {word}
        allowed = allowed - names if deny else allowed | names
    return allowed


@unittest.skipUnless(os.geteuid() == 0, "needs root: a mount namespace and setpriv")
class Sandbox(unittest.TestCase):
    def setUp(self):
        for tool in ("systemd-analyze", "unshare", "setpriv", "pamtester", "oathtool"):
            if not shutil.which(tool):
                self.skipTest(f"{tool} not installed")
        need_strace()
        self.unit = unit_settings(UNIT)
        self.env = Env()
        self.env.use_daemon = True
        self.env.write_conf()
        self.env.admin("init")
        self.env.add_user("alice")
        self.trace = os.path.join(self.env.dir, "ehr2fad.strace")

    def tearDown(self):
        self.env.cleanup()

    def start_sandboxed(self):
        self.assertEqual(self.unit.get("ProtectSystem"), ["strict"])
        self.assertEqual(self.unit.get("CapabilityBoundingSet"), [""])
        self.assertEqual(self.unit.get("NoNewPrivileges"), ["yes"])
        # The default store and snapshot directories (what the test store stands in for) stay writable.
        writable = {p.lstrip("-") for v in self.unit.get("ReadWritePaths", []) for p in v.split()}
        self.assertLessEqual({"/var/lib/ehr2fa", "/var/lib/ehr2fa-nss"}, writable)
        # The test store stands in for ReadWritePaths=; nothing else is writable.
        mounts = (f'mount --make-rprivate / && mount --bind "{self.env.dir}" "{self.env.dir}" && '
                  'mount -o remount,bind,ro / && exec "$@"')
        argv = ["unshare", "--mount", "sh", "-c", mounts, "_",
                "setpriv", "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all", "--",
                "strace", "-f", "-qq", "-o", self.trace,
                EHR2FAD, "--conf", self.env.conf, "--debug"]
        log = open(self.env.daemon_log, "a")
        self.env.daemon = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 30
        while not os.path.exists(self.env.daemon_sock):
            if self.env.daemon.poll() is not None or time.monotonic() > deadline:
                self.fail(f"ehr2fad did not start in the sandbox: {self.env.daemon_lines()}")
            time.sleep(0.05)

    def stop_sandboxed(self):
        """SIGTERM to ehr2fad itself (strace's child), then strace exits with its status."""
        d, self.env.daemon = self.env.daemon, None
        with open(f"/proc/{d.pid}/task/{d.pid}/children") as f:
            for pid in f.read().split():
                os.kill(int(pid), signal.SIGTERM)
        d.wait(timeout=30)
        self.assertEqual(d.returncode, 0, self.env.daemon_lines())

    def test_daemon_serves_logins_within_the_unit_sandbox(self):
        self.start_sandboxed()
        r = self.env.login("alice", oath(), "n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.env.login("alice", "000000")
        self.assertNotEqual(r.returncode, 0)
        self.stop_sandboxed()
        lines = self.env.daemon_lines()
        self.assertTrue([l for l in lines if "op=verify user=alice r=0" in l], lines)
        self.assertTrue([l for l in lines if re.search(r"op=verify user=alice r=-\d+", l)], lines)
        self.assertFalse([l for l in lines if "Read-only" in l or "Permission denied" in l], lines)

        calls = []
        with open(self.trace) as f:
            for line in f:
                m = re.match(r"\d+\s+([a-z0-9_]+)\(", line)
                if m:
                    calls.append((m.group(1), line.strip()))
        self.assertTrue(calls, "strace recorded nothing")
        # From ehr2fad's execve on: strace's own and setpriv's calls before it are not the daemon's.
        start = next(i for i, (name, line) in enumerate(calls) if name == "execve" and EHR2FAD in line)
        daemon_calls = calls[start + 1:]

        allowed = allowed_syscalls(self.unit["SystemCallFilter"])
        outside = sorted({name for name, _ in daemon_calls if name not in allowed})
        self.assertEqual(outside, [], f"system calls outside SystemCallFilter=: {outside}")

        families = set(self.unit["RestrictAddressFamilies"][0].split())
        used = {m.group(1) for _, line in daemon_calls for m in [re.search(r"socket\((AF_[A-Z0-9]+)", line)] if m}
        self.assertLessEqual(used, families, "sockets outside RestrictAddressFamilies=")

        if self.unit.get("MemoryDenyWriteExecute") == ["yes"]:
            wx = [line for name, line in daemon_calls if name in ("mmap", "mprotect", "pkey_mprotect")
                  and "PROT_EXEC" in line and "PROT_WRITE" in line]
            self.assertEqual(wx, [], "writable and executable memory")


if __name__ == "__main__":
    unittest.main(verbosity=2)
