#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""SMS tokens on request through a real HTTP gateway on 127.0.0.1, trusted
devices, and the fail mode, all through real libpam."""

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

from ehrtest import EnvTestCase, Env, oath, PASSWORD, SMS_SENDER, BUILD, store_locked, helper_processes, \
    helper_connected, helper_parent, helper_state

GATEWAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sms", "gateway.py")
PHONE = "+15551234566"


class Gateway:
    """tests/sms/gateway.py: records every request as a JSON line."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ehr2fa-gw-")
        self.log = os.path.join(self.dir, "requests.jsonl")
        portfile = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen([sys.executable, GATEWAY, "--port-file", portfile, "--log", self.log,
                                      "--lifetime", "300"])
        deadline = time.monotonic() + 10
        while not os.path.exists(portfile):
            if time.monotonic() > deadline:
                raise RuntimeError("gateway did not start")
            time.sleep(0.05)
        with open(portfile) as f:
            self.port = int(f.read())

    def url(self, path="/ok"):
        return f"http://127.0.0.1:{self.port}{path}"

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(l) for l in f if l.strip()]

    def wait_token(self, n, timeout=10):
        """The token in the n-th message received (1-based)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reqs = self.requests()
            if len(reqs) >= n:
                body = json.loads(reqs[n - 1]["body"])
                return re.search(r"\b(\d{6})\b", body["message"]).group(1)
            time.sleep(0.05)
        raise AssertionError("no text message reached the gateway")

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        subprocess.run(["rm", "-rf", self.dir])


def out(r):
    return r.stdout + r.stderr


class SmsBase(EnvTestCase):
    testclock = True
    path = "/ok"
    extra = ""

    def setUp(self):
        self.gw = Gateway()
        self.token_file = tempfile.mktemp(prefix="ehr2fa-smstoken-")
        with open(self.token_file, "w") as f:
            f.write("test-api-token-123\n")
        os.chmod(self.token_file, 0o600)
        self.conf_extra = (f"sms_mode = generic\nsms_url = {self.gw.url(self.path)}\n"
                           f"sms_token_file = {self.token_file}\nsms_timeout_ms = 2000\nsms_sender = {SMS_SENDER}\n"
                           f"sms_connect_timeout_ms = 1000\n{self.extra}")
        super().setUp()
        self.env.add_user("alice", phone=PHONE)
        self.t = int(time.time())

    def tearDown(self):
        super().tearDown()
        self.gw.stop()
        os.unlink(self.token_file)

    def request_and_answer(self, now, answer_fn, trust="n", sent=True, env_extra=None):
        """Type sms, then whatever answer_fn(token) returns (token None when not sent)."""
        n = len(self.gw.requests()) + 1

        def script(write):
            write("sms")
            write(answer_fn(self.gw.wait_token(n) if sent else None))
            write(trust)

        return self.env.login_interactive("alice", script, now=now, env_extra=env_extra)


class SmsLogin(SmsBase):
    def test_sms_login_with_token_from_gateway(self):
        r = self.request_and_answer(self.t, lambda tok: tok)
        self.assertLoginOK(r)
        self.assertIn("Code sent to the phone ending in 66", out(r))
        req = self.gw.requests()[0]
        self.assertEqual(req["method"], "POST")
        body = json.loads(req["body"])
        self.assertEqual(body["to"], PHONE)
        headers = {k.lower(): v for k, v in req["headers"]}
        self.assertEqual(headers["authorization"], "Bearer test-api-token-123")
        rows = self.env.audit("alice")
        self.assertIn("SMS token sent", [x["action"] for x in rows])
        self.assertEqual(rows[-1]["details"], "SMS token accepted")
        text = json.dumps(rows)
        self.assertNotIn(PHONE, text)
        self.assertNotIn("5551234566", text)
        self.assertNotIn(self.gw.wait_token(1), text)

    def test_token_single_use(self):
        self.assertLoginOK(self.request_and_answer(self.t, lambda tok: tok))
        tok = self.gw.wait_token(1)
        self.assertLoginFails(self.env.login("alice", tok, now=self.t + 5))

    def test_token_expires(self):
        # Ask in one login (cancelled), answer in a later one.
        def ask_only(write):
            write("sms")
            self.gw.wait_token(1)
        self.assertLoginFails(self.env.login_interactive("alice", ask_only, now=self.t))
        tok = self.gw.wait_token(1)
        self.assertLoginFails(self.env.login("alice", tok, now=self.t + 301))
        # Expired means gone: not valid again at an earlier clock either.
        self.assertLoginFails(self.env.login("alice", tok, now=self.t + 10))

    def test_token_valid_within_ttl(self):
        def ask_only(write):
            write("sms")
            self.gw.wait_token(1)
        self.env.login_interactive("alice", ask_only, now=self.t)
        self.assertLoginOK(self.env.login("alice", self.gw.wait_token(1), "n", now=self.t + 290))

    def test_three_wrong_tries_void_token(self):
        def ask_only(write):
            write("sms")
            self.gw.wait_token(1)
        self.env.login_interactive("alice", ask_only, now=self.t)
        tok = self.gw.wait_token(1)
        wrong = "%06d" % ((int(tok) + 1) % 1000000)
        for i in range(3):
            self.assertLoginFails(self.env.login("alice", wrong, now=self.t + 1 + i))
        self.assertLoginFails(self.env.login("alice", tok, now=self.t + 5))

    def test_rate_limit(self):
        self.assertLoginOK(self.request_and_answer(self.t, lambda tok: tok))
        r = self.request_and_answer(self.t + 10, lambda tok: oath(now=self.t + 10), sent=False)
        self.assertLoginOK(r)
        self.assertIn("next is possible at", out(r))
        self.assertEqual(len(self.gw.requests()), 1)
        # Five per hour: sends at t, t+61, t+122, t+183, t+244 pass, t+305 is refused.
        for i in range(1, 5):
            now = self.t + 61 * i
            self.assertLoginOK(self.request_and_answer(now, lambda tok: tok))
        self.assertEqual(len(self.gw.requests()), 5)
        r = self.request_and_answer(self.t + 305, lambda tok: "", sent=False)
        self.assertIn("next is possible at", out(r))
        self.assertEqual(len(self.gw.requests()), 5)
        self.assertLoginOK(self.request_and_answer(self.t + 3601, lambda tok: tok))
        self.assertEqual(len(self.gw.requests()), 6)

    def test_rate_limited_text_and_lockout_are_logged_apart(self):
        """-EAGAIN was both "locked out" and "SMS rate limited": a text refused for
        the rate is logged as such (it once left no line at all), and a lockout says
        "account locked", never "rate limited"."""
        notices = {"PAM_WRAPPER_DEBUGLEVEL": "2"}  # pam_wrapper shows LOG_NOTICE lines from level 2
        self.assertLoginOK(self.request_and_answer(self.t, lambda tok: tok))
        r = self.request_and_answer(self.t + 10, lambda tok: oath(now=self.t + 10), sent=False, env_extra=notices)
        self.assertLoginOK(r)
        self.assertIn("SMS token not sent: rate limited: a text message was sent too recently, next possible at",
                      out(r))
        self.assertNotIn("locked", out(r))
        wrong = "%06d" % ((int(oath(now=self.t + 40)) + 1) % 1000000)
        for i in range(5):  # deny = 5 by default
            self.assertLoginFails(self.env.login("alice", wrong, now=self.t + 40 + i))
        r = self.env.login("alice", oath(now=self.t + 50), now=self.t + 50, env_extra=notices)
        self.assertLoginFails(r)
        self.assertIn("account locked; user=alice", out(r))
        self.assertNotIn("rate limited", out(r))

    def test_store_fault_during_the_check_is_not_a_wrong_code(self):
        """A store that faults in the middle of a code check is the store's failure,
        not the user's: nothing counted, the log says what is wrong with the store,
        the user is told 2FA is unavailable. Here a group/world-writable side file
        appears while the user is at the prompt (the store's journal, with the store
        out of WAL mode as an admin may leave it). -EACCES once meant both "wrong
        code" and such a fault: the right code was logged as "wrong code"."""
        dbpath = os.path.join(self.env.store, "ehr2fa.db")
        with contextlib.closing(sqlite3.connect(dbpath)) as db:
            self.assertEqual(db.execute("PRAGMA journal_mode = DELETE").fetchone()[0], "delete")
        journal = dbpath + "-journal"

        def answer(tok):
            # Once the send is audited (committed: its journal gone), the module is at the prompt.
            deadline = time.monotonic() + 10
            with contextlib.closing(sqlite3.connect(dbpath, timeout=5)) as db:
                while not db.execute("SELECT count(*) FROM audit WHERE action = 'SMS token sent'").fetchone()[0]:
                    self.assertLess(time.monotonic(), deadline, "the text's send was never audited")
                    time.sleep(0.02)
            fd = os.open(journal, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            os.fchmod(fd, 0o666)
            os.close(fd)
            return tok

        r = self.request_and_answer(self.t, answer)
        self.assertLoginFails(r)
        self.assertIn("cannot check the second factor of alice: accessible by group or others", out(r))
        self.assertIn("Two-factor authentication is unavailable", out(r))
        self.assertNotIn("wrong code", out(r))
        self.assertNotIn("Verification failed", out(r))
        os.unlink(journal)
        with contextlib.closing(sqlite3.connect(dbpath)) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM failures WHERE count != 0").fetchone()[0], 0)
        self.assertNotIn("second factor failed", [x["action"] for x in self.env.audit("alice")])
        # The store fixed, the same token still works: nothing of the faulty check was kept.
        self.assertLoginOK(self.env.login("alice", self.gw.wait_token(1), "n", now=self.t + 5))

    def test_user_without_phone_is_told(self):
        self.env.add_user("bob", phone="")
        r = self.env.login("bob", "sms", oath(now=self.t), "n", now=self.t)
        self.assertLoginOK(r)
        self.assertIn("No cell phone on file", out(r))
        self.assertEqual(self.gw.requests(), [])

    def test_keyword_offered_in_prompt(self):
        r = self.env.login("alice", oath(now=self.t), "n", now=self.t)
        self.assertIn('"sms" for a text message', out(r))


class SmsGatewayHangs(SmsBase):
    path = "/hang"

    def test_login_finishes_within_timeout(self):
        code = oath(now=self.t)
        r = self.env.login("alice", "sms", code, "n", now=self.t)
        self.assertLoginOK(r)
        self.assertIn("could not be sent; use your app or a recovery code", out(r))
        self.assertLess(r.elapsed, 2.0 + 1.0 + 0.5)
        self.assertIn("SMS token not sent", [x["action"] for x in self.env.audit("alice")])


    def test_sender_keeps_nothing_of_the_login(self):
        """The sender holds the gateway's credentials: it dumps no core, and keeps none
        of the host's descriptors, environment or directory."""
        canary = os.path.join(self.env.dir, "host-file")
        fd = os.open(canary, os.O_RDWR | os.O_CREAT, 0o600)  # inheritable: a host's file not marked close-on-exec
        seen = {}

        def script(write):
            write("sms")
            # This login's sender, waiting out the hanging gateway: its parent is the host,
            # which holds the file (so the sender could have inherited it).
            [pid] = [p for p in helper_processes(SMS_SENDER)
                     if canary in helper_state(helper_parent(p))["fds"].values()]
            # Read it once it has reached the gateway, not between its exec and its start.
            self.assertTrue(helper_connected(pid, self.gw.port), "the sender never reached the gateway")
            seen.update(helper_state(pid))
            write(oath(now=self.t))
            write("n")

        try:
            r = self.env.login_interactive("alice", script, now=self.t, pass_fds=(fd,),
                                           env_extra={"EHR2FA_HOST_SECRET": "x"})
        finally:
            os.close(fd)
        self.assertLoginOK(r)
        self.assertKeptNothingOfTheHost(seen, canary)
        self.assertTrue(seen["fds"][0].startswith("socket:") and seen["fds"][0] == seen["fds"][1], seen["fds"])


class SmsGateway500(SmsBase):
    path = "/status/500"

    def test_500_is_reported_and_voids_token(self):
        r = self.env.login("alice", "sms", oath(now=self.t), "n", now=self.t)
        self.assertLoginOK(r)
        self.assertIn("could not be sent", out(r))
        # The syslog line says what happened, not another unit's meaning of the errno
        # (it was "SMS gateway failed (store schema version not supported by this binary, HTTP 500)").
        self.assertIn("SMS gateway answered HTTP 500; user=alice phone=***66", out(r))
        self.assertNotIn("schema", out(r))
        self.assertTrue(any("HTTP 500" in x["details"] for x in self.env.audit("alice")))
        tok = self.gw.wait_token(1)
        self.assertLoginFails(self.env.login("alice", tok, now=self.t + 31))


class SmsGateway429(SmsBase):
    path = "/status/429"

    def test_429_is_reported_as_such(self):
        r = self.env.login("alice", "sms", oath(now=self.t), "n", now=self.t)
        self.assertLoginOK(r)
        self.assertIn("could not be sent", out(r))
        self.assertIn("SMS gateway answered HTTP 429; user=alice phone=***66", out(r))
        self.assertNotIn("schema", out(r))
        self.assertIn("gateway answered HTTP 429; token voided", [x["details"] for x in self.env.audit("alice")])


class SmsCredentialFileOpen(SmsBase):
    def test_token_file_readable_by_others_is_named(self):
        os.chmod(self.token_file, 0o644)
        r = self.env.login("alice", "sms", oath(now=self.t), "n", now=self.t)
        self.assertLoginOK(r)
        self.assertIn("could not be sent", out(r))
        why = f"{self.token_file} is accessible by group or others; fix: chmod go-rwx {self.token_file}"
        self.assertIn(f"SMS gateway credential file unusable: {why}", out(r))
        self.assertNotIn("wrong code", out(r))  # -EACCES here is the file's mode, not a code
        self.assertIn(f"gateway credential file unusable: {why}"[:160],
                      [x["details"] for x in self.env.audit("alice")])
        self.assertEqual(self.gw.requests(), [])


MARKER_PROVIDER = os.environ.get("EHR2FA_TEST_MARKER_PROVIDER",
                                 os.path.join(BUILD, "tests", "marker-provider.so"))


class SmsCallerEnvironment(SmsBase):
    """The module takes nothing from the caller's environment: a text is sent with the
    root-owned config's TLS and proxy settings only, whatever the login's environment
    says (a host that is not setuid, such as this pamtester, passes it all on)."""

    def hostile_env(self):
        d = self.env.dir
        self.marker = os.path.join(d, "provider-loaded")
        self.keylog = os.path.join(d, "tls-keys")
        conf = os.path.join(d, "hostile-openssl.cnf")
        with open(conf, "w") as f:
            f.write("openssl_conf = init\n[init]\nproviders = provs\n[provs]\nevil = evil_sect\n"
                    f"[evil_sect]\nmodule = {MARKER_PROVIDER}\nactivate = 1\n")
        return {"OPENSSL_CONF": conf, "EHR2FA_TEST_MARKER": self.marker, "OPENSSL_MODULES": d,
                "OPENSSL_ENGINES": d, "SSL_CERT_FILE": conf, "SSL_CERT_DIR": d, "SSLKEYLOGFILE": self.keylog,
                "CURL_CA_BUNDLE": conf, "CURL_SSL_BACKEND": "none", "http_proxy": "http://127.0.0.1:9",
                "HTTP_PROXY": "http://127.0.0.1:9", "all_proxy": "http://127.0.0.1:9", "no_proxy": "*"}

    def test_hostile_openssl_conf_has_no_effect(self):
        self.assertTrue(os.path.exists(MARKER_PROVIDER), MARKER_PROVIDER)
        env = self.hostile_env()
        n = len(self.gw.requests()) + 1

        def script(write):
            write("sms")
            write(self.gw.wait_token(n))
            write("n")

        r = self.env.login_interactive("alice", script, now=self.t, env_extra=env)
        self.assertLoginOK(r)
        self.assertIn("Code sent to the phone ending in 66", out(r))
        self.assertFalse(os.path.exists(self.marker), "the caller's OPENSSL_CONF loaded its provider")
        self.assertFalse(os.path.exists(self.keylog), "the caller's SSLKEYLOGFILE was honoured")

    def test_marker_provider_works(self):
        # The test above can fail: the same configuration does load the provider into a
        # process that reads it (openssl(1) here), and writes the marker.
        env = dict(os.environ, **self.hostile_env())
        r = subprocess.run(["openssl", "version"], env=env, capture_output=True, text=True)
        if r.returncode == 127:
            self.skipTest("openssl(1) not installed")
        self.assertTrue(os.path.exists(self.marker), r.stderr)

    def test_sender_missing_is_named(self):
        self.env.write_conf(self.conf_extra.replace(SMS_SENDER, "/nonexistent/ehr2fa-sms-send"))
        r = self.env.login("alice", "sms", oath(now=self.t), "n", now=self.t)
        self.assertLoginOK(r)
        self.assertIn("could not be sent", out(r))
        self.assertIn("SMS gateway failed: the SMS sender (ehr2fa-sms-send, see sms_sender) could not run", out(r))
        self.assertEqual(self.gw.requests(), [])


class SmsGatewayDown(SmsBase):
    def setUp(self):
        super().setUp()
        self.gw.proc.kill()
        self.gw.proc.wait()

    def test_down_gateway(self):
        r = self.env.login("alice", "sms", oath(now=self.t), "n", now=self.t)
        self.assertLoginOK(r)
        self.assertIn("could not be sent", out(r))
        self.assertIn("SMS gateway failed: Connection refused; user=alice", out(r))
        self.assertLess(r.elapsed, 3.5)


class SmsOff(EnvTestCase):
    def test_keyword_when_sms_off(self):
        self.env.add_user("alice")
        r = self.env.login("alice", "sms", oath(), "n")
        self.assertLoginOK(r)
        self.assertIn("Text messages are not enabled", out(r))


class Trust(EnvTestCase):
    testclock = True
    service = "login"

    def setUp(self):
        super().setUp()
        self.env.add_user("alice")
        self.t = int(time.time())

    def trust(self, now, items=()):
        return self.env.login("alice", oath(now=now), "y", now=now, items=items)

    def at_service(self, service):
        """Log in at another PAM service from now on: the same stack, password and store."""
        self.env.service = service
        self.env.set_module_args(testclock=True)
        with open(self.env.passdb, "a") as f:
            f.write(f"alice:{PASSWORD}:{service}\n")

    def test_sudo_asks_the_code_after_a_trusted_login(self):
        """A "y" at a login never waives the code at sudo or su: that code is a step-up."""
        self.assertLoginOK(self.trust(self.t))
        self.assertLoginOK(self.env.login("alice", now=self.t + 60))  # the login itself: trusted
        for service in ("sudo", "su", "polkit-1"):
            self.at_service(service)
            r = self.env.login("alice", now=self.t + 120)
            self.assertLoginFails(r)
            self.assertIn("Verification code", out(r))
        self.assertEqual(self.env.audit("alice")[-1]["action"], "second factor failed")

    def test_sudo_never_offers_trust(self):
        """Answering "y" at sudo used to skip the code at sudo for 30 days."""
        self.at_service("sudo")
        r = self.env.login("alice", oath(now=self.t), "y", now=self.t)
        self.assertLoginOK(r)
        self.assertNotIn("Trust this device", out(r))
        self.assertEqual(json.loads(self.env.admin("--json", "device", "list", "alice").stdout), [])
        r = self.env.login("alice", now=self.t + 60)
        self.assertLoginFails(r)
        self.assertIn("Verification code", out(r))

    def test_trust_services_configures_where_trust_counts(self):
        self.env.write_conf("trust_services = gdm-password\n")
        r = self.env.login("alice", oath(now=self.t), "y", now=self.t)  # "login" is not listed now
        self.assertLoginOK(r)
        self.assertNotIn("Trust this device", out(r))
        self.at_service("gdm-password")
        self.assertLoginOK(self.trust(self.t + 30))
        self.assertLoginOK(self.env.login("alice", now=self.t + 60))
        self.at_service("login")
        self.assertLoginFails(self.env.login("alice", now=self.t + 90))

    def test_trust_services_refuses_step_up_services(self):
        for bad in ("login sudo", "su", "login,polkit-1", "log/in"):
            self.env.write_conf(f"trust_services = {bad}\n")
            r = self.env.admin("user", "show", "alice", check=False)
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertIn("trust_services", r.stderr, bad)
            r = self.env.login("alice", oath(now=self.t), "y", now=self.t)
            self.assertLoginFails(r)
            self.assertIn("unavailable", out(r))

    def test_trust_then_no_prompt(self):
        r = self.trust(self.t)
        self.assertLoginOK(r)
        self.assertIn("Trust this device for 30 days? (not on shared or public computers) [y/N]", out(r))
        r = self.env.login("alice", now=self.t + 86400)
        self.assertLoginOK(r)
        self.assertNotIn("Verification code", out(r))
        self.assertIn("trusted device", self.env.audit("alice")[-1]["details"])
        listing = json.loads(self.env.admin("--json", "device", "list", "alice").stdout)
        self.assertEqual(len(listing), 1)
        self.assertIn("local login", listing[0]["label"])

    def test_no_means_no(self):
        self.assertLoginOK(self.env.login("alice", oath(now=self.t), "n", now=self.t))
        self.assertLoginFails(self.env.login("alice", now=self.t + 60))

    def test_trust_still_respects_lockout_and_password(self):
        self.trust(self.t)
        self.assertLoginFails(self.env.login("alice", now=self.t + 60, password="wrong"))
        for i in range(5):
            self.env.login("alice", "000000", now=self.t + 61 + i, items=("rhost=127.0.0.9",))
        r = self.env.login("alice", now=self.t + 70)
        self.assertLoginFails(r)
        self.assertIn("locked", out(r))

    def test_expired_trust(self):
        self.trust(self.t)
        r = self.env.login("alice", now=self.t + 30 * 86400 + 1)
        self.assertLoginFails(r)
        self.assertIn("Verification code", out(r))

    def test_other_client_not_trusted(self):
        self.assertLoginOK(self.trust(self.t, items=("rhost=127.0.0.2",)))
        self.assertLoginOK(self.env.login("alice", now=self.t + 60, items=("rhost=127.0.0.2",)))
        self.assertLoginFails(self.env.login("alice", now=self.t + 61, items=("rhost=127.0.0.3",)))
        self.assertLoginFails(self.env.login("alice", now=self.t + 62))  # local login: another device

    def test_public_host_never_asks_nor_honours(self):
        self.trust(self.t)
        self.env.write_conf("public_host = yes\n")
        r = self.env.login("alice", oath(now=self.t + 60), "y", now=self.t + 60)
        self.assertLoginOK(r)
        self.assertNotIn("Trust this device", out(r))
        self.assertLoginFails(self.env.login("alice", now=self.t + 120))

    def test_trust_days_zero_turns_trust_off(self):
        """Turning trust off takes effect at once: a device trusted before is asked for a
        code again, and counts again if trust is turned back on before it expires."""
        self.assertLoginOK(self.trust(self.t))
        self.env.write_conf("trust_days = 0\n")
        r = self.env.login("alice", now=self.t + 60)
        self.assertLoginFails(r)
        self.assertIn("Verification code", out(r))
        r = self.env.login("alice", oath(now=self.t + 90), "y", now=self.t + 90)
        self.assertLoginOK(r)
        self.assertNotIn("Trust this device", out(r))
        self.env.write_conf("")
        r = self.env.login("alice", now=self.t + 120)
        self.assertLoginOK(r)
        self.assertNotIn("Verification code", out(r))

    def test_revoke(self):
        self.trust(self.t)
        self.env.admin("device", "revoke", "alice", "--all")
        self.assertLoginFails(self.env.login("alice", now=self.t + 60))
        self.assertIn("trusted devices revoked", [x["action"] for x in self.env.audit("alice")])

    def test_revoke_one_by_id(self):
        self.trust(self.t, items=("rhost=127.0.0.2",))
        self.trust(self.t + 30, items=("rhost=127.0.0.3",))
        ids = [d["id"] for d in json.loads(self.env.admin("--json", "device", "list", "alice").stdout)]
        self.env.admin("device", "revoke", "alice", str(ids[0]))
        self.assertLoginFails(self.env.login("alice", now=self.t + 90, items=("rhost=127.0.0.2",)))
        self.assertLoginOK(self.env.login("alice", now=self.t + 91, items=("rhost=127.0.0.3",)))
        r = self.env.admin("device", "revoke", "alice", "999", check=False)
        self.assertEqual(r.returncode, 3)

    def test_totp_reset_revokes(self):
        self.trust(self.t)
        self.env.admin("totp", "reset", "alice")
        self.env.admin("totp", "enroll", "alice", "--secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "--no-qr")
        self.assertLoginFails(self.env.login("alice", now=self.t + 60))

    def test_password_change_revokes(self):
        """alice is a managed account: pam_ehr2fa's password phase sets her password
        (pamtester runs as root: no current password asked) and revokes her devices."""
        self.trust(self.t)
        with open(os.path.join(self.env.svcdir, self.env.service), "a") as f:
            f.write(f"password required {self.module_path()} conf={self.env.conf}\n")
        r = self.env.login("alice", "new-password-1", ops=("chauthtok",), now=self.t + 5, password="new-password-1")
        self.assertLoginOK(r)
        rows = self.env.audit("alice")
        self.assertEqual((rows[-2]["action"], rows[-2]["details"]), ("password set", "set by root"))
        self.assertIn("password changed", rows[-1]["details"])
        self.assertLoginFails(self.env.login("alice", now=self.t + 60))  # trusted no more: the code is asked

    def module_path(self):
        from ehrtest import MODULE_TESTCLOCK
        return MODULE_TESTCLOCK


class FailMode(EnvTestCase):
    conf_extra = "store_timeout_ms = 500\n"

    def store_locked(self):
        """The login's own timeout (60 s) bounds how long the lock is held."""
        return store_locked(self.env.store)

    def test_store_locked_secure_denies_within_timeout(self):
        self.env.add_user("alice")
        with self.store_locked():
            r = self.env.login("alice", oath(), "n")
        self.assertLoginFails(r)
        self.assertIn("unavailable", out(r))
        self.assertLess(r.elapsed, 0.5 + 1.5)

    def test_store_locked_safe_allows_and_logs(self):
        self.env.add_user("alice")
        self.env.write_conf("store_timeout_ms = 500\nfail_mode = safe\n")
        with self.store_locked():
            r = self.env.login("alice", oath(), "n")
        self.assertLoginOK(r)
        self.assertIn("fail_mode=safe", out(r))
        self.assertLess(r.elapsed, 0.5 + 1.5)

if __name__ == "__main__":
    unittest.main(verbosity=2)
