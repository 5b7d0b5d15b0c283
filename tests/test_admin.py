#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""ehr2fa-admin as the help desk and sysadmin use it."""

import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import unittest

from ehrtest import EnvTestCase, Env, oath, SECRET, ADMIN, copy_for_others


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root and setpriv")
class ErrnoWords(unittest.TestCase):
    def test_permission_denied_is_not_a_wrong_code(self):
        """The kernel's EACCES is "permission denied": ehr_strerror() once said "wrong
        code", the other meaning core gives EACCES, for a directory nobody may create."""
        d = tempfile.mkdtemp(prefix="ehr2fa-eacces-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        os.mkdir(os.path.join(d, "parent"), 0o755)
        conf = os.path.join(d, "ehr2fa.conf")
        with open(conf, "w") as f:
            f.write(f"store_dir = {d}/parent/store\n")
        os.chmod(conf, 0o644)
        (admin,) = copy_for_others(tempfile.mkdtemp(dir=d), ADMIN)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", admin, "--conf", conf,
                            "init"], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn(f"cannot create store directory {d}/parent/store: permission denied", r.stderr)
        self.assertNotIn("wrong code", r.stderr)


SGR = re.compile(r"\x1b\[([0-9;]*)m")


def render_terminal(text, light):
    """Paint what a terminal shows for text (half blocks, SGR colours 0 30 37 40 47) as
    a PGM image: a light theme draws default text black on white, a dark one white on black."""
    default_fg, default_bg = (0, 255) if light else (255, 0)
    rows = []
    for line in text.splitlines():
        fg, bg = default_fg, default_bg
        top, bottom, pos = [], [], 0
        for m in list(SGR.finditer(line)) + [None]:
            chunk = line[pos:m.start() if m else len(line)]
            for ch in chunk:
                top.append(fg if ch in "\u2588\u2580" else bg)
                bottom.append(fg if ch in "\u2588\u2584" else bg)
            if not m:
                break
            pos = m.end()
            for code in (m.group(1) or "0").split(";"):
                code = int(code or 0)
                if code == 0:
                    fg, bg = default_fg, default_bg
                elif code in (30, 37):
                    fg = 0 if code == 30 else 255
                elif code in (40, 47):
                    bg = 0 if code == 40 else 255
        rows += [top, bottom]
    width = max(len(r) for r in rows) + 8
    rows = [[default_bg] * 4 + r + [default_bg] * (width - 4 - len(r)) for r in rows]
    rows = [[default_bg] * width] * 4 + rows + [[default_bg] * width] * 4
    scale = 6
    out = bytearray()
    for r in rows:
        line = bytes(v for v in r for _ in range(scale))
        out += line * scale
    return b"P5 %d %d 255\n" % (width * scale, len(rows) * scale) + bytes(out)


def zbar_decode(pgm):
    with tempfile.NamedTemporaryFile(suffix=".pgm") as f:
        f.write(pgm)
        f.flush()
        r = subprocess.run(["zbarimg", "--raw", "-q", f.name], capture_output=True, text=True, timeout=60)
        return r.stdout.strip()


class StoreLocator(EnvTestCase):
    def test_postgresql_server_in_store_dir_is_refused_with_where_it_goes(self):
        """store_dir = postgresql://... (the server belongs in store =, store_dir is the
        key's directory): every command says so at once and exits, without repeating the
        password; a login is denied (fail_mode secure) in bounded time, not crashed or hung."""
        self.env.add_user("alice")
        with open(self.env.conf, "w") as f:
            f.write("store_dir = postgresql://ehr2fa:s3cret@db.example/ehr2fa\nfail_delay_ms = 0\n")
        for args in (("init",), ("user", "list")):
            r = self.env.admin(*args, check=False)
            self.assertEqual(r.returncode, 4, r.stderr)
            self.assertIn("store_dir names a PostgreSQL server", r.stderr)
            self.assertIn("store = postgresql://", r.stderr)
            self.assertNotIn("s3cret", r.stderr)
        r = self.env.login("alice", oath(), timeout=30)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertLess(r.elapsed, 10)
        self.assertNotIn("s3cret", r.stdout + r.stderr)
        # fail_mode = safe is for a store that is down, not for a store_dir that names
        # no directory: that is a configuration error, and it still denies
        with open(self.env.conf, "a") as f:
            f.write("fail_mode = safe\n")
        r = self.env.login("alice", oath(), timeout=30)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("fail_mode=safe", r.stdout + r.stderr)
        self.assertNotIn("s3cret", r.stdout + r.stderr)


class Admin(EnvTestCase):
    def test_init_makes_private_store_and_is_idempotent(self):
        st = os.stat(self.env.store)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        for f in ("ehr2fa.db", "master.key"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.env.store, f)).st_mode), 0o600)
        key = open(os.path.join(self.env.store, "master.key"), "rb").read()
        self.assertEqual(len(key), 32)
        self.env.admin("init")
        self.assertEqual(open(os.path.join(self.env.store, "master.key"), "rb").read(), key)

    def test_user_add_list_show_del_json(self):
        self.env.admin("user", "add", "alice", "--name", "Alice Smith", "--email", "alice@example.org",
                       "--phone", "+1 (555) 123-4566", "--role", "provider")
        self.env.admin("user", "add", "bob", "--phone", "+15551234567", "--email", "bob@example.org")
        users = json.loads(self.env.admin("user", "list", "--json").stdout)
        self.assertEqual([u["login"] for u in users], ["alice", "bob"])
        self.assertEqual(users[0]["phone"], "+15551234566")
        self.assertEqual(users[0]["role"], "provider")
        self.assertEqual(users[1]["role"], "staff")
        self.assertFalse(users[0]["totp"])
        show = json.loads(self.env.admin("--json", "user", "show", "alice").stdout)
        self.assertEqual(show["name"], "Alice Smith")
        self.assertFalse(show["locked"])
        self.assertIn("Alice Smith", self.env.admin("user", "show", "alice").stdout)
        self.env.admin("user", "del", "bob")
        r = self.env.admin("user", "show", "bob", check=False)
        self.assertEqual(r.returncode, 3)
        self.assertIn("no such user: bob", r.stderr)

    def test_bad_input_is_refused_clearly(self):
        self.env.admin("user", "add", "alice")
        cases = [
            (["user", "add", "alice"], 1, "already exists"),
            (["user", "add", "Bad:Login"], 2, "bad login"),
            (["user", "add", "carol", "--role", "admin"], 2, "bad role"),
            (["user", "add", "carol", "--phone", "555-1234"], 2, "international form"),
            (["user", "add", "carol", "--email", "nope"], 2, "bad email"),
            (["totp", "enroll", "alice", "--secret", "not base32!"], 2, "not valid base32"),
            (["totp", "enroll", "alice", "--secret", "JBSWY3DP"], 2, "too short"),
            (["totp", "enroll", "alice", "--digits", "9"], 2, "--digits"),
            (["totp", "enroll", "alice", "--algorithm", "MD5"], 2, "bad algorithm"),
            (["totp", "enroll", "nobody"], 3, "no such user"),
            (["recovery", "new", "alice"], 3, "no app enrolled"),
            (["frobnicate"], 2, "unknown command"),
        ]
        for args, code, msg in cases:
            r = self.env.admin(*args, check=False)
            self.assertEqual(r.returncode, code, f"{args}: {r.stderr}")
            self.assertIn(msg, r.stderr, args)
        # Nothing half-done: alice is still unenrolled and alone.
        self.assertEqual(len(json.loads(self.env.admin("user", "list", "--json").stdout)), 1)

    def test_enroll_prints_uri_and_qr(self):
        self.env.admin("user", "add", "alice")
        r = self.env.admin("totp", "enroll", "alice")
        uri = [l for l in r.stdout.splitlines() if l.startswith("otpauth://totp/")]
        self.assertEqual(len(uri), 1)
        self.assertIn("issuer=ehr2fa", uri[0])
        self.assertIn("digits=6", uri[0])
        self.assertTrue(any(ch in r.stdout for ch in "\u2580\u2584\u2588"), "no QR code drawn")
        secret = uri[0].split("secret=")[1].split("&")[0]
        self.assertEqual(len(secret), 32)  # 160 bits
        # The printed secret is the one that works.
        with open(self.env.passdb, "a") as f:
            f.write(f"alice:correct horse:{self.env.service}\n")
        self.assertEqual(self.env.login("alice", oath(secret)).returncode, 0)
        # Enrolling again is refused without --force.
        r = self.env.admin("totp", "enroll", "alice", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("totp reset", r.stderr)

    def test_qr_scans_on_light_and_dark_terminals(self):
        self.env.admin("user", "add", "alice")
        out = self.env.admin("totp", "enroll", "alice").stdout
        uri = [l for l in out.splitlines() if l.startswith("otpauth://totp/")][0]
        qr = "\n".join(l for l in out.splitlines() if any(ch in l for ch in "\u2580\u2584\u2588 ") and "\x1b[" in l)
        self.assertTrue(qr, "no QR code with colours of its own")
        # Its colours are set, not the terminal's: every line starts black on white and resets.
        for line in qr.splitlines():
            self.assertTrue(line.startswith("\x1b[30;47m") and line.endswith("\x1b[0m"), repr(line))
        if not shutil.which("zbarimg"):
            self.skipTest("zbarimg (zbar-tools) is not installed: structure checked only")
        for light in (True, False):
            self.assertEqual(zbar_decode(render_terminal(qr, light)), uri, "light" if light else "dark")

    def test_no_qr_does_not_say_scan(self):
        self.env.admin("user", "add", "alice")
        out = self.env.admin("totp", "enroll", "alice", "--no-qr").stdout
        self.assertNotIn("Scan", out)
        self.assertFalse(any(ch in out for ch in "\u2580\u2584\u2588"))
        self.assertIn("otpauth://totp/", out)
        self.assertIn("Key (to type in):", out)

    def test_secret_from_stdin_and_not_in_audit(self):
        self.env.admin("user", "add", "alice")
        self.env.admin("totp", "enroll", "alice", "--secret", "-", "--digits", "7", "--no-qr", input=SECRET + "\n")
        with open(self.env.passdb, "a") as f:
            f.write(f"alice:correct horse:{self.env.service}\n")
        self.assertEqual(self.env.login("alice", oath(digits=7)).returncode, 0)
        audit = self.env.admin("audit", "show").stdout
        self.assertIn("TOTP enrolled", audit)
        self.assertNotIn(SECRET, audit)
        # The seed is sealed: not in the database file in the clear.
        raw = b"".join(open(os.path.join(self.env.store, f), "rb").read()
                       for f in os.listdir(self.env.store) if f.startswith("ehr2fa.db"))
        import base64
        self.assertNotIn(base64.b32decode(SECRET), raw)

    def test_audit_verify_names_first_bad_row(self):
        self.env.add_user("alice")
        self.env.admin("lockout", "clear", "alice")
        r = self.env.admin("audit", "verify")
        self.assertIn("intact", r.stdout)
        rows = self.env.audit()
        target = rows[2]["seq"]
        db = sqlite3.connect(os.path.join(self.env.store, "ehr2fa.db"))
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET actor = 'someone-else' WHERE seq = ?", (target,))
        db.commit()
        db.close()
        r = self.env.admin("audit", "verify", check=False)
        self.assertEqual(r.returncode, 5)
        self.assertIn(f"row {target}", r.stdout)

    def test_every_admin_change_is_audited(self):
        self.env.add_user("alice")
        self.env.admin("recovery", "new", "alice")
        self.env.admin("lockout", "clear", "alice")
        self.env.admin("totp", "reset", "alice")
        self.env.admin("user", "del", "alice")
        actions = [r["action"] for r in self.env.audit("alice")]
        self.assertEqual(actions, ["user added", "Update", "TOTP enrolled", "recovery codes generated", "lockout cleared",
                                   "2FA reset", "user deleted"])
        self.assertTrue(all(r["actor"] for r in self.env.audit("alice")))

    def test_lockout_list(self):
        self.env.add_user("alice")
        self.env.add_user("bob")
        wrong = "%06d" % ((int(oath()) + 500000) % 1000000)
        for _ in range(5):  # deny = 5
            self.assertNotEqual(self.env.login("alice", wrong).returncode, 0)
        self.assertNotEqual(self.env.login("bob", wrong).returncode, 0)  # one failure: not locked
        text = self.env.admin("lockout", "list").stdout
        self.assertRegex(text, r"\nalice +\S+ \S+ [+-]\d{4} +5  \d{4}-\d\d-\d\d ")
        self.assertNotIn("bob", text)
        when = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}"  # date, time and zone
        self.assertRegex(self.env.admin("lockout", "show", "alice").stdout, "LOCKED until " + when)
        self.assertRegex(self.env.admin("user", "show", "alice").stdout, "Locked: +" + when)
        locked = json.loads(self.env.admin("--json", "lockout", "list").stdout)
        self.assertEqual([(u["login"], u["failures"]) for u in locked], [("alice", 5)])
        self.assertGreater(locked[0]["locked_until"], locked[0]["last_failure"])
        self.env.admin("lockout", "clear", "alice")
        self.assertEqual(json.loads(self.env.admin("lockout", "list", "--json").stdout), [])
        self.assertIn("(no locked users)", self.env.admin("lockout", "list").stdout)

    def test_group_list_json(self):
        self.env.admin("user", "add", "alice")
        self.env.admin("user", "add", "bob")
        self.env.admin("group", "add", "icu", "--gid", "64001")
        self.env.admin("group", "add", "ward3")
        for u in ("alice", "bob"):
            self.env.admin("group", "member", "add", "icu", u)
        groups = json.loads(self.env.admin("--json", "group", "list").stdout)
        self.assertEqual([(g["name"], g["members"]) for g in groups], [("icu", ["alice", "bob"]), ("ward3", [])])
        self.assertEqual(groups[0]["gid"], 64001)
        self.assertIn("icu:64001:alice,bob", self.env.admin("group", "list").stdout)

    def test_audit_show_since_a_time_ago_by_type_with_zone(self):
        self.env.add_user("alice")
        self.env.login("alice", oath())
        # The first row two hours old (the chain is not what this checks).
        db = sqlite3.connect(os.path.join(self.env.store, "ehr2fa.db"))
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET time = time - 7200 WHERE seq = 1")
        db.commit()
        db.close()
        recent = json.loads(self.env.admin("--json", "audit", "show", "--since", "1h").stdout)
        self.assertNotIn(1, [r["seq"] for r in recent])
        self.assertTrue(recent)
        self.assertIn(1, [r["seq"] for r in json.loads(self.env.admin("--json", "audit", "show", "--since", "3h").stdout)])
        auth = json.loads(self.env.admin("--json", "audit", "show", "--type", "auth").stdout)
        self.assertTrue(auth)
        self.assertEqual({r["type"] for r in auth}, {"auth"})
        self.assertEqual({r["type"] for r in json.loads(self.env.admin("--json", "audit", "show", "--type", "admin").stdout)},
                         {"admin"})
        # Date, time and zone in the table.
        self.assertRegex(self.env.admin("audit", "show", "--since", "30m").stdout, r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}")
        for bad in (["--since", "1x"], ["--type", "nope"]):
            self.assertEqual(self.env.admin("audit", "show", *bad, check=False).returncode, 2)

    def test_audit_verify_reads_json_and_csv_exports(self):
        self.env.add_user("alice")
        self.env.admin("lockout", "clear", "alice")
        for fmt in ("json", "csv"):
            path = os.path.join(self.env.dir, f"export.{fmt}")
            with open(path, "w") as f:
                f.write(self.env.admin("audit", "export", "--format", fmt).stdout)
            r = self.env.admin("audit", "verify", "--file", path)
            self.assertIn("intact", r.stdout)
        path = os.path.join(self.env.dir, "export.json")
        rows = json.load(open(path))
        self.assertGreater(len(rows), 3)
        rows[2]["details"] += " (edited)"
        with open(path, "w") as f:
            json.dump(rows, f)  # re-encoded by another tool: spacing differs, content must still verify or not
        r = self.env.admin("audit", "verify", "--file", path, check=False)
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
        self.assertIn("record 3", r.stdout)
        rows[2]["details"] = rows[2]["details"].replace(" (edited)", "")
        rows[1], rows[2] = rows[2], rows[1]
        with open(path, "w") as f:
            json.dump(rows, f, indent=2)
        r = self.env.admin("audit", "verify", "--file", path, check=False)
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)  # reordered
        with open(path, "w") as f:
            f.write('[{"seq": 1, "time": "x"')
        r = self.env.admin("audit", "verify", "--file", path, check=False)
        self.assertEqual(r.returncode, 5)
        self.assertIn("malformed JSON", r.stdout)

    def test_newer_schema_refused(self):
        db = sqlite3.connect(os.path.join(self.env.store, "ehr2fa.db"))
        db.execute("PRAGMA user_version = 42")
        db.commit()
        db.close()
        r = self.env.admin("user", "list", check=False)
        self.assertEqual(r.returncode, 4)
        self.assertIn("newer than this ehr2fa", r.stderr)

    def test_every_command_answers_help_without_a_store(self):
        env = Env()  # no init: there is no store
        try:
            listing = env.admin("--help").stdout
            commands = [l.strip() for l in listing.splitlines() if re.match(r"^  [a-z]", l)]
            commands = [" ".join(w for w in c.split() if re.match(r"^[a-z0-9][a-z0-9-]*$", w))
                        for c in commands]
            self.assertGreater(len(commands), 30, listing)
            for verb in ("user add", "user show", "totp enroll", "lockout list", "audit verify", "staff 2fa setup",
                         "group member add", "nss publish", "device list"):
                self.assertIn(verb, commands)
            for cmd in commands:
                for flag in ("--help", "-h"):
                    r = env.admin(*cmd.split(), flag, check=False)
                    self.assertEqual(r.returncode, 0, f"{cmd} {flag}: {r.stderr}")
                    self.assertIn(f"  {cmd}", r.stdout, cmd)
                    self.assertIn("Usage", r.stdout, cmd)
            # After arguments, and with a config file that does not exist.
            r = env.admin("--conf", "/nonexistent/ehr2fa.conf", "user", "show", "alice", "--help", check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            env.cleanup()

    def test_man_pages_one_footer_and_see_also_each_other(self):
        mandir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "man")
        pages = sorted(f for f in os.listdir(mandir) if re.search(r"\.[1-8]$", f))
        self.assertGreaterEqual(len(pages), 5)
        version = self.env.admin("version").stdout.split()[1]
        footers = set()
        for page in pages:
            text = open(os.path.join(mandir, page)).read()
            th = re.search(r'^\.TH \S+ (\d) "([^"]*)" "([^"]*)"', text, re.M)
            self.assertTrue(th, page)
            footers.add((th.group(2), th.group(3)))
            see_also = text.split(".SH SEE ALSO", 1)[1].replace("\\-", "-")
            for other in pages:
                if other != page:
                    name, section = other.rsplit(".", 1)
                    self.assertIn(f".BR {name} ({section})", see_also, f"{page} does not refer to {other}")
        self.assertEqual(len(footers), 1, footers)  # one date and one version in every footer
        self.assertEqual(footers.pop()[1], f"ehr2fa {version}")

    def test_no_store_says_init(self):
        env = Env()
        try:
            r = env.admin("user", "list", check=False)
            self.assertEqual(r.returncode, 4)
            self.assertIn("ehr2fa-admin init", r.stderr)
        finally:
            env.cleanup()

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root and setpriv")
    def test_non_root_is_told_it_needs_root(self):
        """A 0700 root store is not "accessible by group or others" to a user who cannot enter it."""
        bindir = tempfile.mkdtemp(prefix="ehr2fa-admin-")
        try:
            os.chmod(self.env.dir, 0o755)  # the config is readable; the store stays 0700 root
            admin, = copy_for_others(bindir, ADMIN)
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", admin,
                                "--conf", self.env.conf, "user", "list"], capture_output=True, text=True, timeout=60)
        finally:
            shutil.rmtree(bindir, ignore_errors=True)
        self.assertEqual(r.returncode, 4)
        self.assertIn(f"{self.env.store}: permission denied; this needs root", r.stderr)
        self.assertNotIn("accessible by group or others", r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(self.env.store).st_mode), 0o700)


if __name__ == "__main__":
    unittest.main(verbosity=2)
