#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The second factor through real libpam: pam_matrix checks the password,
pam_ehr2fa.so the code; codes come from oathtool."""

import contextlib
import os
import re
import sqlite3
import subprocess
import time
import unittest

from ehrtest import EnvTestCase, Env, early_in_step, oath, need_strace, SECRET, PASSWORD, MODULE, DAEMON_MODE, ADMIN

HOST = os.environ.get("EHR2FA_PAM_HOST_SQLITE")


def out(r):
    return r.stdout + r.stderr


class TotpLogin(EnvTestCase):
    def test_oathtool_code_logs_in(self):
        self.env.add_user("alice")
        r = self.env.login("alice", oath(), ops=("authenticate", "acct_mgmt"))
        self.assertLoginOK(r)
        self.assertIn("Verification code:", out(r))
        rows = self.env.audit("alice")
        self.assertEqual(rows[-1]["action"], "second factor accepted")
        self.assertIn("service=ehr2fa-test", rows[-1]["source"])

    def test_wrong_code_fails(self):
        self.env.add_user("alice")
        good = oath()
        wrong = "%06d" % ((int(good) + 1) % 1000000)
        r = self.env.login("alice", wrong)
        self.assertLoginFails(r)
        self.assertIn("Verification failed", out(r))
        self.assertEqual(self.env.audit("alice")[-1]["action"], "second factor failed")

    def test_wrong_password_fails_even_with_good_code(self):
        self.env.add_user("alice")
        self.assertLoginFails(self.env.login("alice", oath(), password="wrong"))

    def test_same_code_twice_fails_second_time(self):
        self.env.add_user("alice")
        code = oath()
        self.assertLoginOK(self.env.login("alice", code))
        r = self.env.login("alice", code)
        self.assertLoginFails(r)
        self.assertIn("replayed", self.env.audit("alice")[-1]["details"])

    def test_same_code_in_many_logins_at_once_works_once(self):
        """Someone who saw a code typed races its owner with it: of 8 logins that
        answer the same code at the same moment, each in its own process, exactly
        one gets in; the others are refused as replays and counted."""
        self.env.write_conf("deny = 20")  # 7 failures must not lock: each is to be seen as a replay
        self.env.add_user("alice")
        r = self.env.race("alice", oath(), 8)
        self.assertEqual((r["prompted"], r["success"], r["failed"], r["other"]), (8, 1, 7, 0), r["stderr"])
        rows = self.env.audit("alice")
        self.assertEqual([x["action"] for x in rows].count("second factor accepted"), 1)
        failed = [x for x in rows if x["action"] == "second factor failed"]
        self.assertEqual(len(failed), 7)
        self.assertTrue(all("replayed" in x["details"] for x in failed), failed)
        self.assertIn("intact", self.env.admin("audit", "verify").stdout)

    def test_older_code_after_newer_is_refused(self):
        self.env.add_user("alice")
        self.assertLoginOK(self.env.login("alice", oath()))
        self.assertLoginFails(self.env.login("alice", oath(step=-1)))

    def test_code_with_spaces_as_apps_show_it(self):
        self.env.add_user("alice")
        code = oath()
        self.assertLoginOK(self.env.login("alice", code[:3] + " " + code[3:]))

    def test_empty_answer_is_a_failure(self):
        self.env.add_user("alice")
        r = self.env.login("alice", "")
        self.assertLoginFails(r)
        self.assertIn("empty", self.env.audit("alice")[-1]["details"])

    def test_seven_digits_sha256(self):
        self.env.add_user("bob", digits=7, algorithm="SHA256")
        code = oath(digits=7, algorithm="sha256")
        self.assertEqual(len(code), 7)
        self.assertLoginOK(self.env.login("bob", code))

    def test_eight_digits_sha512(self):
        self.env.add_user("bob", digits=8, algorithm="SHA512")
        self.assertLoginOK(self.env.login("bob", oath(digits=8, algorithm="sha512")))

    def test_code_not_in_audit_or_messages(self):
        self.env.add_user("alice")
        code = oath()
        r = self.env.login("alice", code)
        self.assertLoginOK(r)
        wrong = "%06d" % ((int(code) + 7) % 1000000)
        r2 = self.env.login("alice", wrong)
        text = self.env.admin("audit", "show").stdout + out(r) + out(r2).replace(f"{wrong}\n", "")
        self.assertNotIn(code, text)
        self.assertNotIn(wrong, self.env.admin("audit", "show").stdout)
        self.assertNotIn(SECRET, self.env.admin("audit", "show").stdout)


class RecoveryCodes(EnvTestCase):
    def codes(self, user):
        r = self.env.admin("recovery", "new", user)
        return [l.strip() for l in r.stdout.splitlines() if l.startswith("  ")]

    def test_recovery_code_works_once(self):
        self.env.add_user("alice")
        codes = self.codes("alice")
        self.assertEqual(len(codes), 10)
        self.assertEqual(len(set(codes)), 10)
        r = self.env.login("alice", codes[0])
        self.assertLoginOK(r)
        self.assertIn("9 left", out(r))
        self.assertLoginFails(self.env.login("alice", codes[0]))
        self.assertLoginOK(self.env.login("alice", codes[1].upper().replace("-", "")))

    def test_recovery_code_in_many_logins_at_once_works_once(self):
        self.env.write_conf("deny = 20")
        self.env.add_user("alice")
        codes = self.codes("alice")
        r = self.env.race("alice", codes[0], 8)
        self.assertEqual((r["prompted"], r["success"], r["failed"], r["other"]), (8, 1, 7, 0), r["stderr"])
        accepted = [x for x in self.env.audit("alice") if x["action"] == "second factor accepted"]
        self.assertEqual(len(accepted), 1)
        self.assertIn("recovery", accepted[0]["details"])
        self.assertLoginOK(self.env.login("alice", codes[1]))

    def test_new_codes_void_old_ones(self):
        self.env.add_user("alice")
        old = self.codes("alice")
        new = self.codes("alice")
        self.assertLoginFails(self.env.login("alice", old[0]))
        self.assertLoginOK(self.env.login("alice", new[0]))

    def test_other_users_code_fails(self):
        self.env.add_user("alice")
        self.env.add_user("bob")
        codes = self.codes("alice")
        self.assertLoginFails(self.env.login("bob", codes[0]))

    def test_reset_voids_app_and_codes(self):
        self.env.add_user("alice")
        codes = self.codes("alice")
        self.env.admin("totp", "reset", "alice")
        self.assertLoginFails(self.env.login("alice", codes[0]))
        self.assertLoginFails(self.env.login("alice", oath()))


class Lockout(EnvTestCase):
    conf_extra = "deny = 3\nfail_interval = 900\nunlock_time = 600\n"
    testclock = True

    def test_lock_after_deny_and_unlock_after_unlock_time(self):
        self.env.add_user("alice")
        t = int(time.time())
        for i in range(3):
            r = self.env.login("alice", "000000", now=t + i)
            self.assertLoginFails(r)
        self.assertIn("locked", out(r))
        # Locked: told so plainly, no code asked, even the right code is not checked.
        r = self.env.login("alice", oath(now=t + 60), now=t + 60, ops=("authenticate",))
        self.assertLoginFails(r)
        self.assertIn("locked", out(r))
        self.assertNotIn("Verification code:", out(r))
        r = self.env.login("alice", now=t + 61, ops=("acct_mgmt",))
        self.assertLoginFails(r)
        show = self.env.admin("--json", "lockout", "show", "alice").stdout
        self.assertIn('"locked":true', show)
        # After unlock_time the right code works again.
        later = t + 2 + 600 + 1
        self.assertLoginOK(self.env.login("alice", oath(now=later), now=later, ops=("authenticate", "acct_mgmt")))
        actions = [row["action"] for row in self.env.audit("alice")]
        self.assertIn("account locked", actions)

    def test_wrong_codes_at_once_are_all_counted(self):
        """Eight wrong codes at the same moment, each login a process of its own: no
        failure is lost to another login's count. The third locks the account, and
        the five after it are refused as locked, their codes not checked."""
        self.env.add_user("alice")
        wrong = "%06d" % ((int(oath()) + 500000) % 1000000)
        r = self.env.race("alice", wrong, 8)
        self.assertEqual((r["prompted"], r["success"], r["failed"], r["other"]), (8, 0, 8, 0), r["stderr"])
        actions = [x["action"] for x in self.env.audit("alice")]
        self.assertEqual(actions.count("second factor failed"), 3)
        self.assertEqual(actions.count("account locked"), 1)
        self.assertEqual(actions.count("second factor refused"), 5)
        self.assertIn('"failures":3,', self.env.admin("--json", "lockout", "show", "alice").stdout)
        self.assertIn('"locked":true', self.env.admin("--json", "lockout", "show", "alice").stdout)

    def test_admin_clears_lock(self):
        self.env.add_user("alice")
        t = int(time.time())
        for i in range(3):
            self.env.login("alice", "111111", now=t)
        self.assertLoginFails(self.env.login("alice", oath(now=t), now=t))
        self.env.admin("lockout", "clear", "alice")
        self.assertIn("not locked", self.env.admin("lockout", "show", "alice").stdout)
        self.assertLoginOK(self.env.login("alice", oath(now=t), now=t))
        self.assertEqual(self.env.audit("alice")[-2]["action"], "lockout cleared")

    def test_failures_outside_interval_do_not_lock(self):
        self.env.add_user("alice")
        t = int(time.time())
        for i in range(4):
            self.assertLoginFails(self.env.login("alice", "000000", now=t + i * 1000))
        self.assertLoginOK(self.env.login("alice", oath(now=t + 4000), now=t + 4000))


class Enrollment(EnvTestCase):
    def test_unknown_user_denied_after_same_prompt(self):
        self.env.add_user("alice")
        with open(self.env.passdb, "a") as f:
            f.write(f"mallory:{PASSWORD}:{self.env.service}\n")
        r = self.env.login("mallory", "123456")
        self.assertLoginFails(r)
        self.assertIn("Verification code:", out(r))
        self.assertIn("Verification failed", out(r))

    def test_hostile_user_name_not_written_to_audit(self):
        self.env.add_user("alice")
        evil = "mallory\x1b[2J;rm"
        self.assertLoginFails(self.env.login(evil, "123456"))
        rows = self.env.audit()
        self.assertEqual(rows[-1]["user"], "(invalid name)")
        self.assertFalse(any("\x1b" in r["user"] or "\x1b" in r["details"] for r in rows))

    def test_not_enrolled_denied(self):
        self.env.add_user("carol", secret=None)
        self.assertLoginFails(self.env.login("carol", "123456"))

    def test_nullok_lets_unenrolled_through_without_prompt(self):
        self.env.add_user("carol", secret=None)
        self.env.set_module_args("nullok")
        r = self.env.login("carol")
        self.assertLoginOK(r)
        self.assertNotIn("Verification code:", out(r))
        # nullok returns PAM_IGNORE: the password module still decides.
        self.assertLoginFails(self.env.login("carol", password="wrong"))
        self.assertEqual(self.env.audit("carol")[-1]["action"], "second factor skipped")
        # and an enrolled user still needs the code.
        self.env.add_user("alice")
        self.assertLoginFails(self.env.login("alice", "000000"))


class BadInput(EnvTestCase):
    def test_malformed_config_denies_with_file_and_line(self):
        self.env.add_user("alice")
        self.env.write_conf("window = 1\nwindwo = 2\n")
        r = self.env.login("alice", oath())
        self.assertLoginFails(r)
        self.assertIn("unavailable", out(r))
        self.assertIn("ehr2fa.conf:4: unknown key 'windwo'", out(r))  # pam_syslog via pam_wrapper
        a = self.env.admin("user", "list", check=False)
        self.assertEqual(a.returncode, 4)
        self.assertIn("ehr2fa.conf:4: unknown key 'windwo'", a.stderr)

    def test_duplicate_key_in_config_denies_with_both_lines(self):
        self.env.add_user("alice")
        self.env.write_conf("window = 1\nwindow = 3\n")
        r = self.env.login("alice", oath())
        self.assertLoginFails(r)
        self.assertIn("unavailable", out(r))
        self.assertIn("ehr2fa.conf:4: duplicate key 'window' (already set on line 3)", out(r))
        a = self.env.admin("user", "list", check=False)
        self.assertEqual(a.returncode, 4)
        self.assertIn("ehr2fa.conf:4: duplicate key 'window' (already set on line 3)", a.stderr)

    def test_module_argument_typo_denies_like_the_file(self):
        # The same typo the file refuses (test above) is refused on the PAM line too,
        # with the argument named: never logged and skipped.
        self.env.add_user("alice")
        for args, why in (("windw=3", "unknown module argument 'windw=3'"),
                          ("window=1 window=3", "module argument 'window' given twice (arguments 2 and 3)"),
                          ("nullok nullok=no", "module argument 'nullok' given twice"),
                          ("window", "module argument 'window' needs a value"),
                          ("helper=ehr2fa-helper", "module argument 'helper=ehr2fa-helper' is not an absolute path")):
            self.env.set_module_args(args)
            r = self.env.login("alice", oath(), ops=("authenticate",))
            self.assertLoginFails(r)
            self.assertIn("unavailable", out(r), args)
            self.assertIn(f"configuration error: {why}", out(r), args)
            self.assertNotIn("Verification code:", out(r), args)  # refused before any prompt
            r = self.env.login("alice", ops=("acct_mgmt",))
            self.assertLoginFails(r)
        # fail_mode = safe does not turn a bad argument into a pass.
        self.env.write_conf("fail_mode = safe\n")
        self.env.set_module_args("windw=3")
        self.assertLoginFails(self.env.login("alice", oath()))

    def test_module_argument_overrides_the_file(self):
        # The documented rule (pam_ehr2fa(8)): an argument wins over the file's key, on its line.
        self.env.add_user("alice")
        self.env.write_conf("window = 0\n")
        early_in_step()  # two steps back must not become three before the module checks it
        self.assertLoginFails(self.env.login("alice", oath(step=-2)))
        self.env.set_module_args("window=2")
        self.assertLoginOK(self.env.login("alice", oath(step=-2)))

    def test_store_0644_refused(self):
        self.env.add_user("alice")
        db = os.path.join(self.env.store, "ehr2fa.db")
        os.chmod(db, 0o644)
        r = self.env.login("alice", oath())
        self.assertLoginFails(r)
        a = self.env.admin("user", "list", check=False)
        self.assertEqual(a.returncode, 4)
        self.assertIn(db, a.stderr)
        self.assertIn("chmod go-rwx", a.stderr)

    def test_key_0644_refused(self):
        self.env.add_user("alice")
        key = os.path.join(self.env.store, "master.key")
        os.chmod(key, 0o644)
        self.assertLoginFails(self.env.login("alice", oath()))
        a = self.env.admin("user", "list", check=False)
        self.assertIn(key, a.stderr)

    def test_seed_copied_from_other_user_fails(self):
        self.env.add_user("alice", secret=SECRET)
        self.env.add_user("bob", secret="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        db = sqlite3.connect(os.path.join(self.env.store, "ehr2fa.db"))
        db.execute("UPDATE totp SET sealed = (SELECT sealed FROM totp WHERE user_id = "
                   "(SELECT id FROM users WHERE login = 'alice')) WHERE user_id = "
                   "(SELECT id FROM users WHERE login = 'bob')")
        db.commit()
        db.close()
        r = self.env.login("bob", oath(SECRET))
        self.assertLoginFails(r)
        self.assertIn("does not open", self.env.audit("bob")[-1]["details"])
        self.assertLoginOK(self.env.login("alice", oath(SECRET)))

    def test_missing_store_secure_denies_safe_allows(self):
        self.env.add_user("alice")
        os.rename(self.env.store, self.env.store + ".gone")
        r = self.env.login("alice", oath())
        self.assertLoginFails(r)
        self.assertIn("unavailable", out(r))
        self.env.write_conf("fail_mode = safe\n")
        r = self.env.login("alice")
        self.assertLoginOK(r)
        self.assertIn("fail_mode=safe", out(r))  # the syslog line says why
        # Safe mode still needs the password: PAM_IGNORE, never PAM_SUCCESS.
        self.assertLoginFails(self.env.login("alice", password="wrong"))

    def test_fifo_config_does_not_hang(self):
        self.env.add_user("alice")
        os.unlink(self.env.conf)
        os.mkfifo(self.env.conf)
        r = self.env.login("alice", "123456", timeout=20)
        self.assertLoginFails(r)
        self.assertLess(r.elapsed, 10)

    def test_hostile_store_values_do_not_crash(self):
        self.env.add_user("alice")
        db = sqlite3.connect(os.path.join(self.env.store, "ehr2fa.db"))
        db.execute("UPDATE totp SET digits = 99, algorithm = 'MD5', sealed = x'00'")
        db.commit()
        db.close()
        r = self.env.login("alice", oath())
        self.assertLoginFails(r)
        self.assertNotIn("Segmentation", out(r))


class StoreFiles(EnvTestCase):
    @unittest.skipIf(DAEMON_MODE, "with ehr2fad the daemon sizes the WAL and logins do not open the store")
    def test_logins_keep_the_wal_and_lose_nothing(self):
        """In-process logins neither create nor delete the WAL and -shm files (a login
        costs no file creation), the WAL stays small, and another SQLite reading the
        store afterwards sees every audit row."""
        self.env.write_conf("deny = 100\n")
        self.env.add_user("alice")
        wal = os.path.join(self.env.store, "ehr2fa.db-wal")
        wrong = "%06d" % ((int(oath()) + 1) % 1000000)
        self.assertLoginFails(self.env.login("alice", wrong))
        ino = os.stat(wal).st_ino
        for _ in range(12):
            self.assertLoginFails(self.env.login("alice", wrong))
            self.assertEqual(os.stat(wal).st_ino, ino, "the WAL was deleted and made again")
        self.assertLoginOK(self.env.login("alice", oath()))
        self.assertEqual(os.stat(wal).st_ino, ino)
        self.assertLess(os.path.getsize(wal), 96 * 4120 + 32, "the WAL grows with logins")
        rows = self.env.audit("alice")
        self.assertEqual([r["action"] for r in rows].count("second factor failed"), 13)
        self.assertEqual(rows[-1]["action"], "second factor accepted")
        self.assertIn("intact", self.env.admin("audit", "verify").stdout)

    @unittest.skipUnless(HOST, "EHR2FA_PAM_HOST_SQLITE not set")
    def test_host_using_sqlite_survives_module_unload(self):
        """libpam unloads the module at pam_end(): a host that uses SQLite itself must
        find nothing of the module left in its SQLite afterwards."""
        self.env.add_user("alice")
        svcdir = os.path.join(self.env.dir, "host.d")
        os.mkdir(svcdir)
        with open(os.path.join(svcdir, "host"), "w") as f:
            f.write(f"auth required {MODULE} conf={self.env.conf} daemon_socket=none\n")
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        r = subprocess.run([HOST, svcdir, "host", "alice", oath(), "3"], capture_output=True, text=True,
                           timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("login 1: Success", r.stdout)
        self.assertIn("host SQLite fine after 3 login(s)", r.stdout)
        # Loading libcurl and its ~35 libraries costs milliseconds per login process;
        # only a login that sends a text message may load it.
        self.assertIn("libcurl loaded: no", r.stdout)
        # Checked in-process, the code needs libsodium: loaded when the store opened.
        self.assertIn("libsodium loaded at the code prompt: yes", r.stdout)


class StoreSyncs(EnvTestCase):
    testclock = True

    @unittest.skipIf(DAEMON_MODE, "with ehr2fad logins do not open the store")
    def test_good_code_syncs_the_wal_not_the_directory(self):
        """The use of a code is made durable by syncing the WAL, once. The store
        directory is synced only when a login has to create the WAL, not in every
        login (SQLite's unix VFS would sync it at each connection's first sync)."""
        need_strace()
        self.env.add_user("alice")
        trace = os.path.join(self.env.dir, "syncs")
        store = os.path.realpath(self.env.store)

        def syncs(code, at):
            r = self.env.login("alice", code, now=at, syscalls=(("fsync", "fdatasync"), trace))
            self.assertLoginOK(r)
            with open(trace) as f:
                return re.findall(r"f(?:data)?sync\(\d+<([^>]*)>\)", f.read())

        t0 = int(time.time())
        wal = os.path.join(store, "ehr2fa.db-wal")
        # No WAL yet (a plain SQLite checkpointed it away as it closed): the login makes it.
        with contextlib.closing(sqlite3.connect(os.path.join(store, "ehr2fa.db"))) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.assertFalse(os.path.exists(wal))
        first = syncs(oath(now=t0), t0)
        self.assertTrue(os.path.exists(wal))
        self.assertIn(wal, first, "the WAL holding the used code was not synced")
        self.assertEqual(first.count(store), 1, f"a new WAL's directory entry is synced once: {first}")
        # The WAL exists: a later login syncs it, and not the directory.
        for i in (1, 2, 3):
            later = syncs(oath(now=t0 + 30 * i), t0 + 30 * i)
            self.assertIn(wal, later)
            self.assertNotIn(store, later, f"login {i + 1} synced the store directory: {later}")
        self.assertEqual(self.env.audit("alice")[-1]["action"], "second factor accepted")


class HostileStore(EnvTestCase):
    """Files and values in the store that ehr2fa did not write: refused, named, in bounded time."""

    def db(self):
        return contextlib.closing(sqlite3.connect(os.path.join(self.env.store, "ehr2fa.db")))

    def admin_bounded(self, *args):
        # Not env.admin(): a hang must fail the test in seconds, not after a minute.
        return subprocess.run([ADMIN, "--conf", self.env.conf, *args], capture_output=True, text=True, timeout=20)

    def test_fifo_journal_refused_in_bounded_time(self):
        self.env.add_user("alice")
        journal = os.path.join(self.env.store, "ehr2fa.db-journal")
        os.mkfifo(journal, 0o600)
        r = self.env.login("alice", oath(), timeout=20)
        self.assertLoginFails(r)
        self.assertLess(r.elapsed, 10)
        a = self.admin_bounded("lockout", "show", "alice")
        self.assertEqual(a.returncode, 4)
        self.assertIn(f"{journal} is not a regular file", a.stderr)
        self.assertIn(f"rm {journal}", a.stderr)
        if not DAEMON_MODE:
            self.assertIn(f"{journal} is not a regular file", out(r))  # the module's syslog line
        os.unlink(journal)
        self.assertLoginOK(self.env.login("alice", oath()))

    def side_file_refused(self, name, change):
        self.env.add_user("alice")
        path = os.path.join(self.env.store, "ehr2fa.db" + name)
        if not os.path.exists(path):
            open(path, "wb").close()
        change(path)
        before = os.stat(path)
        r = self.env.login("alice", oath(), timeout=20)
        self.assertLoginFails(r)
        a = self.admin_bounded("user", "list")
        self.assertEqual(a.returncode, 4)
        self.assertIn(f"store file refused: {path}", a.stderr)
        # Not adopted: SQLite neither chowned nor chmodded it, so it is the same file as before.
        after = os.stat(path)
        self.assertEqual((after.st_uid, after.st_mode, after.st_ino), (before.st_uid, before.st_mode, before.st_ino))

    def test_world_writable_wal_refused(self):
        self.side_file_refused("-wal", lambda p: os.chmod(p, 0o666))

    def test_world_writable_shm_refused(self):
        self.side_file_refused("-shm", lambda p: os.chmod(p, 0o666))

    @unittest.skipUnless(os.geteuid() == 0, "needs root to give a file away")
    def test_wal_of_another_user_refused(self):
        self.side_file_refused("-wal", lambda p: os.chown(p, 65534, 65534))

    @unittest.skipUnless(os.geteuid() == 0, "needs root to give a file away")
    def test_shm_of_another_user_refused(self):
        self.side_file_refused("-shm", lambda p: os.chown(p, 65534, 65534))

    def test_writable_parent_of_store_refused_unless_sticky(self):
        self.env.add_user("alice")
        os.chmod(self.env.dir, 0o777)
        self.assertLoginFails(self.env.login("alice", oath()))
        a = self.admin_bounded("user", "list")
        self.assertEqual(a.returncode, 4)
        self.assertIn(f"{self.env.dir} (above the store directory", a.stderr)
        self.assertIn(f"chmod go-w {self.env.dir}", a.stderr)
        os.chmod(self.env.dir, 0o1777)  # sticky, as /tmp: nobody else can rename the store away
        self.assertLoginOK(self.env.login("alice", oath()))
        os.chmod(self.env.dir, 0o700)

    def test_negative_failure_count_fails_closed_and_is_audited(self):
        self.env.add_user("alice")
        with self.db() as db:
            db.execute("INSERT OR REPLACE INTO failures(user_id, count, first, last, consecutive, locked_until) "
                       "SELECT id, -100, 0, 0, 0, 0 FROM users WHERE login = 'alice'")
            db.commit()
        # Read as a huge unsigned count, the next failure used to wrap it to 0: extra guesses.
        r = self.env.login("alice", oath())
        self.assertLoginFails(r)
        self.assertIn("impossible value", out(r) + "\n".join(self.env.daemon_lines()))
        rows = [a for a in self.env.audit("alice") if a["action"] == "second factor refused"]
        self.assertTrue(rows, self.env.audit("alice"))
        self.assertIn("failures.count = -100", rows[-1]["details"])
        with self.db() as db:
            self.assertEqual(db.execute("SELECT count FROM failures").fetchall(), [(-100,)])  # nothing counted
        self.env.admin("lockout", "clear", "alice")  # the way out: the row is dropped
        self.assertLoginOK(self.env.login("alice", oath()))

    def test_out_of_range_stored_integers_fail_closed(self):
        cases = [
            # digits 2^32 + 6 used to be cut to 32 bits: read as 6, and the code accepted.
            ("UPDATE totp SET digits = 4294967302", "totp.digits = 4294967302"),
            ("UPDATE totp SET period = -30", "totp.period = -30"),
            ("UPDATE totp SET last_step = 'soon'", "totp.last_step is not an integer"),
            ("INSERT OR REPLACE INTO failures SELECT id, 0, 0, 0, -1, 0 FROM users", "failures.consecutive = -1"),
            ("INSERT OR REPLACE INTO failures SELECT id, 0, 0, 0, 0, -2 FROM users", "failures.locked_until = -2"),
        ]
        for sql, named in cases:
            with self.subTest(sql=sql):
                self.env.cleanup()
                self.env = Env()
                self.env.admin("init")
                self.env.add_user("alice")
                with self.db() as db:
                    db.execute(sql)
                    db.commit()
                self.assertLoginFails(self.env.login("alice", oath()))
                self.assertIn(named, self.env.audit("alice")[-1]["details"])

    def test_hand_inserted_audit_row_says_chain_is_broken(self):
        self.env.add_user("alice")
        with self.db() as db:
            seq = db.execute("SELECT max(seq) FROM audit").fetchone()[0] + 1
            db.execute("INSERT INTO audit(seq, time, user, actor, type, action, details, source, mac) "
                       "VALUES (?, 0, 'alice', 'x', 'auth', 'x', 'x', 'x', zeroblob(32))", (seq,))
            db.commit()
        r = self.env.login("alice", oath())
        self.assertLoginFails(r)
        self.assertNotIn("File exists", out(r))
        if not DAEMON_MODE:
            self.assertIn("audit chain is broken", out(r))
            self.assertIn("audit verify", out(r))
        a = self.admin_bounded("audit", "verify")
        self.assertEqual(a.returncode, 5)
        self.assertIn(f"row {seq}", a.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
