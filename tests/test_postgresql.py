# SPDX-License-Identifier: GPL-2.0-or-later
"""The PostgreSQL store, against a real server (tests/pg.py): init creates the
schema, logins work in-process and through ehr2fad, a schema newer than this
build is refused and an older one migrated, a password file open to others is
refused, and a server stopped mid-run gives the fail_mode outcome within
store_timeout_ms, then logins resume once it is back without restarting
ehr2fad."""

import os
import re
import time
import unittest

import ehrtest
import pg
from ehrtest import Env, oath

SERVER = None


def setUpModule():
    global SERVER
    SERVER = pg.Server().setup()


def tearDownModule():
    if SERVER:
        SERVER.cleanup()


class PgEnv(Env):
    """An Env whose rows are in a fresh database of the shared server."""

    def __init__(self, conf_extra="", **kw):
        self.locator = SERVER.new_database()
        super().__init__(conf_extra, **kw)
        self.pwfile = SERVER.password_file(self.dir)
        self.base_extra = f"store = {self.locator}\nstore_password_file = {self.pwfile}\nstore_timeout_ms = 1000\n"
        self.write_conf(self.base_extra + conf_extra)

    def sql(self, q):
        return SERVER.sql(self.locator, q)


class PgTestCase(unittest.TestCase):
    conf_extra = ""

    def setUp(self):
        SERVER.start() if not SERVER.running else None
        self.env = PgEnv(self.conf_extra, testclock=True)
        r = self.env.admin("init")
        self.assertIn("postgresql://", r.stdout)

    def tearDown(self):
        self.env.cleanup()
        if not SERVER.running:
            SERVER.start()


class Schema(PgTestCase):
    def test_init_creates_the_schema_and_logins_work(self):
        version = re.search(r"schema (\d+)", self.env.admin("migrate").stdout).group(1)
        self.assertGreaterEqual(int(version), 5)
        self.assertEqual(self.env.sql("SELECT num FROM meta WHERE key = 'schema_version'").strip(), version)
        self.env.add_user("alice")
        # The rows are in the server, the key in store_dir: no SQLite file anywhere.
        self.assertFalse(os.path.exists(os.path.join(self.env.store, "ehr2fa.db")))
        self.assertTrue(os.path.exists(os.path.join(self.env.store, "master.key")))
        self.assertEqual(self.env.sql("SELECT login FROM users").split(), ["alice"])
        code = oath()
        r = self.env.login("alice", code, ops=("authenticate", "acct_mgmt"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.env.login("alice", code)
        self.assertNotEqual(r.returncode, 0, "a replayed code was accepted")
        self.assertEqual(self.env.admin("audit", "verify").returncode, 0)

    def test_newer_schema_is_refused_with_a_clear_message(self):
        self.env.add_user("alice")
        self.env.sql("UPDATE meta SET num = 99 WHERE key = 'schema_version'")
        r = self.env.admin("user", "list", check=False)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("schema version 99, newer than this ehr2fa", r.stderr)
        r = self.env.admin("migrate", check=False)
        self.assertEqual(r.returncode, 4)
        self.assertEqual(self.env.sql("SELECT num FROM meta WHERE key = 'schema_version'").strip(), "99")
        self.assertNotEqual(self.env.login("alice", oath()).returncode, 0)

    def test_older_schema_is_migrated_keeping_the_users(self):
        self.env.add_user("alice")
        version = re.search(r"schema (\d+)", self.env.admin("migrate").stdout).group(1)
        # What migrations 4 to 8 added, taken away again: the store as schema 3 left it
        # (a later migration adds its own undoing here).
        self.env.sql("DROP TABLE grace_logins; DROP TABLE break_glass; ALTER TABLE permissions DROP CONSTRAINT permissions_perm_check;"
                     "ALTER TABLE permissions ADD CONSTRAINT permissions_perm_check"
                     " CHECK (perm IN ('manage_accounts', 'help_desk', 'audit_export'));"
                     "DROP TABLE reset_requests; DROP TABLE reset_tokens;"
                     "DROP TABLE passwords; DROP TABLE group_members; DROP TABLE groups; DROP INDEX users_uid;"
                     "ALTER TABLE users DROP COLUMN uid, DROP COLUMN gid, DROP COLUMN home, DROP COLUMN shell,"
                     " DROP COLUMN locked; UPDATE meta SET num = 3 WHERE key = 'schema_version'")
        r = self.env.login("alice", oath())
        self.assertNotEqual(r.returncode, 0, "the module used a store of an older schema")
        r = self.env.admin("migrate")
        self.assertIn(f"schema {version}", r.stdout)
        self.assertEqual(self.env.sql("SELECT num FROM meta WHERE key = 'schema_version'").strip(), version)
        self.assertIn("alice", self.env.admin("user", "list").stdout)
        self.assertEqual(self.env.login("alice", oath()).returncode, 0)

    def test_password_file_open_to_others_is_refused(self):
        os.chmod(self.env.pwfile, 0o644)
        r = self.env.admin("user", "list", check=False)
        self.assertEqual(r.returncode, 4)
        self.assertIn(self.env.pwfile, r.stderr)
        self.assertIn("chmod go-rwx", r.stderr)
        os.chmod(self.env.pwfile, 0o600)
        with open(self.env.pwfile, "w") as f:
            f.write("wrong\n")
        r = self.env.admin("user", "list", check=False)
        self.assertEqual(r.returncode, 4)
        self.assertIn("cannot connect", r.stderr)
        self.assertNotIn("wrong", r.stderr.replace("wrong password", ""))


class ServerDown(PgTestCase):
    """PostgreSQL stopped mid-run: logins end within store_timeout_ms in the fail
    mode, and resume once it is back, ehr2fad reconnecting by itself."""

    def stopped_then_back(self, fail_mode, daemon):
        self.env.write_conf(self.env.base_extra + f"fail_mode = {fail_mode}\n")
        self.env.add_user("alice")
        if daemon:
            self.env.use_daemon = True
            self.env.write_conf(self.env.base_extra + f"fail_mode = {fail_mode}\n")
            self.env.start_daemon()
        t = int(time.time())
        self.assertEqual(self.env.login("alice", oath(now=t), now=t).returncode, 0)
        SERVER.stop()
        r = self.env.login("alice", oath(now=t + 30), now=t + 30)
        self.assertLess(r.elapsed, 4.0, "a login waited past store_timeout_ms")
        if fail_mode == "secure":
            self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        else:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        SERVER.start()
        time.sleep(0.5)  # past the first backoff step
        r = self.env.login("alice", oath(now=t + 60), now=t + 60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        if daemon:
            self.assertIsNotNone(self.env.daemon)
            self.assertIsNone(self.env.daemon.poll(), "ehr2fad died")
            served = [line for line in self.env.daemon_lines() if "verify" in line]
            self.assertGreaterEqual(len(served), 2, self.env.daemon_lines())
        return r

    def test_restart_between_logins_costs_no_login(self):
        """The server restarts (or fails over) while ehr2fad's connection is idle:
        the next login finds it closed and connects again, and is not failed."""
        self.env.use_daemon = True
        self.env.write_conf(self.env.base_extra)
        self.env.add_user("alice")
        self.env.start_daemon()
        t = int(time.time())
        self.assertEqual(self.env.login("alice", oath(now=t), now=t).returncode, 0)
        SERVER.stop()
        SERVER.start()
        r = self.env.login("alice", oath(now=t + 30), now=t + 30)
        self.assertEqual(r.returncode, 0, r.stdout + "\n".join(self.env.daemon_lines()))
        self.assertIsNone(self.env.daemon.poll(), "ehr2fad died")
        verified = [line for line in self.env.daemon_lines() if "verify" in line and "r=0" in line]
        self.assertEqual(len(verified), 2, "\n".join(self.env.daemon_lines()))

    def test_ehr2fad_started_while_the_server_is_down(self):
        """ehr2fad starts with the server down (boot order, an outage), says so,
        and serves once the server answers."""
        self.env.use_daemon = True
        self.env.write_conf(self.env.base_extra)
        self.env.add_user("alice")
        SERVER.stop()
        self.env.start_daemon()
        self.assertTrue(any("will connect when it answers" in line for line in self.env.daemon_lines()),
                        self.env.daemon_lines())
        t = int(time.time())
        r = self.env.login("alice", oath(now=t), now=t)
        self.assertNotEqual(r.returncode, 0)
        self.assertLess(r.elapsed, 4.0)
        SERVER.start()
        time.sleep(0.6)  # past the daemon's first backoff step
        r = self.env.login("alice", oath(now=t + 30), now=t + 30)
        self.assertEqual(r.returncode, 0, r.stdout + "\n".join(self.env.daemon_lines()))
        verified = [line for line in self.env.daemon_lines() if "op=verify" in line and "r=0" in line]
        self.assertEqual(len(verified), 1, "\n".join(self.env.daemon_lines()))

    def test_secure_in_process(self):
        self.stopped_then_back("secure", daemon=False)

    def test_safe_in_process(self):
        self.stopped_then_back("safe", daemon=False)

    def test_secure_through_ehr2fad(self):
        self.stopped_then_back("secure", daemon=True)

    def test_safe_through_ehr2fad(self):
        self.stopped_then_back("safe", daemon=True)


class StoreCopy(unittest.TestCase):
    """An SQLite store moved to the server: users, enrollments, recovery codes,
    groups, permissions and the audit chain arrive intact, in one transaction;
    the copy logs in with the same codes and `audit verify` passes there."""

    def test_copy_then_login_and_verify(self):
        src = Env(testclock=True)
        try:
            src.admin("init")
            src.add_user("alice")
            src.add_user("bob", role="provider")
            src.admin("user", "add", "carol", "--role", "staff", "--provider", "bob")
            src.admin("group", "add", "ward7")
            src.admin("group", "member", "add", "ward7", "alice")
            src.admin("perm", "grant", "bob", "help_desk")
            codes = src.admin("recovery", "new", "alice").stdout
            t = int(time.time())
            self.assertEqual(src.login("alice", oath(now=t), now=t).returncode, 0)
            self.assertNotEqual(src.login("bob", "000000", now=t).returncode, 0)
            before = src.admin("--json", "user", "list").stdout
            rows_before = len(src.audit())

            target = SERVER.new_database()
            pwfile = SERVER.password_file(src.dir)
            r = src.admin("store", "copy", "--from", os.path.join(src.store, "ehr2fa.db"), "--to", target,
                          "--password-file", pwfile)
            self.assertIn("the audit chain verifies", r.stdout)
            self.assertIn("3 users", r.stdout)

            # The same key directory, the rows now in the server.
            with open(src.conf, "a") as f:
                f.write(f"store = {target}\nstore_password_file = {pwfile}\n")
            self.assertEqual(src.admin("audit", "verify").returncode, 0)
            self.assertEqual(src.admin("--json", "user", "list").stdout, before)
            self.assertEqual(len(src.audit()), rows_before + 1)  # and the copy's own row
            self.assertIn("help_desk", src.admin("perm", "list", "bob").stdout)
            groups = src.admin("group", "list").stdout
            self.assertIn("ward7", groups)
            self.assertIn("alice", groups)
            # The code used before the copy stays used; the next one works; so does a recovery code.
            self.assertNotEqual(src.login("alice", oath(now=t), now=t).returncode, 0)
            self.assertEqual(src.login("alice", oath(now=t + 30), now=t + 30).returncode, 0)
            recovery = [w for w in codes.split() if len(w) == 11 and w[5] == "-"]
            self.assertTrue(recovery, codes)
            self.assertEqual(src.login("alice", recovery[0], now=t + 31).returncode, 0)
            self.assertEqual(SERVER.sql(target, "SELECT count(*) FROM users").strip(), "3")

            # A second copy into the same (now not empty) store is refused, nothing written.
            r = src.admin("store", "copy", "--from", src.store, "--to", target, "--password-file", pwfile,
                          check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("not empty", r.stderr)
            self.assertEqual(SERVER.sql(target, "SELECT count(*) FROM users").strip(), "3")
        finally:
            src.cleanup()


def check_prerequisites():
    ehrtest.need("pamtester")
    ehrtest.need("oathtool")
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (PostgreSQL runs as postgres)")
    pg.Server().cleanup()  # raises SkipTest where PostgreSQL is not installed


if __name__ == "__main__":
    ehrtest.main(check_prerequisites)
