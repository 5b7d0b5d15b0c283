#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Many hosts, one store. Each host is a config of its own (its NSS snapshot, its
homes, its ehr2fad on a socket of its own) pointing at one shared store, as the
workstations of a site point at the central one. Logins go through real libpam
(tests/pam-race.c), the directory through `ehr2fa-admin sync` and getent
(nss_wrapper, libnss_ehr.so.2).

The store is SQLite, or with EHR2FA_TEST_STORE_BACKEND=postgresql a real server
(tests/pg.py; meson runs both: test_hosts, test_hosts_pg). Several
hosts sharing one SQLite file on one machine is the degenerate case of a
central store, and the guarantees (one acceptance per code, exact lockouts,
one rotation per PIN) must already hold there."""

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import ehrtest
from ehrtest import NSS_MODULE, NSS_WRAPPER, PASSWORD, Env, nss_run, oath, race, store_locked

BACKEND = os.environ.get("EHR2FA_TEST_STORE_BACKEND", "sqlite")
PHONE = "+15551234566"


class Hosts:
    """n hosts of one store, each with its own ehr2fad (daemon=True). SQLite: the
    hosts' store_dir is one directory. PostgreSQL (tests/pg.py, a real server
    started for the test): each host has a store_dir of its own holding its copy
    of the master key, and its own copy of the password file."""

    def __init__(self, n, conf_extra="", daemon=True):
        self.dir = tempfile.mkdtemp(prefix="ehr2fa-hosts-")
        self.hosts = []
        self.srv = None
        try:
            if BACKEND == "postgresql":
                import pg
                self.srv = pg.Server().setup()
                self.locator = self.srv.locator
            elif BACKEND == "sqlite":
                self.locator = os.path.join(self.dir, "store")
            else:
                raise unittest.SkipTest(f"no fixture for the {BACKEND} backend in this suite")
            for _ in range(n):
                self.hosts.append(Env(conf_extra, store=None if self.srv else self.locator, daemon=daemon))
            self.write_conf(conf_extra)
            self.hosts[0].admin("init")
            for h in self.hosts[1:] if self.srv else ():
                os.makedirs(h.store, mode=0o700, exist_ok=True)
                shutil.copy2(os.path.join(self.hosts[0].store, "master.key"), h.store)
            # The hosts' own users (nss_wrapper's files): root only.
            self.files = os.path.join(self.dir, "files")
            os.mkdir(self.files)
            with open(os.path.join(self.files, "passwd"), "w") as f:
                f.write("root:x:0:0:root:/root:/bin/sh\n")
            with open(os.path.join(self.files, "group"), "w") as f:
                f.write("root:x:0:\n")
            if daemon:
                for h in self.hosts:
                    h.start_daemon()
        except BaseException:
            self.cleanup()
            raise

    def write_conf(self, *extras):
        """Every host's config: where the shared store is, and the extra lines
        given for it (the last given for the hosts after)."""
        for i, h in enumerate(self.hosts):
            server = ""
            if self.srv:
                server = f"store = {self.locator}\nstore_password_file = {self.srv.password_file(h.dir)}\n"
            h.write_conf(extras[min(i, len(extras) - 1)] + server)

    @contextlib.contextmanager
    def store_down(self):
        """The shared store out of reach: the server stopped, or (SQLite) the
        store held locked, so that nothing gets an answer from it."""
        if not self.srv:
            with store_locked(self.locator):
                yield
            return
        self.srv.stop()
        try:
            yield
        finally:
            self.srv.start()

    def set_schema_version(self, delta):
        """Move the stored schema version by delta; returns the new one."""
        if self.srv:
            self.srv.psql(f"UPDATE meta SET num = num + {delta} WHERE key = 'schema_version'", db="ehr2fa")
            return int(self.srv.psql("SELECT num FROM meta WHERE key = 'schema_version'", db="ehr2fa"))
        import sqlite3
        with sqlite3.connect(os.path.join(self.locator, "ehr2fa.db")) as c:
            version = c.execute("PRAGMA user_version").fetchone()[0] + delta
            c.execute(f"PRAGMA user_version = {version}")
        return version

    def __getitem__(self, i):
        return self.hosts[i]

    def snapshot(self, i):
        return os.path.join(self.hosts[i].dir, "nss", "snapshot")

    def getent(self, i, *args):
        return nss_run(self.files, self.snapshot(i), "getent", *args)

    def cleanup(self):
        try:
            for h in self.hosts:
                h.cleanup()
        finally:
            if self.srv:
                self.srv.cleanup()
            shutil.rmtree(self.dir, ignore_errors=True)


def wrong_code():
    return "%06d" % ((int(oath()) + 500000) % 1000000)


@unittest.skipUnless(os.path.exists(NSS_MODULE) and os.path.exists(NSS_WRAPPER), "needs libnss_ehr.so.2 and nss_wrapper")
class Sync(unittest.TestCase):
    """ehr2fa-admin sync: a change made on one host reaches another host's NSS."""

    def setUp(self):
        self.h = Hosts(2, daemon=False)

    def tearDown(self):
        self.h.cleanup()

    def sync(self, i, *args, check=True):
        return self.h[i].admin("sync", *args, check=check)

    def test_another_hosts_change_arrives_with_sync(self):
        self.h[0].admin("user", "add", "nurse1", "--no-home", "--name", "Nurse One")
        self.assertEqual(self.h.getent(0, "passwd", "nurse1").returncode, 0)
        # Host 1 has not synced: its NSS does not know the account yet.
        self.assertEqual(self.h.getent(1, "passwd", "nurse1").returncode, 2)
        r = self.sync(1)
        self.assertRegex(r.stdout, r"^Published .*/nss/snapshot: 1 users, 1 groups\.\n$")
        line = self.h.getent(1, "passwd", "nurse1").stdout.strip()
        self.assertRegex(line, r"^nurse1:x:\d+:\d+:Nurse One:.*/nurse1:/bin/bash$")
        # A lock on host 0 shows on host 1 after its next sync.
        self.h[0].admin("user", "lock", "nurse1")
        self.assertTrue(self.h.getent(1, "passwd", "nurse1").stdout.strip().endswith(":/bin/bash"))
        self.assertIn("Published", self.sync(1).stdout)
        self.assertTrue(self.h.getent(1, "passwd", "nurse1").stdout.strip().endswith(":/usr/sbin/nologin"))
        # Groups too, and a deletion.
        self.h[0].admin("group", "add", "icu")
        self.h[0].admin("group", "member", "add", "icu", "nurse1")
        self.sync(1)
        self.assertRegex(self.h.getent(1, "group", "icu").stdout, r"^icu:x:\d+:nurse1\n$")
        self.h[0].admin("user", "del", "nurse1")
        self.sync(1)
        self.assertEqual(self.h.getent(1, "passwd", "nurse1").returncode, 2)

    def test_unchanged_directory_writes_nothing(self):
        """Compared by content: no write, no rename, not even a timestamp changes,
        and no temporary file is left."""
        self.h[0].admin("user", "add", "nurse1", "--no-home")
        self.sync(1)
        path = self.h.snapshot(1)
        files = [path, os.path.join(os.path.dirname(path), "shadow")]  # passwd/group, and the password hashes

        def stats():
            return [(st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size) for st in map(os.stat, files)]
        before = stats()
        time.sleep(0.05)  # a rewrite would show in the nanosecond timestamps
        r = self.sync(1)
        self.assertRegex(r.stdout, r" is up to date: 1 users, 1 groups \(not rewritten\)\.\n$")
        self.assertEqual(stats(), before)
        self.assertEqual(sorted(os.listdir(os.path.dirname(path))), ["shadow", "snapshot"])
        # --quiet: nothing to say when nothing changed; --json says it all.
        self.assertEqual(self.sync(1, "--quiet").stdout, "")
        self.assertIn('"changed":false,"users":1,"groups":1}', self.sync(1, "--json").stdout)
        # A file that differs in content or mode only is replaced: either snapshot.
        for f, mode in zip(files, (0o644, 0o640)):
            os.chmod(f, 0o600)
            self.assertIn('"changed":true', self.sync(1, "--json").stdout)
            self.assertEqual(os.stat(f).st_mode & 0o777, mode)
        with open(path, "r+b") as f:
            f.seek(-1, 2)
            last = f.read(1)
            f.seek(-1, 2)
            f.write(bytes([last[0] ^ 0xFF]))
        self.assertIn("Published", self.sync(1).stdout)
        self.assertEqual(self.h.getent(1, "passwd", "nurse1").returncode, 0)

    def test_store_down_keeps_the_last_snapshot(self):
        """The store cannot be reached: sync fails plainly (exit 4), the snapshot
        stays as it was and NSS keeps answering from it; back up, sync resumes."""
        self.h[0].admin("user", "add", "nurse1", "--no-home")
        self.sync(1)
        before = os.stat(self.h.snapshot(1))
        with self.h.store_down():
            start = time.monotonic()
            r = self.sync(1, check=False)
            self.assertLess(time.monotonic() - start, 10)
            self.assertEqual(r.returncode, 4, r.stderr)
            self.assertIn("NSS snapshot was left as it was", r.stderr)
            self.assertIn(f"NSS keeps serving the last snapshot, {self.h.snapshot(1)}, published ", r.stderr)
            after = os.stat(self.h.snapshot(1))
            self.assertEqual((after.st_ino, after.st_mtime_ns), (before.st_ino, before.st_mtime_ns))
            self.assertEqual(self.h.getent(1, "passwd", "nurse1").returncode, 0)
        self.h[0].admin("user", "add", "nurse2", "--no-home")
        self.assertIn("Published", self.sync(1).stdout)
        self.assertEqual(self.h.getent(1, "passwd", "nurse2").returncode, 0)

    def test_sync_needs_manage_accounts(self):
        self.h[0].admin("user", "add", "clerk", "--no-home")
        r = self.h[1].admin("sync", as_user="clerk", check=False)
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn("needs the Manage Accounts permission", r.stderr)
        self.assertFalse(os.path.exists(self.h.snapshot(1)))

    def test_sync_never_migrates(self):
        """Every host runs sync, at whatever version it has: the schema is changed
        only by 'ehr2fa-admin migrate' (or another admin command) where the
        sysadmin runs it."""
        # A store that says it has the schema before this one is refused, not upgraded.
        older = self.h.set_schema_version(-1)
        r = self.sync(1, check=False)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("old schema", r.stderr)
        self.assertEqual(self.h.set_schema_version(0), older)


class Race(unittest.TestCase):
    """The same secret, from many hosts at once: each accepted exactly once."""
    n_hosts = 4
    conf_extra = "deny = 20\n"

    def setUp(self):
        ehrtest.need("pamtester")
        self.h = Hosts(self.n_hosts, self.conf_extra)
        self.h[0].add_user("alice", phone=PHONE)

    def tearDown(self):
        self.h.cleanup()

    def actions(self, user="alice"):
        return [x["action"] for x in self.h[0].audit(user)]

    def served_by(self):
        """How many hosts' ehr2fad checked an answer."""
        return sum(any("verify" in l for l in h.daemon_lines()) for h in self.h.hosts)

    def test_same_code_on_every_host_is_accepted_once(self):
        r = race(self.h.hosts, "alice", oath(), 8)
        self.assertEqual((r["prompted"], r["success"], r["failed"], r["other"]), (8, 1, 7, 0), r["stderr"])
        self.assertEqual(self.served_by(), self.n_hosts)
        rows = self.h[0].audit("alice")
        self.assertEqual([x["action"] for x in rows].count("second factor accepted"), 1)
        failed = [x for x in rows if x["action"] == "second factor failed"]
        self.assertEqual(len(failed), 7)
        self.assertTrue(all("replayed" in x["details"] for x in failed), failed)
        self.assertIn("intact", self.h[0].admin("audit", "verify").stdout)

    def test_same_sms_token_on_every_host_is_accepted_once(self):
        from test_sms_trust import Gateway
        gw = Gateway()
        self.addCleanup(gw.stop)
        token_file = os.path.join(self.h.dir, "sms-token")
        with open(token_file, "w") as f:
            f.write("test-api-token-123\n")
        os.chmod(token_file, 0o600)
        sms = (f"sms_mode = generic\nsms_url = {gw.url('/ok')}\nsms_token_file = {token_file}\n"
               f"sms_sender = {ehrtest.SMS_SENDER}\nsms_timeout_ms = 2000\nsms_connect_timeout_ms = 1000\n")
        for h in self.h.hosts:
            h.stop_daemon()
        self.h.write_conf(self.conf_extra + sms)
        for h in self.h.hosts:
            h.start_daemon()

        # Host 0 asks for a text and leaves the login at the next prompt.
        def ask_only(write):
            write("sms")
            gw.wait_token(1)
        self.h[0].login_interactive("alice", ask_only)
        token = gw.wait_token(1)
        r = race(self.h.hosts, "alice", token, 8)
        self.assertEqual((r["prompted"], r["success"], r["failed"], r["other"]), (8, 1, 7, 0), r["stderr"])
        accepted = [x for x in self.h[0].audit("alice") if x["action"] == "second factor accepted"]
        self.assertEqual(len(accepted), 1)
        self.assertIn("SMS token accepted", accepted[0]["details"])
        self.assertEqual(len(gw.requests()), 1)
        self.assertIn("intact", self.h[0].admin("audit", "verify").stdout)

    def test_support_pin_validated_on_every_host_rotates_once(self):
        """The help desk of several hosts validates the same Support PIN at once:
        one validation succeeds and rotates it, once; the others find it spent."""
        self.h[0].admin("user", "add", "hd1", "--no-home")
        self.h[0].admin("perm", "grant", "hd1", "help_desk")
        pin = self.h[0].admin("support-pin", "view", as_user="alice").stdout
        pin = [w for w in pin.split() if w.isdigit() and len(w) == 4][0]
        env = {k: v for k, v in os.environ.items() if k != "SUDO_USER"}
        env["SUDO_USER"] = "hd1"
        procs = [subprocess.Popen([ehrtest.ADMIN, "--conf", self.h[i % self.n_hosts].conf, "support-pin",
                                   "validate", "alice"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for i in range(5)]
        for p in procs:
            p.stdin.write(pin + "\n")
            p.stdin.flush()
        # Five: the four that find it spent stay under the five failures that lock validation.
        outs = [ehrtest.communicate(p, 60) for p in procs]
        results = [(p.returncode, out, err) for p, (out, err) in zip(procs, outs)]
        ok = [r for r in results if r[0] == 0]
        rotated = self.actions().count("Update")  # one at creation, one per rotation
        new = self.h[0].admin("support-pin", "view", as_user="alice").stdout
        if pin in new.split():  # the rotation drew the same four digits (1 in 10,000)
            self.skipTest("the new Support PIN equals the old one")
        self.assertEqual(len(ok), 1, results)
        self.assertTrue(all(r[0] == 1 and "NOT valid" in r[1] for r in results if r[0] != 0), results)
        self.assertEqual(rotated, 2)
        self.assertIn("intact", self.h[0].admin("audit", "verify").stdout)


    def test_user_add_on_every_host_at_once_gets_distinct_uids(self):
        """Account managers on several hosts add users at the same moment: every add
        succeeds, and no two accounts get one uid (each picks the next free id in the
        transaction that takes it, or picks again when another host took it first)."""
        procs = [subprocess.Popen([ehrtest.ADMIN, "--conf", self.h[i % self.n_hosts].conf, "user", "add", f"nurse{i}",
                                   "--no-home"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(8)]
        results = [(p.returncode, out, err) for p, (out, err) in ((p, ehrtest.communicate(p, 60)) for p in procs)]
        self.assertTrue(all(r[0] == 0 for r in results), results)
        uids = [int(re.search(r"uid (\d+)\.", out).group(1)) for _, out, _ in results]
        self.assertEqual(len(set(uids)), 8, uids)
        # What the system sees, once host 0 has synced: eight accounts, those eight uids.
        self.h[0].admin("sync", "--quiet")
        seen = {}
        for i in range(8):
            ent = self.h.getent(0, "passwd", f"nurse{i}")
            self.assertEqual(ent.returncode, 0, ent.stderr)
            seen[f"nurse{i}"] = int(ent.stdout.split(":")[2])
        self.assertEqual(sorted(seen.values()), sorted(uids))
        self.assertIn("intact", self.h[0].admin("audit", "verify").stdout)


class RaceLockout(Race):
    conf_extra = "deny = 3\n"

    def test_wrong_codes_on_every_host_lock_at_exactly_deny(self):
        """Eight wrong codes from four hosts at once: no failure is lost to another
        host's count; the third locks, the five after it are refused unchecked."""
        r = race(self.h.hosts, "alice", wrong_code(), 8)
        self.assertEqual((r["prompted"], r["success"], r["failed"], r["other"]), (8, 0, 8, 0), r["stderr"])
        actions = self.actions()
        self.assertEqual(actions.count("second factor failed"), 3)
        self.assertEqual(actions.count("account locked"), 1)
        self.assertEqual(actions.count("second factor refused"), 5)
        shown = self.h[1].admin("--json", "lockout", "show", "alice").stdout
        self.assertIn('"failures":3,', shown)
        self.assertIn('"locked":true', shown)
        # The lock holds on every host: the right code is refused everywhere.
        r = race(self.h.hosts, "alice", oath(), 4)
        self.assertEqual((r["success"], r["failed"]), (0, 4), r["stderr"])

    # The tests of Race run once, with deny = 20.
    test_same_code_on_every_host_is_accepted_once = None
    test_same_sms_token_on_every_host_is_accepted_once = None
    test_support_pin_validated_on_every_host_rotates_once = None


@unittest.skipUnless(os.path.exists(NSS_MODULE) and os.path.exists(NSS_WRAPPER), "needs libnss_ehr.so.2 and nss_wrapper")
class StoreDown(unittest.TestCase):
    """The shared store stops answering in the middle of the day: each host's
    logins end within store_timeout_ms in that host's fail_mode, NSS answers
    from the snapshot; when it is back, logins resume through the same ehr2fad."""
    timeout_ms = 1000

    def setUp(self):
        ehrtest.need("pamtester")
        extra = f"store_timeout_ms = {self.timeout_ms}\n"
        self.h = Hosts(2, extra)
        for h in self.h.hosts:
            h.stop_daemon()
        self.h.write_conf(extra, extra + "fail_mode = safe\n")
        # alice logs in on host 0, bob on host 1 (each code once: no replay across the two).
        self.h[0].add_user("alice")
        self.h[1].add_user("bob")
        self.h[1].admin("sync")
        self.daemons = [h.start_daemon() for h in self.h.hosts]

    def tearDown(self):
        self.h.cleanup()

    def test_logins_follow_fail_mode_and_resume(self):
        t = int(time.time())
        users = ("alice", "bob")
        for i in (0, 1):
            self.assertEqual(self.h[i].login(users[i], oath(now=t), "n").returncode, 0)
        with self.h.store_down():
            secure = self.h[0].login("alice", oath(now=t, step=1), "n")
            safe = self.h[1].login("bob", oath(now=t, step=1), "n")
            # Host 0 published alice when it added her; host 1 has both from its sync.
            getent = [self.h.getent(0, "passwd", "alice")] + [self.h.getent(1, "passwd", u) for u in users]
        self.assertNotEqual(secure.returncode, 0, secure.stdout + secure.stderr)
        self.assertIn("unavailable", secure.stdout + secure.stderr)
        self.assertEqual(safe.returncode, 0, safe.stdout + safe.stderr)
        self.assertIn("fail_mode=safe", safe.stdout + safe.stderr)
        slack = 2.0  # pamtester, pam_wrapper and the module's own start on a loaded machine
        for r in (secure, safe):
            self.assertLess(r.elapsed, self.timeout_ms / 1000 + slack)
        for r in getent:
            self.assertRegex(r.stdout, r"^(alice|bob):x:\d+:")
        # Back: the same ehr2fad serves the next login, on every host.
        for i in (0, 1):
            r = self.h[i].login(users[i], oath(now=t, step=1), "n")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIsNone(self.daemons[i].poll())
            self.assertIs(self.h[i].daemon, self.daemons[i])
            accepted = [x for x in self.h[0].audit(users[i]) if x["action"] == "second factor accepted"]
            self.assertEqual(len(accepted), 2)


def prerequisites():
    if BACKEND == "postgresql":
        import pg
        if not pg.bindir():
            raise unittest.SkipTest("PostgreSQL not installed (/usr/lib/postgresql/*/bin/initdb): scripts/deps.sh "
                                    "installs it")


if __name__ == "__main__":
    ehrtest.main(prerequisites)
