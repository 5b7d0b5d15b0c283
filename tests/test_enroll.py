#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Enrollment at first login through real libpam: a conversation that takes one
message at a time (tests/pam-conv-one.c, as GDM's does) is shown the QR code and
the otpauth:// URI; the code that confirms it comes from oathtool, computed from
the URI shown; the QR code is read back with zbarimg. Then the ten recovery codes,
once; the wrong code counted; never on a public host. (Through a real sshd:
tests/sshd/test_sshd.py, EnrollAtLogin.)"""

import os
import re
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from ehrtest import MODULE, PAM_MATRIX, PASSWORD, EnvTestCase, main, need, oath, sanitizer_preload

CONV_ONE = os.environ.get("EHR2FA_PAM_CONV_ONE", "")
POLICY = "enforce_roles = staff\nenroll_by = 2020-01-31\ngrace_logins = 5\nenroll_services = ehr2fa-test\n"


def secret_of(uri):
    q = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)
    return q["secret"][0]


def qr_text_to_pbm(text, path, scale=4, border=8):
    """The QR as the module draws it (light modules as blocks) onto a dark screen,
    as a phone's camera sees it: a PBM image for zbarimg (1 = black)."""
    halves = {" ": (0, 0), "\u2588": (1, 1), "\u2580": (1, 0), "\u2584": (0, 1)}
    lines = [l for l in text.split("\n") if l and set(l) <= set(halves)]
    rows = []
    for l in lines:
        rows.append([halves[c][0] for c in l])
        rows.append([halves[c][1] for c in l])
    w = max(len(r) for r in rows) + 2 * border
    img = [[0] * w for _ in range(border)] + [[0] * border + r + [0] * (w - border - len(r)) for r in rows] + \
        [[0] * w for _ in range(border)]
    with open(path, "w") as f:
        f.write(f"P1\n{w * scale} {len(img) * scale}\n")
        for r in img:
            line = " ".join("0" if light else "1" for light in r for _ in range(scale))
            for _ in range(scale):
                f.write(line + "\n")


NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"


def host_accounts(env, users):
    """The host's accounts for pam_unix (nss_wrapper), each with PASSWORD's hash in
    its passwd line: the real password module, which sets PAM_AUTHTOK as pam_unix,
    pam_sss and pam_krb5 do (pam_matrix, the test double, does not)."""
    crypted = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=PASSWORD + "\n", capture_output=True,
                             text=True, check=True).stdout.strip()
    files = os.path.join(env.dir, "files")
    os.makedirs(files, exist_ok=True)
    with open(os.path.join(files, "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
        for i, u in enumerate(users):
            f.write(f"{u}:{crypted}:{61100 + i}:900::/nonexistent:/bin/sh\n")
    with open(os.path.join(files, "group"), "w") as f:
        f.write("root:x:0:\nusers:x:900:\n")
    env.nss = {"NSS_WRAPPER_PASSWD": os.path.join(files, "passwd"), "NSS_WRAPPER_GROUP": os.path.join(files, "group")}


class Login:
    """One login through pam-conv-one; answer(style, text, seen) gives each prompt's answer."""

    def __init__(self, env, user, answer, now=None, timeout=60):
        e = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0", **getattr(env, "nss", {}))
        if now is not None:
            e["EHR2FA_TEST_NOW"] = str(now)
        # Under ASan, libcrypt too, loaded at start: pam_unix's crypt() goes through
        # ASan's interceptor, which finds no real crypt() in a library dlopen()ed later.
        asan = sanitizer_preload()
        e["LD_PRELOAD"] = ":".join(asan + (["libcrypt.so.1"] if asan else []) + [NSS_WRAPPER])
        p = subprocess.Popen([CONV_ONE, env.svcdir, env.service, user], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        self.msgs, self.result, self.many = [], None, False
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                line = p.stdout.readline().decode()
                if not line:
                    break
                if line.startswith("MSG "):
                    _, style, n = line.split()
                    text = p.stdout.read(int(n)).decode()
                    p.stdout.read(1)
                    self.msgs.append((style, text))
                    if style.startswith("prompt"):
                        p.stdin.write((answer(style, text, self) + "\n").encode())
                        p.stdin.flush()
                elif line.startswith("RESULT "):
                    self.result = int(line.split()[1])
                elif line.startswith("MANY"):
                    self.many = True
        finally:
            p.stdin.close()
            p.wait(timeout=30)
            self.stderr = p.stderr.read().decode()
            p.stdout.close()
            p.stderr.close()
        self.returncode = p.returncode

    def text(self, style=None):
        return "\n".join(t for s, t in self.msgs if style is None or s == style)

    def uri(self):
        m = re.search(r"otpauth://totp/\S+", self.text("info"))
        return m.group(0) if m else None


def answers(code=None, codes=(), password=PASSWORD):
    """Password first; at the code prompt the next of codes, or (code=None) the
    code of the URI shown; Enter after the recovery codes."""
    pending = list(codes)

    def answer(style, text, login):
        if "Password" in text:
            return password
        if "Code from the app" in text:
            if pending:
                return pending.pop(0)
            return oath(secret_of(login.uri())) if code is None else code
        if "Press Enter" in text:
            return ""
        return "unexpected"
    return answer


class EnrollAtLogin(EnvTestCase):
    conf_extra = POLICY + "deny = 3\n"

    def setUp(self):
        super().setUp()
        self.env.add_user("nurse", secret=None, role="staff")
        host_accounts(self.env, ["nurse"])
        # requisite: a wrong password ends the stack before pam_ehr2fa says anything
        with open(os.path.join(self.env.svcdir, self.env.service), "w") as f:
            f.write("auth requisite pam_unix.so\n"
                    f"auth required {MODULE} conf={self.env.conf}\n"
                    f"account required {MODULE} conf={self.env.conf}\n")

    def login(self, user="nurse", **kw):
        return Login(self.env, user, answers(**kw))

    def status(self, user="nurse"):
        import json
        return {u["login"]: u for u in json.loads(self.env.admin("--json", "policy", "show").stdout)["users"]}[user]

    def test_first_login_enrolls_one_message_at_a_time(self):
        r = self.login()
        self.assertFalse(r.many, "a conversation call carried more than one message")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.result, 0, r.msgs)
        styles = [s for s, _ in r.msgs]
        self.assertEqual(styles, ["prompt_off", "info", "info", "prompt_off", "info", "prompt_on"], r.msgs)
        self.assertIn("Set it up now with the phone app", r.msgs[1][1])
        uri = r.uri()
        self.assertTrue(uri.startswith("otpauth://totp/ehr2fa:nurse?secret="), uri)
        self.assertIn(f"key {secret_of(uri)}", r.msgs[2][1])
        # the QR code shown is exactly the URI shown
        with tempfile.TemporaryDirectory() as d:
            pbm = os.path.join(d, "qr.pbm")
            qr_text_to_pbm(r.msgs[1][1], pbm)
            z = subprocess.run(["zbarimg", "--raw", "-q", pbm], capture_output=True, text=True, timeout=60)
            self.assertEqual(z.stdout.strip(), uri, z.stderr)
        codes = re.findall(r"^  ([0-9a-z]{5}-[0-9a-z]{5})$", r.msgs[4][1], re.M)
        self.assertEqual(len(codes), 10, r.msgs[4][1])
        self.assertTrue(self.status()["enrolled"])
        actions = [a["action"] for a in self.env.audit("nurse")]
        for a in ("enrollment offered", "TOTP enrolled", "second factor accepted", "recovery codes generated"):
            self.assertIn(a, actions)
        # the seed is not in the audit log, the log verifies
        self.assertNotIn(secret_of(uri), str(self.env.audit()))
        self.assertIn("intact", self.env.admin("audit", "verify").stdout)
        # from now on: a code of the app, the confirmation code never again, a recovery code once
        again = Login(self.env, "nurse", answers(code="x"))
        self.assertNotEqual(again.result, 0)
        self.assertIn("Verification code", again.text())
        secret = secret_of(uri)

        def code_answer(style, text, login):
            return PASSWORD if "Password" in text else oath(secret) if "Verification" in text else ""
        same = Login(self.env, "nurse", code_answer)
        if same.result != 0:  # the same 30-s step as the confirmation: a replay, refused
            self.assertIn("Verification failed", same.text())
            time.sleep(31 - time.time() % 30)
            same = Login(self.env, "nurse", code_answer)
        self.assertEqual(same.result, 0, same.msgs)
        rec = Login(self.env, "nurse", lambda s, t, l: PASSWORD if "Password" in t else codes[0])
        self.assertEqual(rec.result, 0, rec.msgs)
        self.assertNotEqual(Login(self.env, "nurse", lambda s, t, l: PASSWORD if "Password" in t else codes[0]).result, 0)

    def test_wrong_confirmation_code_is_counted_and_locks(self):
        r = self.login(codes=["000000", "000001"], code="000002")
        self.assertNotEqual(r.result, 0)
        self.assertIn("That code is not right", r.text("error"))
        self.assertIn("locked after too many failed verification codes", r.text("error"))
        fails = [a["details"] for a in self.env.audit("nurse") if a["action"] == "second factor failed"]
        self.assertEqual(fails[:3], ["TOTP code wrong; failure 1 of 3", "TOTP code wrong; failure 2 of 3",
                                     "TOTP code wrong; failure 3 of 3"])
        self.assertFalse(self.status()["enrolled"])
        # locked: nothing offered, nothing let through on grace
        r = self.login()
        self.assertNotEqual(r.result, 0)
        self.assertNotIn("otpauth://", r.text())
        self.assertIn("locked", r.text("error"))

    def test_password_as_code_is_not_counted(self):
        r = self.login(codes=[PASSWORD, "not-a-code"], code="")
        self.assertEqual(r.result, 0)  # skipped: a grace login (PAM_IGNORE after pam_matrix)
        self.assertEqual(r.text("error").count("That is not a code from the app."), 2)
        self.assertFalse(any(a["action"] == "second factor failed" for a in self.env.audit("nurse")))

    def test_skip_uses_a_grace_login(self):
        r = self.login(code="")
        self.assertEqual(r.result, 0)
        self.assertIn("4 logins left before you are refused", r.text("info"))
        actions = [a["action"] for a in self.env.audit("nurse")]
        self.assertIn("enrollment skipped", actions)
        self.assertFalse(self.status()["enrolled"])

    def test_never_offered_on_a_public_host(self):
        self.env.write_conf(self.conf_extra + "public_host = yes\n")
        r = self.login(code="")
        self.assertEqual(r.result, 0)
        self.assertNotIn("otpauth://", r.text())
        self.assertIn("logins left before you are refused", r.text("info"))
        self.assertNotIn("enrollment offered", [a["action"] for a in self.env.audit("nurse")])
        self.assertIn("enrollment at login: never (public_host)", self.env.admin("policy", "show").stdout)

    def test_only_where_the_config_offers_it(self):
        self.env.write_conf(self.conf_extra.replace("enroll_services = ehr2fa-test", "enroll_services = sshd"))
        self.assertNotIn("otpauth://", self.login(code="").text())
        self.env.write_conf(self.conf_extra + "enroll_hosts = some-other-host\n")
        self.assertNotIn("otpauth://", self.login(code="").text())
        self.env.write_conf(self.conf_extra + f"enroll_hosts = {os.uname().nodename}\n")
        self.assertIn("otpauth://", self.login(code="").text())

    def test_not_offered_without_a_password_module(self):
        # pam_matrix takes a password and sets no PAM_AUTHTOK: as a stack with no
        # password module (keys + code), enrollment is never offered
        with open(os.path.join(self.env.svcdir, self.env.service), "w") as f:
            f.write(f"auth requisite {PAM_MATRIX} passdb={self.env.passdb}\n"
                    f"auth required {MODULE} conf={self.env.conf}\n")
        r = self.login(code="")
        self.assertNotIn("otpauth://", r.text())
        self.assertIn("logins left", r.text("info"))

    def test_wrong_password_never_reaches_enrollment(self):
        r = self.login(password="wrong horse")
        self.assertNotEqual(r.result, 0)
        self.assertNotIn("otpauth://", r.text())
        self.assertNotIn("enrollment offered", [a["action"] for a in self.env.audit("nurse")])


def prerequisites():
    need("oathtool")
    need("openssl")
    need("zbarimg")
    if not os.path.exists(NSS_WRAPPER):
        raise unittest.SkipTest("needs nss_wrapper")
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: pam_unix reads the password hash")
    if not CONV_ONE or not os.path.exists(CONV_ONE):
        raise unittest.SkipTest("EHR2FA_PAM_CONV_ONE (tests/pam-conv-one) not built")


if __name__ == "__main__":
    main(prerequisites)
