#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The host's 2FA policy (enforce_roles, enforce_groups, enroll_by, grace_logins,
enforce_services) through real libpam (pam_wrapper + pamtester), the host's
groups through nss_wrapper, and `ehr2fa-admin policy show`."""

import json
import os
import time
import unittest

from ehrtest import (MODULE_TESTCLOCK, PAM_MATRIX, PASSWORD, EnvTestCase, main, need, oath, sanitizer_preload)

NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
ENROLL_BY = "2027-01-31"
# Local time, as the module reads enroll_by: the deadline is 2027-02-01 00:00.
DEADLINE = int(time.mktime((2027, 2, 1, 0, 0, 0, 0, 0, -1)))
BEFORE = DEADLINE - 2 * 86400 - 3600   # 2 days and an hour before: "3 days left"
AFTER = DEADLINE + 3600


def out(r):
    return r.stdout + r.stderr


class Policy(EnvTestCase):
    testclock = True
    conf_extra = (f"enforce_roles = provider\nenforce_groups = clinical, wardstaff\nenroll_by = {ENROLL_BY}\n"
                  "grace_logins = 2\nenforce_message = Call the help desk at extension 4357 to set up 2FA.\n")

    def setUp(self):
        super().setUp()
        # The host's own accounts and groups (nss_wrapper): hostnurse is a host account in
        # the host group "clinical" and not in the store; hostclerk is in no named group.
        self.files = os.path.join(self.env.dir, "files")
        os.mkdir(self.files)
        with open(os.path.join(self.files, "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nhostnurse:x:61001:900::/home/hostnurse:/bin/sh\n"
                    "hostclerk:x:61002:900::/home/hostclerk:/bin/sh\n")
        with open(os.path.join(self.files, "group"), "w") as f:
            f.write("root:x:0:\nusers:x:900:\nclinical:x:61500:hostnurse\n")
        with open(self.env.passdb, "a") as f:
            for u in ("hostnurse", "hostclerk"):
                f.write(f"{u}:{PASSWORD}:{self.env.service}\n")

    def nss_env(self):
        return {"LD_PRELOAD": ":".join(sanitizer_preload() + ["libpam_wrapper.so", NSS_WRAPPER]),
                "ASAN_OPTIONS": "detect_leaks=0:verify_asan_link_order=0",
                "NSS_WRAPPER_PASSWD": os.path.join(self.files, "passwd"),
                "NSS_WRAPPER_GROUP": os.path.join(self.files, "group")}

    def login(self, user, *answers, now=AFTER, **kw):
        return self.env.login(user, *answers, now=now, env_extra=self.nss_env(), **kw)

    def sufficient_stack(self):
        """password, then pam_ehr2fa as 'sufficient', then pam_deny: PAM_SUCCESS from
        the module lets the login in, PAM_IGNORE falls through to pam_deny."""
        with open(os.path.join(self.env.svcdir, self.env.service), "w") as f:
            f.write(f"auth required {PAM_MATRIX} passdb={self.env.passdb}\n"
                    f"auth sufficient {MODULE_TESTCLOCK} conf={self.env.conf}\n"
                    "auth required pam_deny.so\n"
                    f"account required {MODULE_TESTCLOCK} conf={self.env.conf}\n")

    def last(self, user):
        return self.env.audit(user)[-1]

    def test_outside_policy_is_ignored_never_success(self):
        self.env.add_user("clerk", secret=None, role="staff")
        r = self.login("clerk")
        self.assertLoginOK(r)  # required: PAM_IGNORE leaves the password module's verdict
        self.assertNotIn("Verification code", out(r))
        row = self.last("clerk")
        self.assertEqual(row["action"], "second factor skipped")
        self.assertIn("outside the 2FA policy", row["details"])
        self.assertLoginFails(self.login("clerk", password="wrong"))
        # as 'sufficient' it must not let anyone in on its own
        self.sufficient_stack()
        self.assertLoginFails(self.login("clerk"))
        self.assertLoginFails(self.login("hostclerk"))
        self.assertIn("not in the store; outside the 2FA policy", self.last("hostclerk")["details"])

    def test_inside_policy_before_deadline_told_days_left(self):
        self.env.add_user("drno", secret=None, role="provider")
        r = self.login("drno", now=BEFORE)
        self.assertLoginOK(r)
        self.assertIn(f"will be required for your account after {ENROLL_BY}: 3 days left", out(r))
        row = self.last("drno")
        self.assertEqual(row["action"], "second factor skipped")
        self.assertIn("2FA policy (role provider); 3 day(s) left", row["details"])
        self.sufficient_stack()
        self.assertLoginFails(self.login("drno", now=BEFORE))  # PAM_IGNORE, not PAM_SUCCESS

    def test_past_deadline_grace_logins_then_refused_with_help_desk_text(self):
        self.env.add_user("drno", secret=None, role="provider")
        r = self.login("drno")
        self.assertLoginOK(r)
        self.assertIn("is not set up. 1 login left before you are refused", out(r))
        self.assertIn("grace login 1 of 2", self.last("drno")["details"])
        r = self.login("drno")
        self.assertLoginOK(r)
        self.assertIn("0 logins left before you are refused", out(r))
        r = self.login("drno")
        self.assertLoginFails(r)
        self.assertIn("Call the help desk at extension 4357 to set up 2FA.", out(r))
        row = self.last("drno")
        self.assertEqual(row["action"], "second factor refused")
        self.assertIn("no grace login left (2 used)", row["details"])
        # a refused login used nothing: still refused, and the count stays
        self.assertLoginFails(self.login("drno"))
        self.assertIn("(2 used)", self.last("drno")["details"])

    def test_store_group_and_host_group_are_covered(self):
        self.env.add_user("nurse", secret=None, role="staff")
        self.env.admin("group", "add", "wardstaff")
        self.env.admin("group", "member", "add", "wardstaff", "nurse")
        self.env.write_conf(self.conf_extra.replace("grace_logins = 2", "grace_logins = 0"))
        r = self.login("nurse")
        self.assertLoginFails(r)
        self.assertIn("2FA policy (group wardstaff)", self.last("nurse")["details"])
        r = self.login("hostnurse")
        self.assertLoginFails(r)
        self.assertIn("extension 4357", out(r))
        self.assertIn("2FA policy (group clinical)", self.last("hostnurse")["details"])
        self.assertLoginOK(self.login("hostclerk"))

    def test_enforced_per_service(self):
        self.env.add_user("drno", secret=None, role="provider")
        self.env.write_conf(self.conf_extra.replace("grace_logins = 2", "grace_logins = 0") +
                            "enforce_services = sshd sudo\n")
        r = self.login("drno")
        self.assertLoginOK(r)
        self.assertIn("not enforced at service ehr2fa-test", self.last("drno")["details"])
        self.env.write_conf(self.conf_extra.replace("grace_logins = 2", "grace_logins = 0") +
                            f"enforce_services = sshd {self.env.service}\n")
        self.assertLoginFails(self.login("drno"))

    def test_enrolled_user_in_policy_gives_a_code(self):
        self.env.add_user("drwho", role="provider")
        self.assertLoginFails(self.login("drwho", "000000", now=int(time.time())))
        self.assertLoginOK(self.login("drwho", oath(), now=int(time.time())))

    def show(self, *args):
        # ehr2fa-admin is instrumented itself under ASan: nss_wrapper only, its runtime order unchecked
        return self.env.admin(*args, "policy", "show", env_extra=self.nss_env() | {"LD_PRELOAD": NSS_WRAPPER})

    def test_policy_show(self):
        self.env.add_user("drwho", role="provider")
        self.env.add_user("drno", secret=None, role="provider")
        self.env.add_user("clerk", secret=None, role="staff")
        self.login("drno")
        # ehr2fa-admin reads the real clock: a deadline 10 days ahead of it, then one long past
        day = time.localtime(time.time() + 10 * 86400)
        by = time.strftime("%Y-%m-%d", day)
        deadline = int(time.mktime((day.tm_year, day.tm_mon, day.tm_mday + 1, 0, 0, 0, 0, 0, -1)))
        self.env.write_conf(self.conf_extra.replace(ENROLL_BY, by))
        r = self.show()
        lines = {l.split()[0]: l for l in r.stdout.splitlines() if l.split()}
        self.assertIn("enrolled: asked for a code", lines["drwho"])
        self.assertRegex(lines["drno"], r"not enrolled: 1[01] day\(s\) left; refused from .* after 1 grace login")
        self.assertIn("outside the policy", lines["clerk"])
        self.assertIn("group clinical", lines["hostnurse"])
        self.assertIn(f"enroll by:      {by}", r.stdout)
        j = json.loads(self.show("--json").stdout)
        users = {u["login"]: u for u in j["users"]}
        self.assertEqual(j["policy"]["refused_from"], deadline)
        self.assertEqual(users["drno"]["status"], "before_deadline")
        self.assertEqual(users["drno"]["refused_from"], deadline)
        self.assertEqual(users["drno"]["grace_left"], 1)
        self.env.write_conf(self.conf_extra.replace(ENROLL_BY, "2020-01-31"))
        self.assertIn("1 grace login(s) left", [l for l in self.show().stdout.splitlines() if l.startswith("drno")][0])
        users = {u["login"]: u for u in json.loads(self.show("--json").stdout)["users"]}
        self.assertEqual(users["drno"]["status"], "grace")
        self.assertEqual(users["drno"]["grace_used"], 1)
        self.assertEqual(users["drno"]["grace_left"], 1)
        self.assertEqual(users["drwho"]["status"], "enrolled")
        self.assertEqual(users["clerk"]["status"], "outside")
        self.assertFalse(users["hostnurse"]["in_store"])
        self.assertEqual(users["hostnurse"]["covered_by"], "group clinical")


class NoPolicy(EnvTestCase):
    def test_nullok_unchanged_without_a_policy(self):
        self.env.add_user("carol", secret=None)
        self.assertLoginFails(self.env.login("carol", "123456"))
        self.env.set_module_args("nullok")
        self.assertLoginOK(self.env.login("carol"))
        self.assertIn("not enrolled; nullok", self.env.audit("carol")[-1]["details"])
        r = self.env.admin("policy", "show")
        self.assertIn("No 2FA policy on this host", r.stdout)

    def test_bad_policy_values_are_refused(self):
        for bad in ("enroll_by = 2027-02-30", "enroll_by = 31.01.2027", "enforce_roles = doctor",
                    "enforce_groups = wheel;rm", "grace_logins = -1"):
            if bad == "enroll_by = 2027-02-30":
                self.env.add_user("carol", secret=None)
            self.env.write_conf(bad + "\n")
            r = self.env.login("carol")
            self.assertLoginFails(r)
            self.assertIn("unavailable", r.stdout + r.stderr, bad)


def prerequisites():
    need("pamtester")
    need("oathtool")
    if not os.path.exists(NSS_WRAPPER):
        raise unittest.SkipTest("needs nss_wrapper")


if __name__ == "__main__":
    main(prerequisites)
