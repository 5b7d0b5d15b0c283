#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Staff accounts end to end: ehr2fa-admin writes the store and publishes the
snapshot; getent and id see it through libnss_ehr.so.2 (nss_wrapper)."""

import json
import os
import re
import sqlite3
import stat
import subprocess
import unittest

from ehrtest import EnvTestCase

NSS_MODULE = os.path.abspath(os.environ.get("EHR2FA_NSS_MODULE", ""))


def asan_preload(so):
    out = subprocess.run(["ldd", so], capture_output=True, text=True).stdout
    return re.findall(r"(\S*libasan\.so\S*) => (\S+)", out)


@unittest.skipUnless(os.path.exists(NSS_MODULE) and os.path.exists("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"),
                     "needs libnss_ehr.so.2 and nss_wrapper")
class Accounts(EnvTestCase):
    def setUp(self):
        self.snapshot = None
        super().setUp()
        self.snapshot = os.path.join(self.env.dir, "nss", "snapshot")
        self.env.write_conf(f"nss_snapshot = {self.snapshot}\nuid_min = 61000\nuid_max = 61999\n"
                            f"home_base = /home/staff\n")
        self.files = os.path.join(self.env.dir, "files")
        os.mkdir(self.files)
        with open(os.path.join(self.files, "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nlocal:x:900:900::/home/local:/bin/sh\n")
        with open(os.path.join(self.files, "group"), "w") as f:
            f.write("root:x:0:\nlocal:x:900:\n")

    def nss(self, *cmd):
        preload = [p for _, p in asan_preload(NSS_MODULE)] + ["libnss_wrapper.so"]
        env = dict(os.environ, LD_PRELOAD=":".join(preload), NSS_WRAPPER_PASSWD=os.path.join(self.files, "passwd"),
                   NSS_WRAPPER_GROUP=os.path.join(self.files, "group"), NSS_WRAPPER_MODULE_SO_PATH=NSS_MODULE,
                   NSS_WRAPPER_MODULE_FN_PREFIX="ehr", EHR2FA_NSS_SNAPSHOT=self.snapshot,
                   ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0", NSS_WRAPPER_DISABLE_DEEPBIND="1")
        return subprocess.run(list(cmd), capture_output=True, text=True, env=env, timeout=30)

    def test_added_user_visible_deleted_gone(self):
        self.env.admin("user", "add", "nurse1", "--name", "Nina Nurse", "--role", "staff")
        st = os.stat(self.snapshot)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644)  # world-readable, and no secrets in it
        r = self.nss("getent", "passwd", "nurse1")
        self.assertEqual(r.returncode, 0, r.stderr)
        fields = r.stdout.strip().split(":")
        self.assertEqual(fields, ["nurse1", "x", "61000", "61000", "Nina Nurse", "/home/staff/nurse1", "/bin/bash"])
        self.assertEqual(self.nss("getent", "passwd", "61000").stdout.split(":")[0], "nurse1")
        self.assertEqual(self.nss("getent", "group", "nurse1").stdout.strip(), "nurse1:x:61000:")
        data = open(self.snapshot, "rb").read()
        self.assertNotIn(b"$6$", data)
        self.env.admin("user", "del", "nurse1")
        self.assertEqual(self.nss("getent", "passwd", "nurse1").returncode, 2)

    def test_groups_and_supplementary_groups(self):
        self.env.admin("user", "add", "nurse1")
        self.env.admin("user", "add", "nurse2", "--uid", "61500", "--shell", "/bin/sh", "--home", "/srv/n2")
        self.env.admin("group", "add", "icu", "--gid", "61900")
        self.env.admin("group", "member", "add", "icu", "nurse1")
        self.env.admin("group", "member", "add", "icu", "nurse2")
        self.assertEqual(self.nss("getent", "group", "icu").stdout.strip(), "icu:x:61900:nurse1,nurse2")
        self.assertEqual(self.nss("getent", "passwd", "nurse2").stdout.strip(),
                         "nurse2:x:61500:61500:Nurse2:/srv/n2:/bin/sh".replace("Nurse2", ""))
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
