#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Break the glass: emergency access without a second factor, through real libpam
(pam_wrapper + pamtester, pam_matrix as the password module), its limits, its
records, and its review with the Break the Glass Review permission."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import ehrtest
from ehrtest import EnvTestCase, SetuidHelper, SmtpServer, MODULE, MODULE_TESTCLOCK, NOBODY, PAM_MATRIX, PASSWORD, oath, \
    helper_connected, helper_processes, helper_state

REASON = "Code blue in bay 4, my phone is dead"
HOST = os.uname().nodename


def out(r):
    return r.stdout + r.stderr


class Base(EnvTestCase):
    testclock = True
    conf_extra = "break_glass = yes\nbreak_glass_reason_min = 10\n"

    def setUp(self):
        super().setUp()
        self.env.add_user("alice")
        self.t = int(time.time())

    def emergency(self, user="alice", reason=REASON, now=None, **kw):
        return self.env.login(user, "emergency", reason, now=self.t if now is None else now, **kw)

    def uses(self, *args, as_user=None, check=True):
        r = self.env.admin("--json", "breakglass", "list", *args, as_user=as_user, check=check)
        return json.loads(r.stdout) if r.returncode == 0 else r

    def rows(self, action):
        return [x for x in self.env.audit() if x["action"] == action]

    def failures(self, user="alice"):
        return json.loads(self.env.admin("--json", "lockout", "show", user).stdout)["failures"]

    def assertAuditIntact(self):
        r = self.env.admin("audit", "verify")
        self.assertEqual(r.returncode, 0, out(r))


class Off(Base):
    conf_extra = ""

    def test_off_by_default_emergency_is_an_ordinary_wrong_answer(self):
        r = self.emergency()
        self.assertLoginFails(r)
        self.assertNotIn("emergency", out(r).lower().replace('"emergency"', ""))
        self.assertNotIn("Reason", out(r))
        self.assertIn("Verification failed.", out(r))
        self.assertEqual(self.uses(), [])
        self.assertEqual(self.rows("break-glass access"), [])
        # Refused as any answer that cannot be a code is: not checked, so not counted.
        self.assertEqual(self.rows("second factor refused")[-1]["details"],
                         "the answer is not a code; not checked, not counted")
        self.assertAuditIntact()


class Use(Base):
    def test_with_reason_lets_in_once_recorded_unreviewed(self):
        r = self.emergency()
        self.assertLoginOK(r)
        self.assertIn('"emergency" for emergency access', out(r))
        self.assertIn("Reason, at least 10 characters", out(r))
        self.assertIn("Emergency access granted", out(r))
        [u] = self.uses()
        self.assertEqual((u["login"], u["host"], u["service"], u["reason"], u["reviewed"], u["time"]),
                         ("alice", HOST, self.env.service, REASON, False, self.t))
        [row] = self.rows("break-glass access")
        self.assertEqual(row["type"], "breakglass")
        self.assertEqual(row["user"], "alice")
        self.assertEqual(row["time"], self.t)
        self.assertIn(f"id={u['id']} unreviewed", row["details"])
        self.assertIn(f"host={HOST}", row["details"])
        self.assertIn(f"reason: {REASON}", row["details"])
        self.assertIn(f"service={self.env.service}", row["source"])
        # Not a code: nothing counted, and the answer "emergency" never as a wrong code.
        self.assertEqual(self.failures(), 0)
        self.assertEqual(self.rows("second factor failed"), [])
        self.assertAuditIntact()

    def test_without_reason_refused(self):
        r = self.emergency(reason="")
        self.assertLoginFails(r)
        self.assertIn("Emergency access refused. The reason must be at least 10 characters.", out(r))
        self.assertEqual(self.uses(), [])
        [row] = self.rows("break-glass refused")
        self.assertIn("reason too short", row["details"])
        self.assertEqual(self.failures(), 0)
        self.assertAuditIntact()

    def test_reason_too_short_refused_blanks_do_not_count(self):
        self.assertLoginFails(self.emergency(reason="   sorry    "))
        self.assertLoginFails(self.emergency(reason="123456789"))
        self.assertEqual(self.uses(), [])
        self.assertEqual(len(self.rows("break-glass refused")), 2)
        self.assertLoginOK(self.emergency(reason="1234567890"))

    def test_keyword_any_case_and_code_still_works(self):
        self.assertLoginOK(self.env.login("alice", "EMERGENCY", REASON, now=self.t))
        self.assertLoginOK(self.env.login("alice", oath(now=self.t + 60), "n", now=self.t + 60))

    def test_user_limit_once_per_12_hours(self):
        t0 = self.t - 86400  # in the past: the admin tool lists uses up to its own clock
        self.assertLoginOK(self.emergency(now=t0))
        r = self.emergency(now=t0 + 12 * 3600 - 1)
        self.assertLoginFails(r)
        self.assertIn("Emergency access was used too recently (by you)", out(r))
        self.assertIn("per-user limit reached", self.rows("break-glass refused")[-1]["details"])
        self.assertLoginOK(self.emergency(now=t0 + 12 * 3600))
        self.assertEqual(len(self.uses()), 2)
        self.assertAuditIntact()

    def test_locked_out_user_cannot_use_it(self):
        for i in range(5):
            self.assertLoginFails(self.env.login("alice", "000000", now=self.t + i))
        r = self.emergency(now=self.t + 10)
        self.assertLoginFails(r)
        self.assertIn("locked", out(r))
        self.assertNotIn("Reason", out(r))
        self.assertEqual(self.uses(), [])

    def test_unknown_user_asked_for_a_reason_and_refused(self):
        r = self.emergency(user="mallory")
        self.assertLoginFails(r)
        self.assertIn("Reason, at least 10 characters", out(r))
        self.assertIn("Verification failed.", out(r))
        self.assertEqual(self.uses(), [])

    def test_no_password_module_before_it_refused(self):
        with open(os.path.join(self.env.svcdir, self.env.service), "w") as f:
            f.write(f"auth required {MODULE_TESTCLOCK} conf={self.env.conf}\n")
        r = self.env.login_interactive("alice", lambda w: w(REASON), now=self.t, password="emergency")
        self.assertLoginFails(r)
        self.assertIn("It needs your password first", out(r))
        self.assertEqual(self.uses(), [])


class StepUp(Base):
    service = "sudo"

    def test_never_at_sudo(self):
        r = self.emergency()
        self.assertLoginFails(r)
        self.assertNotIn("emergency access", out(r))
        self.assertEqual(self.uses(), [])


class HostLimit(Base):
    conf_extra = "break_glass = yes\nbreak_glass_reason_min = 10\nbreak_glass_host_max = 2\n"

    def test_per_host_limit(self):
        for u in ("bob", "carol"):
            self.env.add_user(u)
        self.assertLoginOK(self.emergency("alice"))
        self.assertLoginOK(self.emergency("bob", now=self.t + 1))
        r = self.emergency("carol", now=self.t + 2)
        self.assertLoginFails(r)
        self.assertIn("Emergency access was used too recently (on this computer)", out(r))
        self.assertIn("per-host limit reached", self.rows("break-glass refused")[-1]["details"])
        self.assertLoginOK(self.emergency("carol", now=self.t + 86400))


class Concurrent(Base):
    def test_limit_holds_across_concurrent_logins(self):
        race = os.environ.get("EHR2FA_PAM_RACE")
        if not race:
            self.skipTest("EHR2FA_PAM_RACE not set")
        confdir = os.path.join(self.env.dir, "race.d")
        os.makedirs(confdir)
        with open(os.path.join(confdir, "race"), "w") as f:
            f.write(f"auth requisite {PAM_MATRIX} passdb={self.env.passdb}\n"
                    f"auth required {MODULE} conf={self.env.conf}\n")
        with open(self.env.passdb, "a") as f:
            f.write(f"alice:{PASSWORD}:race\n")
        r = subprocess.run([race, confdir, "race", "alice", "8"], input=f"emergency\n{REASON}\n{PASSWORD}\n",
                           capture_output=True, text=True, timeout=120, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("prompted=8 success=1 failed=7 other=0", r.stdout, r.stderr)
        self.assertEqual(len(self.uses()), 1)
        self.assertEqual(len(self.rows("break-glass refused")), 7)
        self.assertAuditIntact()


class Review(Base):
    def setUp(self):
        super().setUp()
        for u in ("rev", "bob"):
            self.env.add_user(u)
        self.env.admin("perm", "grant", "rev", "break_glass_review")
        self.env.admin("perm", "grant", "alice", "break_glass_review")

    def test_review_needs_the_permission_and_never_ones_own(self):
        self.assertLoginOK(self.emergency())
        [u] = self.uses(as_user="rev")
        r = self.uses(as_user="bob", check=False)
        self.assertEqual(r.returncode, 6)
        self.assertIn("Break the Glass Review", r.stderr)
        denied = self.rows("permission denied")
        self.assertEqual((denied[-1]["actor"], denied[-1]["details"]),
                         ("bob", "breakglass list refused: needs Break the Glass Review"))
        r = self.env.admin("breakglass", "review", str(u["id"]), "--note", "ok", as_user="bob", check=False)
        self.assertEqual(r.returncode, 6)
        # alice holds the permission, but this use is her own.
        r = self.env.admin("breakglass", "review", str(u["id"]), "--note", "fine by me", as_user="alice", check=False)
        self.assertEqual(r.returncode, 6, out(r))
        self.assertIn("cannot be reviewed by the user who made it", r.stderr)
        self.assertFalse(self.uses()[0]["reviewed"])
        r = self.env.admin("breakglass", "review", str(u["id"]), "--note", "Called her: code blue confirmed",
                           as_user="rev")
        self.assertIn("reviewed by rev", r.stdout)
        [u] = self.uses()
        self.assertEqual((u["reviewed"], u["reviewer"], u["note"]), (True, "rev", "Called her: code blue confirmed"))
        self.assertEqual(self.uses("--unreviewed"), [])
        [row] = self.rows("break-glass reviewed")
        self.assertEqual((row["actor"], row["type"]), ("rev", "breakglass"))
        self.assertIn(f"id={u['id']}; note: Called her", row["details"])
        r = self.env.admin("breakglass", "review", str(u["id"]), "--note", "again", as_user="rev", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already reviewed", r.stderr)
        r = self.env.admin("breakglass", "review", "999", "--note", "x", as_user="rev", check=False)
        self.assertEqual(r.returncode, 3)
        self.assertAuditIntact()

    def test_overdue_in_status_and_summary(self):
        old = self.t - 2 * 86400
        self.assertLoginOK(self.emergency(now=old))
        self.assertLoginOK(self.emergency("bob"))
        st = json.loads(self.env.admin("--json", "status", as_user="rev").stdout)
        self.assertEqual(st["break_glass"]["unreviewed"], 2)
        self.assertEqual([(o["login"], o["time"]) for o in st["break_glass"]["overdue"]], [("alice", old)])
        self.assertTrue(st["audit_intact"])
        text = self.env.admin("status", as_user="rev").stdout
        self.assertIn("OVERDUE", text)
        self.assertIn("2 unreviewed use(s), 1 overdue", text)
        s = self.env.admin("breakglass", "summary", as_user="rev").stdout
        self.assertIn("2 unreviewed break-glass use(s), 1 overdue", s)
        self.assertIn("(OVERDUE for review)", s)
        self.assertEqual(self.env.admin("status", as_user="bob", check=False).returncode, 6)


class Notify(Base):
    """Each use mails the reviewers through a real SMTP server on loopback, from
    ehr2fa-notify, a process that outlives the login: a server that refuses, is
    down or hangs never delays or fails the login, and the outcome is audited."""
    mode = "accept"
    reviewers = "po@example.org, security@example.org"

    def setUp(self):
        self.smtp = SmtpServer(self.mode)
        self.conf_extra = Base.conf_extra + f"break_glass_reviewers = {self.reviewers}\n" + self.smtp.conf()
        try:
            super().setUp()
        except BaseException:
            self.smtp.stop()
            raise

    def tearDown(self):
        super().tearDown()
        self.smtp.stop()

    def notices(self):
        return [x for x in self.env.audit() if x["action"].startswith("break-glass notification")]

    def wait_notices(self, n, timeout=15):
        """The notices audited, once there are n: ehr2fa-notify audits after the login has returned."""
        deadline = time.monotonic() + timeout
        while len(self.notices()) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.notices()


class NotifySent(Notify):
    def test_each_use_mails_the_reviewers(self):
        self.assertLoginOK(self.emergency())
        [m] = self.smtp.mails(1)
        [u] = self.uses()
        self.assertEqual(sorted(m["to"]), ["po@example.org", "security@example.org"])
        self.assertEqual(m["from"], "ehr2fa@example.org")
        self.assertIn(f"Subject: [ehr2fa] Break-the-glass access: alice on {HOST}", m["data"])
        self.assertIn(f"alice logged in on {HOST} WITHOUT a second factor", m["data"])
        self.assertIn(f"reason:  {REASON}", m["data"])
        self.assertIn(f"ehr2fa-admin breakglass review {u['id']} --note TEXT", m["data"])
        [n] = self.wait_notices(1)
        self.assertEqual((n["action"], n["user"], n["type"]), ("break-glass notification sent", "alice", "breakglass"))
        self.assertEqual(n["details"], f"use {u['id']}; mailed to 2 reviewer(s)")
        self.assertAuditIntact()

    def test_refused_use_mails_nobody(self):
        self.assertLoginFails(self.emergency(reason="short"))
        self.assertEqual(self.smtp.mails(0, timeout=0), [])
        self.assertEqual(self.notices(), [])

    def test_daily_summary_mail(self):
        self.env.admin("perm", "grant", "alice", "break_glass_review")
        r = self.env.admin("breakglass", "summary", "--mail")
        self.assertIn("No unreviewed break-glass uses.", r.stdout)
        self.assertLoginOK(self.emergency(now=self.t - 2 * 86400))
        self.assertEqual(len(self.smtp.mails(1)), 1)  # the use's own notice
        self.assertEqual(len(self.wait_notices(1)), 1)
        r = self.env.admin("breakglass", "summary", "--mail")
        self.assertIn("1 overdue, mailed to the reviewers", r.stdout)
        m = self.smtp.mails(2)[1]
        self.assertIn("Subject: [ehr2fa] 1 unreviewed break-glass use(s), 1 overdue", m["data"])
        self.assertIn("(OVERDUE for review)", m["data"])
        self.assertIn(REASON, m["data"])
        n = self.notices()[-1]
        self.assertEqual((n["action"], n["actor"]), ("break-glass notification sent", "root"))
        self.assertIn("daily summary: 1 unreviewed, 1 overdue", n["details"])
        self.assertAuditIntact()


class NotifyRefused(Notify):
    mode = "refuse"

    def test_refused_by_the_server_login_stands_failure_audited(self):
        self.assertLoginOK(self.emergency())
        [n] = self.wait_notices(1)
        self.assertEqual(n["action"], "break-glass notification failed")
        self.assertIn("not sent:", n["details"])
        self.assertIn("SMTP 550", n["details"])
        self.assertAuditIntact()


class NotifyHangs(Notify):
    mode = "hang"

    def test_server_that_never_answers_never_delays_the_login(self):
        r = self.emergency()
        self.assertLoginOK(r)
        # The login only hands the use over; ehr2fa-notify waits out mail_timeout_ms (3 s).
        self.assertLess(r.elapsed, 2, f"login took {r.elapsed:.1f} s")
        self.assertEqual(self.notices(), [])
        [n] = self.wait_notices(1)
        self.assertEqual(n["action"], "break-glass notification failed")
        self.assertIn("not sent:", n["details"])
        self.assertAuditIntact()


    def test_notifier_and_its_mail_sender_keep_nothing_of_the_login(self):
        """ehr2fa-notify (which opens the store) and the mail sender it starts (which holds
        the mail server's password) dump no core, and keep none of the host's
        descriptors, environment or directory."""
        canary = os.path.join(self.env.dir, "host-file")
        fd = os.open(canary, os.O_RDWR | os.O_CREAT, 0o600)  # inheritable: a host's file not marked close-on-exec
        try:
            r = self.emergency(pass_fds=(fd,), env_extra={"EHR2FA_HOST_SECRET": "x"})
        finally:
            os.close(fd)
        self.assertLoginOK(r)
        # Both wait out the hanging server after the login has gone.
        [notifier] = helper_processes(ehrtest.NOTIFIER, holding=self.env.store)
        [sender] = helper_processes(ehrtest.MAIL_SENDER, parent=notifier)
        # Read the sender once it has reached the server, not between its exec and its start.
        self.assertTrue(helper_connected(sender, self.smtp.port), "the mail sender never reached the server")
        for pid in notifier, sender:
            self.assertKeptNothingOfTheHost(helper_state(pid), canary)
        self.assertEqual(len(self.wait_notices(1)), 1)


class NotifyDown(Notify):
    def test_server_down_login_stands_failure_audited(self):
        self.smtp.kill()  # nothing listens on its port any more
        r = self.emergency()
        self.assertLoginOK(r)
        self.assertLess(r.elapsed, 2, f"login took {r.elapsed:.1f} s")
        [n] = self.wait_notices(1)
        self.assertEqual(n["action"], "break-glass notification failed")
        self.assertIn("not sent:", n["details"])
        r = self.env.admin("breakglass", "summary", "--mail", check=False)
        self.assertEqual(r.returncode, 1, out(r))
        self.assertIn("cannot mail the summary", r.stderr)
        self.assertEqual(self.notices()[-1]["action"], "break-glass notification failed")
        self.assertAuditIntact()


class NotifyWithoutNotifier(Notify):
    """No ehr2fa-notify to start: the login mails the reviewers itself, as before it
    existed, and audits the outcome before it returns."""

    def setUp(self):
        super().setUp()
        self.assertIn(f"notifier = {ehrtest.NOTIFIER}\n", self.conf_extra)
        self.env.write_conf(self.conf_extra.replace(f"notifier = {ehrtest.NOTIFIER}\n",
                                                    "notifier = /nonexistent/ehr2fa-notify\n"))

    def test_login_mails_them_itself(self):
        self.assertLoginOK(self.emergency())
        [m] = self.smtp.mails(1, timeout=0)
        self.assertIn(f"alice logged in on {HOST} WITHOUT a second factor", m["data"])
        [n] = self.notices()
        self.assertEqual((n["action"], n["user"]), ("break-glass notification sent", "alice"))
        self.assertAuditIntact()


class NotifierRefusesBadRequests(unittest.TestCase):
    """ehr2fa-notify's request comes from the login over a socket; one that is not
    what the login sends is answered -EINVAL at once and nothing is forked."""

    def ask(self, *fields):
        a, b = socket.socketpair()
        with a:
            p = subprocess.Popen([ehrtest.NOTIFIER], stdin=b, stdout=b, stderr=subprocess.DEVNULL,
                                 env={"PATH": "/usr/bin:/bin"}, start_new_session=True)
            b.close()
            a.sendall(b"".join(f.encode() + b"\0" for f in fields))
            a.shutdown(socket.SHUT_WR)
            a.settimeout(5)
            answer = a.recv(64)
            rest = a.recv(64)  # EOF: no process forked off holds the socket
        self.assertEqual(p.wait(timeout=5), 0)
        self.assertEqual(rest, b"")
        return answer

    def test_bad_requests(self):
        good = ("store_dir=/nonexistent\n", "7", "service=x rhost= tty=")
        for fields in [good[:2],                                     # a field short
                       (good[0], "seven", good[2]),                  # not an id
                       (good[0], "0", good[2]),                      # not an id either
                       ("store_dir /nonexistent\n", "7", good[2]),   # a config line without =
                       ("no_such_key=1\n", "7", good[2]),            # a key ehr2fa.conf has not
                       ("fail_delay_ms=soon\n", "7", good[2]),       # a value the key refuses
                       (good[0], "7", "service=x\x1b[2J")]:          # a control character
            with self.subTest(fields=fields):
                self.assertEqual(self.ask(*fields), b"-22 0\n")


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root and setpriv")
class ReviewUnprivileged(Base):
    """A reviewer without root: the admin tool hands the verbs to the setuid helper,
    where the caller's own permissions in the store decide, never root's."""

    def setUp(self):
        super().setUp()
        # nobody is the host's own account: a 2FA-only record.
        self.env.admin("user", "add", "nobody", "--existing", "--role", "staff")
        self.setuid = SetuidHelper(self.env)

    def tearDown(self):
        self.setuid.cleanup()
        super().tearDown()

    def as_nobody(self, *args):
        return self.setuid.run_as(NOBODY, [self.setuid.admin, *args])

    def test_review_through_the_helper_with_the_permission_only(self):
        self.assertLoginOK(self.emergency())
        r = self.as_nobody("breakglass", "list")
        self.assertEqual(r.returncode, 6, out(r))
        self.assertIn("Break the Glass Review", r.stderr)
        self.env.admin("perm", "grant", "nobody", "break_glass_review")
        r = self.as_nobody("--json", "breakglass", "list", "--unreviewed")
        self.assertEqual(r.returncode, 0, out(r))
        [u] = json.loads(r.stdout)
        self.assertEqual((u["login"], u["reason"]), ("alice", REASON))
        r = self.as_nobody("breakglass", "review", str(u["id"]), "--note", "Checked with the charge nurse")
        self.assertEqual(r.returncode, 0, out(r))
        self.assertEqual(self.uses()[0]["reviewer"], "nobody")
        self.assertEqual(json.loads(self.as_nobody("--json", "status").stdout)["break_glass"]["unreviewed"], 0)
        # Self-service stops there: another verb is not handed to the helper's authority.
        self.assertEqual(self.as_nobody("perm", "grant", "nobody", "manage_accounts").returncode, 4)
        self.assertAuditIntact()


if __name__ == "__main__":
    ehrtest.main(lambda: ehrtest.need("pamtester"))
