#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The help desk: Support PIN, Unlock PIN through the setuid helper, permissions,
on-behalf requests, staff 2FA set up by a manager, audit export."""

import csv
import io
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import unittest

from ehrtest import (EnvTestCase, Env, SetuidHelper, oath, pam_wrapper_lock, sanitizer_preload, PAM_MATRIX,
                     MODULE, ADMIN, PASSWORD, SECRET, NOBODY)


def pin_of(text):
    return re.search(r"\b(\d{4})\b", text).group(1)


class Base(EnvTestCase):
    template = None  # the store after populate(), made once and copied for each test

    def setUp(self):
        """Eleven admin runs per test cost most of this suite's time under ASan: they
        run once, and every test starts from a copy of the store they left."""
        self.env = Env(self.conf_extra, self.module_args, self.testclock)
        if Base.template is None:
            self.env.admin("init")
            self.populate()
            Base.template = tempfile.mkdtemp(prefix="ehr2fa-template-")
            shutil.copytree(self.env.store, os.path.join(Base.template, "store"), symlinks=True)
        else:
            shutil.copytree(os.path.join(Base.template, "store"), self.env.store, symlinks=True)

    @classmethod
    def tearDownClass(cls):
        if Base.template:
            shutil.rmtree(Base.template, ignore_errors=True)
            Base.template = None

    def populate(self):
        a = self.env.admin
        a("user", "add", "drsmith", "--role", "provider", "--name", "Dr. Ann Smith", "--phone", "+15551230001")
        a("user", "add", "drjones", "--role", "provider", "--name", "Dr. Bo Jones")
        a("user", "add", "nurse1", "--role", "staff", "--provider", "drsmith", "--phone", "+15551230066",
          "--email", "nurse1@example.org", "--name", "Nina Nurse")
        a("user", "add", "clerk1", "--role", "staff", "--provider", "drsmith")
        a("user", "add", "hd1", "--role", "staff", "--name", "Help Desk One")
        a("user", "add", "mgr1", "--role", "staff", "--name", "Manager One")
        a("user", "add", "co1", "--role", "staff", "--name", "Compliance Officer")
        a("perm", "grant", "hd1", "help_desk")
        a("perm", "grant", "mgr1", "manage_accounts")
        a("perm", "grant", "co1", "audit_export")

    def view_pin(self, user):
        r = self.env.admin("support-pin", "view", as_user=user)
        return pin_of(r.stdout)

    def actions(self, user=None):
        return [(r["action"], r["details"]) for r in self.env.audit(user)]


class SupportPin(Base):
    def test_every_user_gets_a_pin_and_can_view_it(self):
        p = self.view_pin("nurse1")
        self.assertRegex(p, r"^\d{4}$")
        self.assertIn(("Not specified", "Support PIN viewed for user"), self.actions("nurse1"))
        self.assertIn(("Update", "Generated New PIN for user"), self.actions("nurse1"))
        self.assertEqual(self.view_pin("nurse1"), p)  # viewing does not change it

    def test_new_pin(self):
        self.env.admin("support-pin", "new", as_user="nurse1")
        self.assertEqual(self.actions("nurse1").count(("Update", "Generated New PIN for user")), 2)

    def test_validate_success_rotates(self):
        p = self.view_pin("nurse1")
        r = self.env.admin("support-pin", "validate", "nurse1", input=p + "\n", as_user="hd1")
        self.assertIn("Support PIN valid", r.stdout)
        acts = self.actions("nurse1")
        self.assertIn(("Not specified", "Successful validation of Support PIN for user nurse1"), acts)
        self.assertEqual(acts[-1], ("Update", "Generated New PIN for user"))
        # The old PIN is spent: validating it again fails (unless the new one happens to be equal).
        new = self.view_pin("nurse1")
        if new != p:
            r = self.env.admin("support-pin", "validate", "nurse1", input=p + "\n", as_user="hd1", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("NOT valid", r.stdout)
        self.assertEqual(self.env.admin("support-pin", "validate", "nurse1", input=new + "\n",
                                        as_user="hd1").returncode, 0)

    def test_five_failures_lock_until_manager_clears(self):
        p = self.view_pin("nurse1")
        wrong = "%04d" % ((int(p) + 1) % 10000)
        for i in range(4):
            r = self.env.admin("support-pin", "validate", "nurse1", input=wrong + "\n", as_user="hd1", check=False)
            self.assertEqual(r.returncode, 1)
        r = self.env.admin("support-pin", "validate", "nurse1", input=wrong + "\n", as_user="hd1", check=False)
        self.assertEqual(r.returncode, 7)
        self.assertIn("LOCKED", r.stdout)
        r = self.env.admin("support-pin", "validate", "nurse1", input=p + "\n", as_user="hd1", check=False)
        self.assertEqual(r.returncode, 7)  # even the right PIN
        self.assertIn(("Not specified", "Unsuccessful validation of Support PIN for user nurse1 (1 of 5)"),
                      self.actions("nurse1"))
        # The help desk cannot clear it; a manager can.
        r = self.env.admin("support-pin", "unlock", "nurse1", as_user="hd1", check=False)
        self.assertEqual(r.returncode, 6)
        self.env.admin("support-pin", "unlock", "nurse1", as_user="mgr1")
        self.assertEqual(self.env.admin("support-pin", "validate", "nurse1", input=p + "\n",
                                        as_user="hd1").returncode, 0)

    def test_only_help_desk_validates(self):
        p = self.view_pin("nurse1")
        for who in ("clerk1", "mgr1", "co1"):
            r = self.env.admin("support-pin", "validate", "nurse1", input=p + "\n", as_user=who, check=False)
            self.assertEqual(r.returncode, 6, who)
            self.assertIn("Help Desk", r.stderr)
        self.assertIn("permission denied", [a for a, d in self.actions()])

    def test_pin_never_in_argv_or_audit(self):
        p = self.view_pin("nurse1")
        r = self.env.admin("support-pin", "validate", "nurse1", p, as_user="hd1", check=False)
        self.assertEqual(r.returncode, 2)  # no PIN on the command line
        self.env.admin("support-pin", "validate", "nurse1", input=p + "\n", as_user="hd1")
        rows = self.env.audit()
        text = json.dumps([{k: v for k, v in row.items() if k not in ("seq", "time")} for row in rows])
        self.assertNotIn(p, text)

    def test_pin_sealed_to_its_user(self):
        p = self.view_pin("nurse1")
        db = sqlite3.connect(os.path.join(self.env.store, "ehr2fa.db"))
        db.execute("UPDATE support_pins SET sealed = (SELECT sealed FROM support_pins WHERE user_id = "
                   "(SELECT id FROM users WHERE login = 'nurse1')) WHERE user_id = "
                   "(SELECT id FROM users WHERE login = 'clerk1')")
        db.commit()
        db.close()
        r = self.env.admin("support-pin", "validate", "clerk1", input=p + "\n", as_user="hd1", check=False)
        self.assertEqual(r.returncode, 5)


class Requests(Base):
    def request(self, for_, by):
        r = self.env.admin("support", "request", "--for", for_, "--by", by, as_user="hd1")
        return int(re.search(r"#(\d+)", r.stdout).group(1)), r.stdout

    def state(self, rid):
        return json.loads(self.env.admin("--json", "support", "show", str(rid), as_user="hd1").stdout)[0]

    def test_provider_for_staff_can_assist(self):
        rid, out = self.request("nurse1", "drsmith")
        self.assertIn("support can assist", out)
        self.assertEqual(self.state(rid)["state"], "approved")

    def test_note_follows_the_free_text_rule(self):
        r = self.env.admin("support", "request", "--for", "nurse1", "--by", "drsmith", "--note", "line\nbreak",
                           as_user="hd1", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("bad note", r.stderr)
        self.assertIn("no control characters", r.stderr)
        self.assertEqual(json.loads(self.env.admin("--json", "support", "list", as_user="hd1").stdout), [])

    def test_staff_for_provider_needs_that_provider(self):
        rid, out = self.request("drsmith", "nurse1")
        self.assertIn("provider approval is needed", out)
        st = self.state(rid)
        self.assertEqual((st["state"], st["approver"]), ("open", "drsmith"))
        r = self.env.admin("support", "approve", str(rid), as_user="drjones", check=False)
        self.assertEqual(r.returncode, 6)
        r = self.env.admin("support", "approve", str(rid), as_user="hd1", check=False)
        self.assertEqual(r.returncode, 6)
        self.assertEqual(self.state(rid)["state"], "open")
        self.env.admin("support", "approve", str(rid), as_user="drsmith")
        st = self.state(rid)
        self.assertEqual(st["state"], "approved")
        self.assertIn("approved by provider drsmith", st["how"])

    def test_staff_for_staff_needs_primary_provider_or_their_pin(self):
        rid, _ = self.request("clerk1", "nurse1")
        self.assertEqual(self.state(rid)["approver"], "drsmith")
        p = self.view_pin("drsmith")
        wrong = "%04d" % ((int(p) + 1) % 10000)
        r = self.env.admin("support", "approve", str(rid), "--pin", input=wrong + "\n", as_user="hd1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.state(rid)["state"], "open")
        self.env.admin("support", "approve", str(rid), "--pin", input=p + "\n", as_user="hd1")
        self.assertEqual(self.state(rid)["state"], "approved")
        self.assertIn("Support PIN of provider drsmith validated", self.state(rid)["how"])
        r = self.env.admin("support", "approve", str(rid), as_user="drsmith", check=False)
        self.assertEqual(r.returncode, 1)  # already approved

    def test_every_step_audited(self):
        rid, _ = self.request("drsmith", "nurse1")
        self.env.admin("support", "approve", str(rid), as_user="drsmith")
        details = [d for a, d in self.actions("drsmith") if a == "Support request"]
        self.assertEqual(len(details), 2)


class UnlockPin(Base):
    def test_equal_to_support_pin_refused(self):
        p = self.view_pin("nurse1")
        r = self.env.admin("unlock-pin", "set", input=p + "\n", as_user="nurse1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("must differ from your Support PIN", r.stderr)
        other = "%04d" % ((int(p) + 5) % 10000)
        self.env.admin("unlock-pin", "set", input=other + "\n", as_user="nurse1")
        # Stored only as a keyed hash.
        db = sqlite3.connect(os.path.join(self.env.store, "ehr2fa.db"))
        (h,) = db.execute("SELECT hash FROM unlock_pins").fetchone()
        db.close()
        self.assertEqual(len(h), 32)
        self.assertNotIn(other.encode(), h)

    def test_not_four_digits_refused(self):
        for bad in ("123", "12345", "abcd", ""):
            r = self.env.admin("unlock-pin", "set", input=bad + "\n", as_user="nurse1", check=False)
            self.assertEqual(r.returncode, 2, bad)

    def test_new_support_pin_never_equals_unlock_pin(self):
        p = self.view_pin("nurse1")
        u = "%04d" % ((int(p) + 1) % 10000)
        self.env.admin("unlock-pin", "set", input=u + "\n", as_user="nurse1")
        for _ in range(20):
            self.env.admin("support-pin", "new", as_user="nurse1")
            self.assertNotEqual(self.view_pin("nurse1"), u)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root and setpriv")
class PrivilegedPath(Base):
    """The Unlock PIN and self-service as an unprivileged uid, through a setuid helper."""

    def setUp(self):
        super().setUp()
        # nobody is the host's own account: a 2FA-only record, no second NSS entry.
        self.env.admin("user", "add", "nobody", "--existing", "--role", "staff")
        self.env.admin("unlock-pin", "set", input="8642\n", as_user="nobody")
        self.env.admin("unlock-pin", "set", input="1357\n", as_user="nurse1")
        self.setuid = SetuidHelper(self.env)
        self.module, self.admin, self.helper = self.setuid.module, self.setuid.admin, self.setuid.helper

    def tearDown(self):
        self.setuid.cleanup()
        super().tearDown()

    def as_nobody(self, args, input=None, env_extra=None):
        return self.setuid.run_as(NOBODY, args, input, env_extra)

    def test_helper_answers_for_the_caller_only(self):
        self.assertEqual(self.as_nobody([self.helper, "unlock"], "8642\n").returncode, 0)
        self.assertEqual(self.as_nobody([self.helper, "unlock", "nobody"], "8642\n").returncode, 0)
        self.assertEqual(self.as_nobody([self.helper, "unlock"], "1111\n").returncode, 1)
        # Another uid's PIN, right or wrong: refused without checking.
        self.assertEqual(self.as_nobody([self.helper, "unlock", "nurse1"], "1357\n").returncode, 5)
        self.assertEqual(self.as_nobody([self.helper, "unlock", "nurse1"], "0000\n").returncode, 5)
        # nurse1 was not charged a failure by nobody's attempts.
        self.assertNotIn("screen unlock failed", [a for a, d in self.actions("nurse1")])

    def test_helper_lockout(self):
        for i in range(4):
            self.assertEqual(self.as_nobody([self.helper, "unlock"], "0000\n").returncode, 1)
        self.assertEqual(self.as_nobody([self.helper, "unlock"], "0000\n").returncode, 2)
        self.assertEqual(self.as_nobody([self.helper, "unlock"], "8642\n").returncode, 2)

    def pam_unlock(self, pin, helper=None, user="nobody"):
        with open(os.path.join(self.env.svcdir, "screensaver"), "w") as f:
            f.write(f"auth required {self.module} conf={self.env.conf} unlock helper={helper or self.helper}\n")
        env = {"LD_PRELOAD": ":".join(sanitizer_preload() + ["libpam_wrapper.so"]), "PAM_WRAPPER": "1",
               "PAM_WRAPPER_SERVICE_DIR": self.env.svcdir, "ASAN_OPTIONS": "detect_leaks=0"}
        with pam_wrapper_lock():
            return self.as_nobody(["pamtester", "-v", "screensaver", user, "authenticate"], pin + "\n", env)

    def test_pam_unlock_mode_as_unprivileged_user(self):
        r = self.pam_unlock("8642")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Unlock PIN:", r.stdout + r.stderr)
        r = self.pam_unlock("1111")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Wrong Unlock PIN", r.stdout + r.stderr)
        r = self.pam_unlock("1357", user="nurse1")  # nurse1's right PIN, asked by nobody
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("screen unlocked", [a for a, d in self.actions("nobody")])

    def test_pin_goes_through_a_pipe_not_argv(self):
        spy = os.path.join(self.setuid.dir, "spy-helper")
        log = os.path.join(self.setuid.dir, "spy.log")
        with open(spy, "w") as f:
            f.write(f"#!/bin/sh\necho \"argv: $*\" >> {log}\nread pin\necho \"stdin: $pin\" >> {log}\nexit 0\n")
        os.chmod(spy, 0o755)
        os.chmod(self.setuid.dir, 0o777)
        self.pam_unlock("8642", helper=spy)
        text = open(log).read()
        self.assertIn("argv: unlock nobody", text)
        self.assertIn("stdin: 8642", text)
        self.assertNotIn("8642", text.split("stdin:")[0])

    def test_self_service_through_ehr2fa_admin(self):
        r = self.as_nobody([self.admin, "support-pin", "view"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"Support PIN of nobody: \d{4}")
        r = self.as_nobody([self.admin, "device", "list", "nobody"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.as_nobody([self.admin, "device", "list", "nurse1"])
        self.assertEqual(r.returncode, 6)
        r = self.as_nobody([self.admin, "user", "list"])  # not self-service: the store stays closed
        self.assertNotEqual(r.returncode, 0)
        r = self.as_nobody([self.helper, "self", "user", "list"])
        self.assertEqual(r.returncode, 6)
        r = self.as_nobody([self.admin, "unlock-pin", "set"], "2468\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.as_nobody([self.helper, "unlock"], "2468\n").returncode, 0)


    def test_self_service_defaults_to_the_caller(self):
        # No login: the caller's own account, through the helper as through sudo.
        for args in (["device", "list"], ["lockout", "show"], ["--json", "lockout", "show"]):
            r = self.as_nobody([ADMIN] + args)
            self.assertEqual(r.returncode, 0, f"{args}: {r.stderr}")
        self.assertEqual(json.loads(self.as_nobody([ADMIN, "--json", "lockout", "show"]).stdout)["login"], "nobody")
        r = self.as_nobody([ADMIN, "device", "revoke", "--all"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("of nobody", r.stdout)
        r = self.as_nobody([ADMIN, "recovery", "new"])
        self.assertEqual(r.returncode, 3, r.stderr)  # nobody has no app enrolled: nothing to back up
        self.assertIn("nobody has no app enrolled", r.stderr)
        self.assertIn("no trusted devices", self.env.admin("device", "list", as_user="nurse1").stdout)
        # Another user's account is still refused.
        self.assertEqual(self.as_nobody([ADMIN, "device", "revoke", "nurse1", "--all"]).returncode, 6)


class Permissions(Base):
    def test_authority_from_store_not_from_running_the_tool(self):
        r = self.env.admin("user", "add", "x1", as_user="clerk1", check=False)
        self.assertEqual(r.returncode, 6)
        self.assertIn("Manage Accounts", r.stderr)
        r = self.env.admin("user", "add", "x1", as_user="stranger", check=False)
        self.assertEqual(r.returncode, 6)
        self.assertIn("not in the store", r.stderr)
        self.env.admin("user", "add", "x1", as_user="mgr1")
        r = self.env.admin("perm", "grant", "clerk1", "manage_accounts", as_user="hd1", check=False)
        self.assertEqual(r.returncode, 6)
        self.env.admin("perm", "grant", "clerk1", "manage_accounts", as_user="mgr1")
        self.env.admin("user", "add", "x2", as_user="clerk1")
        self.assertEqual(json.loads(self.env.admin("--json", "perm", "list", "clerk1").stdout), ["manage_accounts"])
        denied = [r for r in self.env.audit() if r["action"] == "permission denied"]
        self.assertEqual({r["actor"] for r in denied}, {"clerk1", "stranger", "hd1"})

    def test_root_bootstraps(self):
        self.env.admin("perm", "grant", "hd1", "manage_accounts")
        self.assertIn("manage_accounts", self.env.admin("perm", "list", "hd1").stdout)


class StaffTwoFactor(Base):
    def setUp(self):
        super().setUp()
        # SMS 2FA needs a text gateway (the port is never listened on: nothing is sent here).
        self.env.write_conf("admin_pam_service = ehr2fa-admin-test\nsms_mode = generic\n"
                            "sms_url = http://127.0.0.1:9/send\nsms_token_file = /nonexistent\n")
        with open(os.path.join(self.env.svcdir, "ehr2fa-admin-test"), "w") as f:
            f.write(f"auth required {PAM_MATRIX} passdb={self.env.passdb}\n"
                    f"account required {PAM_MATRIX} passdb={self.env.passdb}\n")
        with open(self.env.passdb, "a") as f:
            f.write("mgr1:manager-secret:ehr2fa-admin-test\nnurse1:nurse-secret:ehr2fa-admin-test\n")

    def setup_2fa(self, who, password, login="nurse1"):
        env = {"LD_PRELOAD": ":".join(sanitizer_preload() + ["libpam_wrapper.so"]), "PAM_WRAPPER": "1",
               "PAM_WRAPPER_SERVICE_DIR": self.env.svcdir, "ASAN_OPTIONS": "detect_leaks=0"}
        with pam_wrapper_lock():
            return self.env.admin("staff", "2fa", "setup", login, input=password + "\n", as_user=who,
                                  env_extra=env, check=False)

    def test_manager_sets_up_with_own_password(self):
        r = self.setup_2fa("mgr1", "manager-secret")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Two-Factor Authentication is successfully set for the selected staff.", r.stdout)
        self.assertIn("Cell phone to use: +15551230066", r.stdout)
        staff = {s["login"]: s for s in json.loads(self.env.admin("--json", "staff", "list").stdout)}
        self.assertRegex(staff["nurse1"]["2fa"], r"^Active: \d{9}$")
        self.assertEqual(staff["clerk1"]["2fa"], "Inactive")
        self.assertEqual(staff["nurse1"]["primary_provider"], "drsmith")
        self.assertIn("Two-Factor Authentication set", [a for a, d in self.actions("nurse1")])
        self.assertIn("Active:", self.env.admin("staff", "list").stdout)

    def test_staff_password_is_not_the_managers(self):
        r = self.setup_2fa("mgr1", "nurse-secret")
        self.assertEqual(r.returncode, 6)
        self.assertIn("Inactive", self.env.admin("staff", "list").stdout)
        self.assertIn("staff 2FA setup refused", [a for a, d in self.actions("nurse1")])

    def test_needs_manage_accounts_and_a_cell_phone(self):
        r = self.setup_2fa("hd1", "whatever")
        self.assertEqual(r.returncode, 6)
        r = self.setup_2fa("mgr1", "manager-secret", login="clerk1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no cell phone", r.stderr)

    def test_refused_without_a_text_gateway(self):
        # With sms_mode = none the staff member would be locked out at the next login.
        self.env.write_conf("admin_pam_service = ehr2fa-admin-test\n")
        r = self.setup_2fa("mgr1", "manager-secret")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("sms_mode = none", r.stderr)
        self.assertIn("could not log in", r.stderr)
        self.assertNotIn("will be tied", r.stdout)  # refused before asking for the password
        self.assertIn("Inactive", self.env.admin("staff", "list").stdout)

    def test_staff_is_then_asked_for_a_code(self):
        self.assertEqual(self.setup_2fa("mgr1", "manager-secret").returncode, 0)
        with open(self.env.passdb, "a") as f:
            f.write(f"nurse1:{PASSWORD}:{self.env.service}\n")
        r = self.env.login("nurse1", "123456")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Verification code", r.stdout + r.stderr)
        self.assertNotIn("not enrolled", json.dumps(self.env.audit("nurse1")))


class AuditExport(Base):
    def test_export_csv_and_verify(self):
        r = self.env.admin("audit", "export", "--format", "csv", as_user="co1")
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        self.assertGreater(len(rows), 10)
        self.assertEqual(list(rows[0].keys())[:4], ["seq", "time", "utc", "user"])
        path = os.path.join(self.env.dir, "export.csv")
        with open(path, "w", newline="") as f:
            f.write(r.stdout)
        self.assertIn("intact", self.env.admin("audit", "verify", "--file", path).stdout)
        # An edited export is caught, at the edited record.
        lines = r.stdout.splitlines()
        self.assertIn('"drsmith"', lines[3])  # record 3: drsmith's first Support PIN
        lines[3] = lines[3].replace('"drsmith"', '"drjones"', 1)
        with open(path, "w", newline="") as f:
            f.write("\r\n".join(lines) + "\r\n")
        v = self.env.admin("audit", "verify", "--file", path, check=False)
        self.assertEqual(v.returncode, 5)
        self.assertIn("record 3", v.stdout)

    def test_export_json_filtered_by_user(self):
        r = self.env.admin("audit", "export", "--format", "json", "--user", "nurse1", as_user="co1")
        rows = json.loads(r.stdout)
        self.assertTrue(rows)
        self.assertTrue(all(x["user"] == "nurse1" for x in rows))
        self.assertTrue(all(len(x["mac"]) == 64 and len(x["prev_mac"]) == 64 for x in rows))
        self.assertEqual(self.env.audit()[-1]["action"], "audit exported")

    def test_export_needs_audit_export(self):
        r = self.env.admin("audit", "export", "--format", "csv", as_user="hd1", check=False)
        self.assertEqual(r.returncode, 6)
        self.assertIn("Audit Export", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
