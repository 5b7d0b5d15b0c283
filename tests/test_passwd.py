#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Managed accounts log in with the distribution's own PAM stack: passwd(1),
su(1) and sshd with the real binaries, in a private mount namespace.

What test_su_sudo.py sets up (a copy of /etc, the shipped pam-auth-update
profile enabled with the real pam-auth-update, this build's pam_ehr2fa.so in
the module directory; its helpers are imported, not copied), and here also:

* /etc/nsswitch.conf (in the copy): passwd, group and shadow "files ehr";
* libnss_ehr.so.2 from this build in a directory named in the copy's
  /etc/ld.so.conf.d, and the copy's /etc/ld.so.cache rebuilt by ldconfig, so
  glibc finds the module in setuid programs too (they ignore LD_LIBRARY_PATH);
* /var/lib/ehr2fa-nss: an empty directory, where ehr2fa-admin publishes (on a
  host without libnss-ehr, the empty mount point is left behind);
* pam-auth-update --enable ehr2fa mkhomedir: the stack the README documents.

The managed account drsmith is added with --no-home, so pam_mkhomedir makes
its home at the first login. passwd, su and the account phase go through
pam_unix and unix_chkpwd unchanged: the hash comes from the shadow snapshot
through libnss_ehr. Needs root, su, passwd, setpriv, pam-auth-update,
ldconfig and oathtool (sshd and ssh for the sshd case); skips (exit 77
alone) without them, or when built with a sanitizer."""

import json
import os
import shutil
import subprocess
import sys
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sshd"))

import ehrtest  # noqa: E402
import test_su_sudo as su  # noqa: E402
from ehrtest import ADMIN, MODULE, PASSWORD, SECRET, need, oath, sanitizer_preload  # noqa: E402
from test_su_sudo import Pty, copy_over, run  # noqa: E402
import test_sshd  # noqa: E402  (tests/sshd: its sshd and ssh client)

BUILD = os.path.dirname(os.path.dirname(MODULE))
NSS_MODULE = os.path.abspath(os.environ.get("EHR2FA_NSS_MODULE", os.path.join(BUILD, "nss_ehr", "libnss_ehr.so.2")))
LIST = ehrtest.BREACHED_LIST
NORMAL, MANAGED, LONG = "ehrsu", "drsmith", "pharmacist-lead"
FIRST, SECOND = "Ward 7 night shift", "Blue heron at dawn 42"


def check_prerequisites():
    su.check_prerequisites()
    for tool in ("passwd", "ldconfig", "getent"):
        need(tool)
    if not os.path.exists(NSS_MODULE):
        raise unittest.SkipTest(f"{NSS_MODULE} not built")


def getent(db, key, uid=None):
    argv = ["getent", db, key]
    if uid is not None:
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


class Namespace:
    """The private mount namespace and its files; set up once per process."""
    tmp = None

    @classmethod
    def enter(cls):
        if cls.tmp:
            return
        su.SuSudo.setUpClass.__func__(su.SuSudo)  # unshare, /etc copy, profile, module, /var/log
        cls.tmp, cls.store = su.SuSudo.tmp, su.SuSudo.store
        cls.normal_uid = su.SuSudo.uids[su.NORMAL]
        with open("/etc/nsswitch.conf") as f:
            lines = [ln for ln in f if not ln.startswith(("passwd:", "group:", "shadow:"))]
        with open("/etc/nsswitch.conf", "w") as f:
            f.writelines(lines + ["passwd: files ehr\n", "group: files ehr\n", "shadow: files ehr\n"])
        lib = os.path.join(cls.tmp, "nsslib")
        os.makedirs(lib, mode=0o755)
        shutil.copy(NSS_MODULE, os.path.join(lib, "libnss_ehr.so.2"))
        with open("/etc/ld.so.conf.d/ehr2fa-test.conf", "w") as f:
            f.write(lib + "\n")
        run("ldconfig")
        os.chmod(copy_over("/var/lib/ehr2fa-nss", cls.tmp), 0o755)  # made under the tests' umask
        cls.home = os.path.join(cls.tmp, "home")
        os.makedirs(cls.home, mode=0o755)
        with open("/etc/ehr2fa/ehr2fa.conf", "w") as f:
            f.write(f"store_dir = {cls.store}\nfail_delay_ms = 0\ndaemon_socket = none\nhome_base = {cls.home}\n"
                    f"password_breached_list = {LIST}\n")
        run("pam-auth-update", "--enable", "ehr2fa", "mkhomedir",
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


class RealSshd(test_sshd.Sshd):
    """tests/sshd's sshd on 127.0.0.1, without pam_wrapper and nss_wrapper: the
    namespace's /etc/pam.d/sshd (Debian's own, its common-* written by
    pam-auth-update with the profile: so the shipped sshd-password-code snippet
    adds nothing) and nsswitch.conf, with conf/sshd_config.d/ehr2fa.conf."""

    def write_nss_files(self):
        pass

    def write_pam_service(self):
        pass

    def environment(self):
        return {k: v for k, v in os.environ.items() if not k.startswith(("LD_", "PAM_WRAPPER", "NSS_WRAPPER"))}


class ManagedAccount(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        check_prerequisites()
        Namespace.enter()

    def setUp(self):
        if os.path.exists(Namespace.store):
            shutil.rmtree(Namespace.store)
        shutil.rmtree(os.path.join(Namespace.home, MANAGED), ignore_errors=True)
        self.admin("init")
        r = self.admin("user", "add", MANAGED, "--name", "Ann Smith", "--email", "ann@example.org", "--no-home")
        self.assertNotIn("will not show it", r.stderr)  # nsswitch.conf lists ehr, libnss_ehr reads its snapshot
        self.admin("totp", "enroll", MANAGED, "--secret", SECRET, "--no-qr")
        ent = getent("passwd", MANAGED)
        self.assertEqual(ent.returncode, 0, ent.stderr)
        f = ent.stdout.strip().split(":")
        self.uid, self.homedir = int(f[2]), f[5]

    def admin(self, *args):
        return run(ADMIN, "--conf", "/etc/ehr2fa/ehr2fa.conf", *args)

    def audit(self, user=MANAGED):
        return json.loads(self.admin("--json", "audit", "show", "--user", user).stdout)

    def as_uid(self, uid, *argv):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TERM": "dumb", "LANG": "C", "HOME": "/tmp"}
        return Pty(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv], env)

    def root_passwd(self, login, new, again=None):
        t = Pty(["passwd", login], {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TERM": "dumb", "LANG": "C"})
        t.expect(r"New password: ")
        t.send(new)
        t.expect(r"Retype new password: ")
        t.send(again if again is not None else new)
        return t.finish(), t.out

    def user_passwd(self, current, new, again=None):
        t = self.as_uid(self.uid, "passwd")
        t.expect(r"Current password: ")
        t.send(current)
        t.expect(r"New password: ", timeout=30)
        t.send(new)
        t.expect(r"Retype new password: ")
        t.send(again if again is not None else new)
        return t.finish(), t.out

    def su_to_managed(self, password, code=None):
        t = self.as_uid(Namespace.normal_uid, "su", MANAGED, "-c", "echo SU-OK-$(id -un)-$(pwd)")
        t.expect(r"Password: ")
        t.send(password)
        if code is not None:
            t.expect(r"Verification code: ")
            t.send(code)
        return t.finish(), t.out

    def test_shadow_is_root_only(self):
        r = getent("shadow", MANAGED)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(f"{MANAGED}:!:"), r.stdout)  # no password yet: locked
        r = getent("shadow", MANAGED, uid=Namespace.normal_uid)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertEqual(getent("passwd", MANAGED, uid=Namespace.normal_uid).returncode, 0)  # passwd stays public
        st = os.stat("/var/lib/ehr2fa-nss/shadow")
        self.assertEqual(st.st_mode & 0o777, 0o640)
        self.assertEqual(st.st_uid, 0)
        self.assertEqual(subprocess.run(["getent", "group", "shadow"], capture_output=True, text=True)
                         .stdout.split(":")[2], str(st.st_gid))

    def test_root_sets_the_password_then_the_user_changes_it(self):
        rc, out = self.root_passwd(MANAGED, FIRST)
        self.assertEqual(rc, 0, out)
        self.assertIn("password updated successfully", out)
        self.assertTrue(getent("shadow", MANAGED).stdout.split(":")[1].startswith("$y$"))
        row = self.audit()[-1]
        self.assertEqual((row["action"], row["details"], row["actor"]), ("password set", "set by root", "root"), row)

        rc, out = self.user_passwd(FIRST, SECOND)
        self.assertEqual(rc, 0, out)
        row = self.audit()[-1]
        self.assertEqual((row["action"], row["details"], row["actor"]), ("password set", "changed by the user", MANAGED))
        rc, out = self.su_to_managed(FIRST)  # the old one is gone
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("Verification code", out)
        rc, out = self.su_to_managed(SECOND, oath())
        self.assertEqual(rc, 0, out)
        self.assertIn(f"SU-OK-{MANAGED}", out)

    def test_the_policy_refuses_with_the_rule(self):
        self.admin("user", "add", LONG, "--no-home")
        cases = [("short pw", "too short: it must have at least 12 characters"),
                 (LONG, "must not be or contain the login name"),
                 (f"{LONG.upper()}-2026", "must not be or contain the login name"),
                 ("winniethepooh", "known from data breaches")]
        for new, words in cases:
            rc, out = self.root_passwd(LONG, new)
            self.assertNotEqual(rc, 0, out)
            self.assertIn(words, out)
        rc, out = self.root_passwd(LONG, FIRST, again=SECOND)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("Sorry, passwords do not match", out)
        self.assertTrue(getent("shadow", LONG).stdout.startswith(f"{LONG}:!:"))  # still none
        self.assertNotIn("password set", [r["action"] for r in self.audit(LONG)])

    def test_the_user_must_give_the_current_password(self):
        self.assertEqual(self.root_passwd(MANAGED, FIRST)[0], 0)
        t = self.as_uid(self.uid, "passwd")
        t.expect(r"Current password: ")
        t.send("not the password at all")
        self.assertNotEqual(t.finish(), 0, t.out)
        self.assertNotIn("New password", t.out)
        self.assertEqual(self.audit()[-1]["action"], "password change refused")
        rc, out = self.user_passwd(FIRST, "short")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("too short", out)
        rc, out = self.user_passwd(FIRST, SECOND, again=SECOND + "x")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("Sorry, passwords do not match", out)
        self.assertEqual(self.su_to_managed(FIRST, oath())[0], 0)  # unchanged

    def test_no_password_yet_cannot_log_in(self):
        rc, out = self.su_to_managed("")
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("SU-OK", out)

    def test_su_runs_the_account_phase_and_makes_the_home(self):
        self.assertEqual(self.root_passwd(MANAGED, FIRST)[0], 0)
        self.assertFalse(os.path.exists(self.homedir))
        rc, out = self.su_to_managed(FIRST, oath())
        self.assertEqual(rc, 0, out)
        self.assertNotIn("expired", out)
        self.assertIn(f"SU-OK-{MANAGED}", out)
        st = os.stat(self.homedir)  # pam_mkhomedir, from common-session
        self.assertEqual(st.st_uid, self.uid)
        self.assertTrue(os.path.exists(os.path.join(self.homedir, ".bashrc")))  # from /etc/skel
        row = self.audit()[-1]
        self.assertEqual(row["action"], "second factor accepted", row)
        self.assertIn("service=su", row["source"])

    def sshd_password_and_code(self, login, password, wrong):
        """A real sshd with the shipped snippet and Debian's stack: login gets in with
        password + code; a wrong password never reaches the code prompt."""
        if not os.path.exists("/etc/pam.d/sshd"):
            self.skipTest("no /etc/pam.d/sshd (openssh-server)")
        try:
            test_sshd.check_prerequisites()
        except unittest.SkipTest as e:
            self.skipTest(str(e))
        test_sshd.USER = login  # the harness's one user (AllowUsers, user@127.0.0.1)
        d = os.path.join(Namespace.tmp, "sshd")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        sshd = RealSshd(types.SimpleNamespace(dir=d), "keyboard-interactive",
                        include=os.path.join(test_sshd.SHIPPED_SSHD, "ehr2fa.conf"))
        try:
            client = test_sshd.Client(d, sshd.port)
            r = client.login(oath(), password=password)
            log = sshd.text()
            self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}{r.prompts}\n{log}")
            self.assertEqual(r.stdout.strip(), f"LOGGED-IN-{login}")
            self.assertIn("assword", r.prompts[0])
            self.assertIn("Verification code:", r.prompts[1])
            self.assertNotIn("expired", log)
            r = client.login(oath(step=1), password=wrong)  # a wrong password never reaches the code
            self.assertEqual(r.returncode, 255, r.prompts)
            self.assertFalse(any("Verification code" in p for p in r.prompts), r.prompts)
        finally:
            sshd.stop()

    def test_sshd_password_and_code(self):
        self.assertEqual(self.root_passwd(MANAGED, FIRST)[0], 0)
        self.sshd_password_and_code(MANAGED, FIRST, SECOND)

    def test_sshd_password_and_code_for_a_host_account_with_a_2fa_only_record(self):
        """clin1 is in /etc/passwd (pam_unix checks its password from /etc/shadow); the
        store holds only its second factor (user add --existing), no NSS entry."""
        self.admin("user", "add", su.TARGET, "--existing")
        self.admin("totp", "enroll", su.TARGET, "--secret", SECRET, "--no-qr")
        self.assertEqual(self.root_passwd(su.TARGET, SECOND)[0], 0)
        every = subprocess.run(["getent", "passwd"], capture_output=True, text=True, timeout=30).stdout.splitlines()
        # One entry, the host's (files): nothing published for a 2FA-only record.
        self.assertEqual([ln for ln in every if ln.startswith(su.TARGET + ":")], [getent("passwd", su.TARGET).stdout.strip()])
        self.sshd_password_and_code(su.TARGET, SECOND, FIRST)

    def test_a_host_accounts_change_revokes_its_trusted_devices(self):
        """clin1 is in /etc/passwd with a 2FA-only record: pam_unix changes its password,
        pam_ehr2fa revokes the device its console login trusted."""
        self.admin("user", "add", su.TARGET, "--existing")
        self.admin("totp", "enroll", su.TARGET, "--secret", SECRET, "--no-qr")
        r = subprocess.run(["pamtester", "login", su.TARGET, "authenticate"], input=f"{PASSWORD}\n{oath()}\ny\n",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        devices = lambda: json.loads(self.admin("--json", "device", "list", su.TARGET).stdout)  # noqa: E731
        self.assertEqual(len(devices()), 1)
        rc, out = self.root_passwd(su.TARGET, SECOND)
        self.assertEqual(rc, 0, out)
        self.assertEqual(devices(), [])
        self.assertIn("password changed", self.audit(su.TARGET)[-1]["details"])
        with open("/etc/shadow") as f:
            line = next(ln for ln in f if ln.startswith(su.TARGET + ":"))
        self.assertTrue(line.split(":")[1].startswith("$y$"), line)  # pam_unix wrote it
        self.assertEqual(getent("shadow", su.TARGET).stdout.count("\n"), 1)  # files only, never ours

    def test_a_host_account_still_changes_its_password_through_pam_unix(self):
        """The profile puts pam_ehr2fa first: pam_unix's line is then use_authtok, and
        pam_ehr2fa asks the new password for it."""
        t = Pty(["passwd", su.NORMAL], {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TERM": "dumb", "LANG": "C"})
        t.expect(r"New password: ")
        t.send(SECOND)
        t.expect(r"Retype new password: ")
        t.send(SECOND)
        self.assertEqual(t.finish(), 0, t.out)
        with open("/etc/shadow") as f:
            line = next(ln for ln in f if ln.startswith(su.NORMAL + ":"))
        self.assertTrue(line.split(":")[1].startswith("$y$"), line)
        with open("/etc/pam.d/common-password") as f:
            mods = [next(w for w in ln.split() if w.endswith(".so")) for ln in f if ln.startswith("password")]
        self.assertLess(mods.index("pam_ehr2fa.so"), mods.index("pam_unix.so"), mods)


if __name__ == "__main__":
    ehrtest.main(check_prerequisites)
