#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Staff accounts end to end: ehr2fa-admin writes the store and publishes the
snapshot; getent and id see it through libnss_ehr.so.2 (nss_wrapper)."""

import json
import grp
import os
import shutil
import sqlite3
import stat
import subprocess
import unittest

from ehrtest import ADMIN, NSS_MODULE, NSS_WRAPPER, SECRET, EnvTestCase, asan_preload, nss_run, oath, \
    sanitizer_preload


@unittest.skipUnless(os.path.exists(NSS_MODULE) and os.path.exists(NSS_WRAPPER), "needs libnss_ehr.so.2 and nss_wrapper")
class Accounts(EnvTestCase):
    def setUp(self):
        self.snapshot = None
        super().setUp()
        self.snapshot = os.path.join(self.env.dir, "nss", "snapshot")
        self.homes = os.path.join(self.env.dir, "home", "staff")
        self.skel = os.path.join(self.env.dir, "skel")
        self.env.write_conf(f"nss_snapshot = {self.snapshot}\nuid_min = 61000\nuid_max = 61999\n"
                            f"home_base = {self.homes}\nskel_dir = {self.skel}\n")
        self.files = os.path.join(self.env.dir, "files")
        os.mkdir(self.files)
        # The host's own accounts ("files"): what the system resolves without us.
        with open(os.path.join(self.files, "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nlocal:x:900:900::/home/local:/bin/sh\n"
                    "hostuser:x:61001:900::/home/hostuser:/bin/sh\n")
        with open(os.path.join(self.files, "group"), "w") as f:
            f.write("root:x:0:\nlocal:x:900:\nhostgrp:x:61002:\n")

    def host_env(self, with_module=False, preload=()):
        """nss_wrapper: the host's users are self.files, and libnss_ehr only when asked."""
        env = {"LD_PRELOAD": ":".join(list(preload) + ["libnss_wrapper.so"]),
               "NSS_WRAPPER_PASSWD": os.path.join(self.files, "passwd"),
               "NSS_WRAPPER_GROUP": os.path.join(self.files, "group"),
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
        if with_module:
            env.update(NSS_WRAPPER_MODULE_SO_PATH=NSS_MODULE, NSS_WRAPPER_MODULE_FN_PREFIX="ehr",
                       EHR2FA_NSS_SNAPSHOT=self.snapshot, NSS_WRAPPER_DISABLE_DEEPBIND="1")
        return env

    def admin(self, *args, check=True):
        """ehr2fa-admin on a host whose own users are self.files."""
        preload = [p for _, p in asan_preload(ADMIN)]
        return self.env.admin(*args, check=check, env_extra=self.host_env(preload=preload))

    def nss(self, *cmd):
        return nss_run(self.files, self.snapshot, *cmd)

    def test_added_user_visible_deleted_gone(self):
        self.env.admin("user", "add", "nurse1", "--name", "Nina Nurse", "--role", "staff")
        st = os.stat(self.snapshot)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644)  # world-readable, and no secrets in it
        r = self.nss("getent", "passwd", "nurse1")
        self.assertEqual(r.returncode, 0, r.stderr)
        fields = r.stdout.strip().split(":")
        self.assertEqual(fields, ["nurse1", "x", "61000", "61000", "Nina Nurse", f"{self.homes}/nurse1", "/bin/bash"])
        self.assertEqual(self.nss("getent", "passwd", "61000").stdout.split(":")[0], "nurse1")
        self.assertEqual(self.nss("getent", "group", "nurse1").stdout.strip(), "nurse1:x:61000:")
        data = open(self.snapshot, "rb").read()
        self.assertNotIn(b"$6$", data)
        self.env.admin("user", "del", "nurse1")
        self.assertEqual(self.nss("getent", "passwd", "nurse1").returncode, 2)

    def test_user_add_says_when_the_host_will_not_show_the_account(self):
        """Published, but this host's nsswitch.conf does not list ehr (the tests' host:
        nss_wrapper serves the lookups): user add says what to do, and still succeeds."""
        with open("/etc/nsswitch.conf") as f:
            if any(ln.startswith("passwd:") and " ehr" in ln for ln in f):
                self.skipTest("this host's nsswitch.conf lists ehr")
        r = self.admin("user", "add", "nurse7")
        self.assertEqual(r.returncode, 0)
        self.assertIn("Added nurse7", r.stdout)
        self.assertIn("does not list \"ehr\" for passwd: the system will not show it (getent passwd nurse7)", r.stderr)

    def test_groups_and_supplementary_groups(self):
        self.env.admin("user", "add", "nurse1")
        n2 = os.path.join(self.env.dir, "srv", "n2")
        self.env.admin("user", "add", "nurse2", "--uid", "61500", "--shell", "/bin/sh", "--home", n2)
        self.env.admin("group", "add", "icu", "--gid", "61900")
        self.env.admin("group", "member", "add", "icu", "nurse1")
        self.env.admin("group", "member", "add", "icu", "nurse2")
        self.assertEqual(self.nss("getent", "group", "icu").stdout.strip(), "icu:x:61900:nurse1,nurse2")
        self.assertEqual(self.nss("getent", "passwd", "nurse2").stdout.strip(),
                         f"nurse2:x:61500:61500::{n2}:/bin/sh")
        ids = self.nss("id", "-G", "nurse1").stdout.split()
        self.assertEqual(sorted(ids), ["61000", "61900"])
        self.env.admin("group", "member", "del", "icu", "nurse1")
        self.assertEqual(self.nss("id", "-G", "nurse1").stdout.split(), ["61000"])
        self.env.admin("group", "del", "icu")
        self.assertEqual(self.nss("getent", "group", "icu").returncode, 2)
        # A uid the store or the system uses is refused.
        r = self.env.admin("user", "add", "x", "--uid", "61000", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already in use", r.stderr)

    def test_uid_never_clashes_with_the_system(self):
        # nobody (65534) is in /etc/passwd and nogroup (65534) in /etc/group: the allocator skips them.
        self.env.write_conf(f"nss_snapshot = {self.snapshot}\nuid_min = 65534\nuid_max = 65600\n")
        out = self.env.admin("user", "add", "n1").stdout
        self.assertIn("uid 65535", out)
        r = self.env.admin("user", "add", "n2", "--uid", "65534", check=False)
        self.assertEqual(r.returncode, 1)

    def test_user_in_named_primary_group(self):
        self.env.admin("group", "add", "clinic", "--gid", "61800")
        self.env.admin("user", "add", "clerk", "--group", "clinic")
        self.assertEqual(self.nss("getent", "passwd", "clerk").stdout.split(":")[3], "61800")

    def test_shadow_snapshot_beside_it(self):
        """shadow(5) lines for managed accounts only, root:shadow 0640 like /etc/shadow;
        an account without a password is locked ("!"). test_passwd reads it through NSS."""
        self.env.admin("user", "add", "nurse1")
        self.admin("user", "add", "local", "--existing")
        shadow = os.path.join(os.path.dirname(self.snapshot), "shadow")
        st = os.stat(shadow)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertEqual(st.st_uid, 0)
        self.assertEqual(st.st_gid, grp.getgrnam("shadow").gr_gid)
        with open(shadow) as f:
            self.assertEqual(f.read(), "nurse1:!:::::::\n")  # nine fields; no 2FA-only record
        self.env.admin("user", "del", "nurse1")
        self.assertEqual(os.path.getsize(shadow), 0)

    def test_lock_is_reflected(self):
        self.env.admin("user", "add", "nurse1")
        self.env.admin("user", "lock", "nurse1")
        self.assertTrue(self.nss("getent", "passwd", "nurse1").stdout.strip().endswith(":/usr/sbin/nologin"))
        self.env.admin("user", "unlock", "nurse1")
        self.assertTrue(self.nss("getent", "passwd", "nurse1").stdout.strip().endswith(":/bin/bash"))
        actions = [r["action"] for r in self.env.audit("nurse1")]
        self.assertIn("account locked by administrator", actions)

    def test_unpublishable_values_refused_when_written(self):
        """Each field has one rule, which the writer and the snapshot share: a value the
        snapshot cannot publish is refused by the command that writes it, naming the rule,
        and publishing keeps working for everyone else."""
        cases = [
            (["user", "add", "a" * 64], "bad login", "1 to 32 characters"),
            (["user", "add", "n" * 33], "bad login", "1 to 32 characters"),
            (["user", "add", "12345"], "bad login", "not all digits"),
            (["user", "add", "nurse9", "--phone", "+0 (555 1234567"], "bad phone number", "international form"),
            (["user", "add", "nurse9", "--name", "Nina\tNurse"], "bad name", "no control characters"),
            (["user", "add", "nurse9", "--home", "/home/a:b"], "bad --home or --shell", "absolute path"),
            (["group", "add", "4242"], "bad group name", "not all digits"),
            (["group", "add", "g" * 33], "bad group name", "1 to 32 characters"),
        ]
        for args, msg, rule in cases:
            r = self.env.admin(*args, check=False)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")
            self.assertIn(msg, r.stderr, args)
            self.assertIn(rule, r.stderr, args)
        self.assertEqual(self.env.admin("--json", "user", "list").stdout.strip(), "[]")
        # Nothing was left behind that stops the next change from being published.
        self.env.admin("user", "add", "nurse1", "--phone", "+1 (555) 123-4567")
        self.assertEqual(self.nss("getent", "passwd", "nurse1").returncode, 0)
        self.assertEqual(json.loads(self.env.admin("--json", "user", "show", "nurse1").stdout)["phone"], "+15551234567")

    def test_publishing_names_a_stored_value_that_breaks_a_rule(self):
        self.env.admin("user", "add", "nurse1")
        # A row written before the rules (or by hand): publishing says whose it is.
        db = sqlite3.connect(os.path.join(self.env.store, "ehr2fa.db"))
        db.execute("UPDATE users SET login = ? WHERE login = 'nurse1'", ("x" * 40,))
        db.commit()
        db.close()
        r = self.env.admin("nss", "publish", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("x" * 40, r.stderr)
        self.assertIn("1 to 32 characters", r.stderr)

    def test_enumeration(self):
        for n in ("a1", "a2", "a3"):
            self.env.admin("user", "add", n)
        names = [l.split(":")[0] for l in self.nss("getent", "passwd").stdout.splitlines()]
        self.assertTrue({"a1", "a2", "a3", "root", "local"} <= set(names))

    # --- issue 15: the host's accounts, uids, publishing, homes ---

    def test_existing_account_gets_2fa_without_a_second_entry(self):
        out = self.admin("user", "add", "local", "--existing", "--phone", "+15551234566").stdout
        self.assertIn("local", out)
        # No NSS entry of ours: the host's own is the only one.
        self.assertEqual(self.nss("getent", "passwd", "local").stdout.strip(), "local:x:900:900::/home/local:/bin/sh")
        names = [l.split(":")[0] for l in self.nss("getent", "passwd").stdout.splitlines()]
        self.assertEqual(names.count("local"), 1)
        self.assertFalse(os.path.exists(os.path.join(self.homes, "local")))  # its home is not ours either
        # The second factor, through real libpam, for the account the host resolves.
        self.env.admin("totp", "enroll", "local", "--secret", SECRET, "--no-qr")
        with open(self.env.passdb, "a") as f:
            f.write(f"local:pw:{self.env.service}\n")
        nss = self.host_env(preload=sanitizer_preload())
        nss["LD_PRELOAD"] += ":libpam_wrapper.so"
        self.assertNotEqual(self.env.login("local", "000000", password="pw", env_extra=nss).returncode, 0)
        # Help desk and audit as for anyone.
        self.assertIn("Failures:        1", self.env.admin("user", "show", "local").stdout)
        self.env.admin("lockout", "clear", "local")
        self.assertIn("Failures:        0", self.env.admin("user", "show", "local").stdout)
        r = self.env.login("local", oath(), password="pw", env_extra=nss)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        actions = [a["action"] for a in self.env.audit("local")]
        self.assertIn("user added", actions)
        self.assertTrue(any("existing" in a["details"] for a in self.env.audit("local") if a["action"] == "user added"))
        r = self.admin("user", "lock", "local", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("host's own account", r.stderr)
        # Deleting the record leaves the host's account alone.
        self.admin("user", "del", "local")
        self.assertEqual(self.nss("getent", "passwd", "local").stdout.split(":")[2], "900")

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"), "needs root and unshare")
    def test_our_own_module_never_vouches_for_a_name(self):
        """With the real glibc and 'passwd: files ehr' (a private mount namespace), a
        name only our snapshot knows (a stale copy) is not the host's account."""
        self.env.admin("user", "add", "ghost")
        stale = os.path.join(self.env.dir, "stale-snapshot")
        shutil.copy(self.snapshot, stale)
        self.env.admin("user", "del", "ghost")
        conf = os.path.join(self.env.dir, "nsswitch.conf")
        with open(conf, "w") as f:
            f.write("passwd: files ehr\ngroup: files ehr\n")
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(NSS_MODULE), EHR2FA_NSS_SNAPSHOT=stale)

        def run(*cmd, **extra):
            return subprocess.run(["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/nsswitch.conf && exec "$@"',
                                   conf, *cmd], capture_output=True, text=True, env=dict(env, **extra), timeout=60)
        # Under ASan, getent needs the runtime first to load the instrumented module.
        asan = {"LD_PRELOAD": ":".join(p for _, p in asan_preload(NSS_MODULE)),
                "ASAN_OPTIONS": "detect_leaks=0:verify_asan_link_order=0"} if asan_preload(NSS_MODULE) else {}
        r = run("getent", "passwd", "ghost", **asan)
        self.assertEqual(r.stdout.split(":")[0], "ghost", r.stderr)  # the module is in use
        r = run(ADMIN, "--conf", self.env.conf, "user", "add", "ghost", "--existing")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("does not resolve", r.stderr)
        r = run(ADMIN, "--conf", self.env.conf, "user", "add", "ghost")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("uid 61001", r.stdout)  # and never the deleted ghost's 61000

    def test_existing_must_resolve_and_takes_no_account_options(self):
        r = self.admin("user", "add", "ghost", "--existing", check=False)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("ghost", r.stderr)
        self.assertIn("does not resolve", r.stderr)
        r = self.admin("user", "add", "local", "--existing", "--uid", "61500", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(self.admin("user", "list").stdout.count("local"), 0)

    def test_name_of_a_host_account_is_refused_for_a_managed_one(self):
        r = self.admin("user", "add", "local", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--existing", r.stderr)
        lines = [l for l in self.nss("getent", "passwd").stdout.splitlines() if l.startswith("local:")]
        self.assertEqual(lines, ["local:x:900:900::/home/local:/bin/sh"])
        # A group name the host has is refused as well (our private and named groups share the namespace).
        r = self.admin("group", "add", "hostgrp", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)

    def test_uids_are_never_reused(self):
        self.assertIn("uid 61000", self.admin("user", "add", "a1").stdout)
        self.admin("user", "del", "a1")
        # 61001 is hostuser's uid and 61002 hostgrp's gid: neither may be ours.
        self.assertIn("uid 61003", self.admin("user", "add", "a2").stdout)
        self.admin("group", "add", "g1")
        self.assertEqual(self.nss("getent", "group", "g1").stdout.split(":")[2], "61004")
        self.admin("group", "del", "g1")
        self.admin("user", "add", "a3")
        self.assertEqual(self.nss("getent", "passwd", "a3").stdout.split(":")[2], "61005")

    def test_uid_outside_the_range_or_used_by_the_host_is_refused(self):
        for uid in ("59000", "62000"):
            r = self.admin("user", "add", "a1", "--uid", uid, check=False)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("61000..61999", r.stderr)
        r = self.admin("group", "add", "g1", "--gid", "59000", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        for uid in ("61001", "61002"):  # hostuser's uid, hostgrp's gid
            r = self.admin("user", "add", "a1", "--uid", uid, check=False)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("already in use", r.stderr)
        self.assertEqual(self.nss("getent", "passwd", "a1").returncode, 2)

    def test_unpublishable_login_is_refused_when_written(self):
        for login in ("a" * 40, "12345"):
            r = self.admin("user", "add", login, check=False)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("not all digits", r.stderr)  # the rule, in words
        # Nothing was written: the next user is added and published at once.
        r = self.admin("user", "add", "nurse1")
        self.assertEqual(self.nss("getent", "passwd", "nurse1").returncode, 0)
        self.assertEqual(self.admin("user", "list").stdout.count("12345"), 0)

    def test_snapshot_directory_is_created_readable(self):
        self.assertFalse(os.path.exists(os.path.dirname(self.snapshot)))
        self.admin("user", "add", "nurse1")
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.snapshot)).st_mode), 0o755)

    def test_user_add_fails_when_it_cannot_publish(self):
        blocker = os.path.join(self.env.dir, "blocker")
        open(blocker, "w").close()
        self.env.write_conf(f"nss_snapshot = {blocker}/nss/snapshot\nuid_min = 61000\nuid_max = 61999\n")
        r = self.admin("user", "add", "nurse1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("publish", r.stderr)

    def test_home_from_skel(self):
        os.makedirs(os.path.join(self.skel, ".config"))
        with open(os.path.join(self.skel, ".bashrc"), "w") as f:
            f.write("# skel\n")
        with open(os.path.join(self.skel, ".config", "app.conf"), "w") as f:
            f.write("x=1\n")
        os.chmod(os.path.join(self.skel, ".config", "app.conf"), 0o640)
        os.symlink("/etc/hostname", os.path.join(self.skel, ".link"))
        self.admin("user", "add", "nurse1")
        home = os.path.join(self.homes, "nurse1")
        st = os.lstat(home)
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o700, 61000, 61000))
        with open(os.path.join(home, ".bashrc")) as f:
            self.assertEqual(f.read(), "# skel\n")
        st = os.lstat(os.path.join(home, ".config", "app.conf"))
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o640, 61000))
        self.assertEqual(os.lstat(os.path.join(home, ".config")).st_uid, 61000)
        self.assertEqual(os.readlink(os.path.join(home, ".link")), "/etc/hostname")
        self.assertEqual(os.lstat(os.path.join(home, ".link")).st_uid, 61000)
        # --no-home: none; a home that exists is left as it is.
        self.admin("user", "add", "nurse2", "--no-home")
        self.assertFalse(os.path.exists(os.path.join(self.homes, "nurse2")))
        os.mkdir(os.path.join(self.homes, "nurse3"), 0o755)
        r = self.admin("user", "add", "nurse3")
        self.assertIn("exists", r.stderr)
        self.assertEqual(os.stat(os.path.join(self.homes, "nurse3")).st_uid, 0)
        self.assertEqual(self.nss("getent", "passwd", "nurse3").returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
