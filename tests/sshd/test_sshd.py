#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Logins through a real OpenSSH sshd on 127.0.0.1 with keyboard-interactive:
pam_matrix checks the password, pam_ehr2fa.so the code, and the client answers
with a code from oathtool. Nothing outside a temporary directory is changed:

* sshd runs from a throwaway sshd_config with its own host key, on a free port
  bound to 127.0.0.1 only;
* pam_wrapper (LD_PRELOAD, PAM_WRAPPER_SERVICE_DIR) makes sshd's
  pam_start("sshd") read <tmp>/pam.d/sshd instead of /etc/pam.d/sshd;
* nss_wrapper (LD_PRELOAD, NSS_WRAPPER_PASSWD/GROUP) gives sshd a user clin1
  (home in the temporary directory, shell /bin/sh) from a copy of /etc/passwd
  and /etc/group with one line added;
* the ssh client gets its answers from an SSH_ASKPASS script
  (SSH_ASKPASS_REQUIRE=force) that reads them from files the test writes just
  before connecting, and records every prompt it was shown.

Needs root (sshd setuid()s to the user for the session) and the packages
openssh-server openssh-client oathtool libpam-wrapper libnss-wrapper; skips
(exit 77 when run alone) without them."""

import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import ehrtest  # noqa: E402
from ehrtest import Env, communicate, oath, pam_wrapper_lock, sanitizer_preload, PASSWORD, MODULE, ADMIN, DAEMON_MODE  # noqa: E402

# sshd re-executes itself and so must be started by absolute path.
SSHD = os.path.abspath(os.environ.get("EHR2FA_SSHD", "/usr/sbin/sshd"))
USER = "clin1"
SOURCE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHIPPED_SSHD = os.path.join(SOURCE, "conf", "sshd_config.d")
SHIPPED_PAM = os.path.join(SOURCE, "conf", "pam.d")
LIBDIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"]

ASKPASS = r"""#!/bin/sh
# Answers ssh's keyboard-interactive prompts (argv[1]) from files in $EHR2FA_ASKPASS_DIR.
d=$EHR2FA_ASKPASS_DIR
printf '%s\n' "$1" >> "$d/prompts"
case "$1" in
  *"Verification code"*)
    # A race: say we are at the prompt, then wait for the word to answer.
    if [ -f "$d/barrier" ]; then
      b=$(cat "$d/barrier")
      : > "$b/ready.$(basename "$d")"
      n=0
      while [ ! -e "$b/go" ] && [ $n -lt 1500 ]; do sleep 0.02; n=$((n + 1)); done
    fi
    cat "$d/code" ;;
  *"Trust this device"*) cat "$d/trust" ;;
  *"Code from the app"*)
    # Enrollment at login: sshd shows the messages before a prompt with it, the
    # otpauth:// URI among them. The code comes from oathtool, for that seed.
    s=$(printf '%s\n' "$1" | sed -n 's/.*otpauth:[^ ]*[?&]secret=\([A-Z2-7]*\).*/\1/p' | head -n 1)
    oathtool --totp -b "$s" ;;
  *"Press Enter"*) printf '\n' ;;
  *[Pp]assword*) cat "$d/password" ;;
  *) printf 'unexpected prompt: %s\n' "$1" >&2; exit 1 ;;
esac
"""


def find_lib(name):
    for d in LIBDIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unused_id(start=61000):
    for n in range(start, start + 1000):
        try:
            pwd.getpwuid(n)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(n)
            continue
        except KeyError:
            return n
    raise unittest.SkipTest("no unused uid/gid")


def check_prerequisites():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: sshd switches to the test user for the session")
    if not os.access(SSHD, os.X_OK):
        raise unittest.SkipTest(f"{SSHD} not installed (openssh-server)")
    for tool in ("ssh", "ssh-keygen", "oathtool"):
        if not shutil.which(tool):
            raise unittest.SkipTest(f"{tool} not installed")
    for lib in ("libpam_wrapper.so", "libnss_wrapper.so"):
        if not find_lib(lib):
            raise unittest.SkipTest(f"{lib} not installed")
    for f in (MODULE, ADMIN):
        if not os.path.exists(f):
            raise unittest.SkipTest(f"{f} not built")
    try:
        pwd.getpwnam("sshd")
    except KeyError:
        raise unittest.SkipTest("no privilege separation user 'sshd' (openssh-server not configured)")


class Sshd:
    """One sshd on 127.0.0.1:port in front of an Env whose PAM service is 'sshd'."""

    def __init__(self, env, methods, expose_auth_info=False, include=None, password_auth=False):
        self.env = env
        self.dir = env.dir
        os.chmod(self.dir, 0o755)  # the user's home and authorized_keys live here
        self.port = free_port()
        self.home = os.path.join(self.dir, "home")
        os.mkdir(self.home)
        self.uid = unused_id()
        os.chown(self.home, self.uid, self.uid)
        self.log = os.path.join(self.dir, "sshd.log")
        self.authorized_keys = os.path.join(self.dir, "authorized_keys")
        open(self.authorized_keys, "w").close()
        os.chmod(self.authorized_keys, 0o644)
        self.hostkey = self.keygen("hostkey")
        self.write_nss_files()
        self.write_pam_service()
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as f:
            # A shipped snippet comes first: sshd keeps the first value of each setting.
            if include:
                f.write(f"Include {include}\n")
            f.write(f"""ListenAddress 127.0.0.1
Port {self.port}
HostKey {self.hostkey}
PidFile {self.dir}/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication {"yes" if password_auth else "no"}
PubkeyAuthentication yes
AuthenticationMethods {methods}
AuthorizedKeysFile {self.authorized_keys}
AuthorizedPrincipalsFile none
ExposeAuthInfo {"yes" if expose_auth_info else "no"}
StrictModes no
PermitRootLogin no
AllowUsers {USER}
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTTY no
MaxAuthTries 6
LoginGraceTime 30
LogLevel VERBOSE
""")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation chroot
        self.start()

    def keygen(self, name):
        path = os.path.join(self.dir, name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path], check=True,
                       timeout=30, stdin=subprocess.DEVNULL)
        return path

    def write_nss_files(self):
        self.passwd = os.path.join(self.dir, "passwd")
        self.group = os.path.join(self.dir, "group")
        with open("/etc/passwd") as src, open(self.passwd, "w") as f:
            f.write(src.read().rstrip("\n") + "\n")
            self.passwd_head = f.tell()
        with open("/etc/group") as src, open(self.group, "w") as f:
            f.write(src.read().rstrip("\n") + "\n")
            f.write(f"{USER}:x:{self.uid}:\n")
        for p in (self.passwd, self.group):
            os.chmod(p, 0o644)
        self.set_password(PASSWORD)

    def set_password(self, password):
        """clin1's password for pam_unix: its hash in the passwd line (nss_wrapper has no
        getspnam_r). Each connection is a new sshd process that reads it afresh."""
        crypted = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password + "\n", capture_output=True,
                                 text=True, check=True).stdout.strip()
        with open(self.passwd, "r+") as f:
            f.seek(self.passwd_head)
            f.truncate()
            f.write(f"{USER}:{crypted}:{self.uid}:{self.uid}:Clinician One:{self.home}:/bin/sh\n")

    def write_pam_service(self):
        # The Env's auth/account lines, plus session lines so pam_open_session has a stack.
        with open(os.path.join(self.env.svcdir, "sshd"), "a") as f:
            f.write("session required pam_permit.so\n")
        # libpam also reads "other" (the fallback service); without it pam_wrapper logs an error.
        with open(os.path.join(self.env.svcdir, "other"), "w") as f:
            f.write("auth required pam_deny.so\naccount required pam_deny.so\n"
                    "password required pam_deny.so\nsession required pam_deny.so\n")

    def environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LD_", "PAM_WRAPPER", "NSS_WRAPPER"))}
        preload = sanitizer_preload() + [find_lib("libpam_wrapper.so"), find_lib("libnss_wrapper.so")]
        env.update({
            "LD_PRELOAD": ":".join(preload),
            "PAM_WRAPPER": "1",
            "PAM_WRAPPER_SERVICE_DIR": self.env.svcdir,
            "NSS_WRAPPER_PASSWD": self.passwd,
            "NSS_WRAPPER_GROUP": self.group,
            "ASAN_OPTIONS": "detect_leaks=0",
        })
        return env

    def start(self):
        self.logf = open(self.log, "w")
        # -D: stay in the foreground, -e: log to stderr. sshd re-executes itself
        # (execv keeps the environment, so the preloads and wrappers survive).
        with pam_wrapper_lock():
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", self.config], env=self.environment(),
                                         stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            time.sleep(0.2)  # its pam_wrapper directory is made at start
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"sshd exited with {self.proc.returncode}:\n{self.text()}")
            if "Server listening on 127.0.0.1" in self.text():
                return
            time.sleep(0.05)
        raise AssertionError(f"sshd did not start:\n{self.text()}")

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def children(self):
        """Per-connection sshd processes (they setsid(), so killpg() misses them)."""
        pids = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        stat = f.read()
                except OSError:
                    continue
                fields = stat[stat.rfind(")") + 2:].split()
                if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                    pids.append(int(d))
        return pids

    def stop(self):
        # Let connections that are still closing finish, so that none is left
        # behind for init to reap; then end whatever is left, by process id.
        deadline = time.monotonic() + 5
        while self.proc.poll() is None and self.children() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.children() if self.proc.poll() is None else []:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            # The listener and any connection children share its process group.
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.logf.close()


class Client:
    """ssh(1) answering prompts through SSH_ASKPASS; keeps every prompt it saw."""

    def __init__(self, dir, port, name="client"):
        self.dir = os.path.join(dir, name)
        os.mkdir(self.dir, 0o700)
        self.port = port
        self.askpass = os.path.join(self.dir, "askpass")
        with open(self.askpass, "w") as f:
            f.write(ASKPASS)
        os.chmod(self.askpass, 0o700)

    def prompts(self):
        try:
            with open(os.path.join(self.dir, "prompts")) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def login(self, code, password=PASSWORD, trust="n", key=None, command="echo LOGGED-IN-$USER", timeout=45,
              method=None):
        args, env = self.prepare(code, password, trust, key, command, method)
        # Each connection is a re-executed sshd that makes its own pam_wrapper directory.
        with pam_wrapper_lock():
            start = time.monotonic()
            r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                               timeout=timeout, start_new_session=True)
            r.elapsed = time.monotonic() - start
        r.prompts = self.prompts()
        return r

    def start(self, code, barrier, password=PASSWORD, command="echo LOGGED-IN-$USER"):
        """Connect and stop at the code prompt: the answer goes once barrier/go exists.
        Returns the running ssh; finish() collects it."""
        with open(os.path.join(self.dir, "barrier"), "w") as f:
            f.write(barrier + "\n")
        args, env = self.prepare(code, password, "n", None, command)
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, start_new_session=True)

    def finish(self, p, timeout=45):
        out, err = communicate(p, timeout)
        r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        r.prompts = self.prompts()
        return r

    def prepare(self, code, password, trust, key, command, method=None):
        for name, value in (("code", code), ("password", password), ("trust", trust)):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(value + "\n")
        try:
            os.unlink(os.path.join(self.dir, "prompts"))
        except FileNotFoundError:
            pass
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LD_", "SSH_"))}
        env.update({"SSH_ASKPASS": self.askpass, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0",
                    "EHR2FA_ASKPASS_DIR": self.dir})
        args = ["ssh", "-F", "/dev/null", "-p", str(self.port),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "BatchMode=no", "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=10",
                "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "GSSAPIAuthentication=no",
                "-T"]
        if method:
            args += ["-o", f"PreferredAuthentications={method}", "-o", "PubkeyAuthentication=no"]
        elif key:
            args += ["-o", "PreferredAuthentications=publickey,keyboard-interactive", "-i", key]
        else:
            args += ["-o", "PreferredAuthentications=keyboard-interactive", "-o", "PubkeyAuthentication=no"]
        args += [f"{USER}@127.0.0.1", command]
        return args, env


# Debian 12's /etc/pam.d/common-auth as pam-auth-update writes it with pam_unix alone.
COMMON_AUTH = ["auth [success=1 default=ignore] pam_unix.so nullok", "auth requisite pam_deny.so",
               "auth required pam_permit.so"]


def shipped_pam_stack(name, conf):
    """The auth and account lines of a shipped /etc/pam.d/sshd snippet, for the test's
    service: pam_ehr2fa.so is this build's module with the test's config, and
    "@include common-auth" is Debian's common-auth (real pam_unix, the password from
    the test's shadow file through nss_wrapper)."""
    lines = []
    with open(os.path.join(SHIPPED_PAM, name)) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line == "@include common-auth":
                lines += COMMON_AUTH
            elif line == "@include common-account":
                lines.append("account required pam_permit.so")
            else:
                lines.append(line.replace("pam_ehr2fa.so", f"{MODULE} conf={conf}"))
    return lines


class SshdTestCase(unittest.TestCase):
    methods = "keyboard-interactive"
    expose_auth_info = False
    conf_extra = ""
    include = None       # a shipped sshd_config.d snippet, read before the test's settings
    pam_snippet = None   # a shipped pam.d snippet: the auth and account lines of service sshd
    password_auth = False

    @classmethod
    def setUpClass(cls):
        check_prerequisites()

    def setUp(self):
        self.env = Env(self.conf_extra, service="sshd")
        self.sshd = None
        try:
            self.env.admin("init")
            self.env.add_user(USER)
            if DAEMON_MODE:
                self.env.start_daemon()
            if self.pam_snippet:
                with open(os.path.join(self.env.svcdir, "sshd"), "w") as f:
                    for line in shipped_pam_stack(self.pam_snippet, self.env.conf):
                        f.write(line + "\n")
            include = os.path.join(SHIPPED_SSHD, self.include) if self.include else None
            self.sshd = Sshd(self.env, self.methods, self.expose_auth_info, include, self.password_auth)
            self.client = Client(self.env.dir, self.sshd.port)
        except BaseException:
            self.tearDown()
            raise

    def tearDown(self):
        try:
            if self.sshd:
                self.sshd.stop()
                # Under -Db_sanitize the module runs inside sshd: any report lands in its log.
                log = self.sshd.text()
                for needle in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
                    self.assertNotIn(needle, log, f"sanitizer report in the sshd log:\n{log}")
        finally:
            self.env.cleanup()

    def explain(self, r):
        return (f"ssh exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}\nprompts: {r.prompts}\n"
                f"--- sshd log ---\n{self.sshd.text()}")

    def assertLoggedIn(self, r):
        self.assertEqual(r.returncode, 0, self.explain(r))
        self.assertEqual(r.stdout.strip(), f"LOGGED-IN-{USER}", self.explain(r))

    def assertRefused(self, r):
        self.assertEqual(r.returncode, 255, self.explain(r))
        self.assertNotIn("LOGGED-IN", r.stdout, self.explain(r))

    def wait_for_log(self, needle, timeout=10):
        """sshd may write its last lines just after the client has gone."""
        deadline = time.monotonic() + timeout
        while needle not in self.sshd.text() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.sshd.text()

    def last_audit(self):
        return self.env.audit(USER)[-1]


class KeyboardInteractive(SshdTestCase):
    def test_password_and_oathtool_code_log_in(self):
        r = self.client.login(oath())
        self.assertLoggedIn(r)
        self.assertEqual(len(r.prompts), 3, self.explain(r))
        self.assertIn("Verification code:", r.prompts[1], self.explain(r))
        self.assertIn("Trust this device", r.prompts[2], self.explain(r))
        self.assertIn(f"Accepted keyboard-interactive/pam for {USER} from 127.0.0.1",
                      self.wait_for_log("Accepted keyboard-interactive/pam"))
        row = self.last_audit()
        self.assertEqual(row["action"], "second factor accepted", row)
        self.assertIn("service=sshd", row["source"])
        self.assertIn("rhost=127.0.0.1", row["source"])
        if DAEMON_MODE:
            # sshd's session child (root) asked ehr2fad, which checked the code.
            self.assertTrue([l for l in self.env.daemon_lines() if f"op=verify user={USER} r=0 " in l],
                            self.env.daemon_lines())

    def test_wrong_code_is_refused(self):
        good = oath()
        wrong = "%06d" % ((int(good) + 1) % 1000000)
        r = self.client.login(wrong)
        self.assertRefused(r)
        self.assertIn("Verification code:", r.prompts[-1], self.explain(r))
        log = self.wait_for_log("Failed keyboard-interactive/pam")
        self.assertIn(f"Failed keyboard-interactive/pam for {USER} from 127.0.0.1", log)
        self.assertNotIn("Accepted", log)
        row = self.last_audit()
        self.assertEqual(row["action"], "second factor failed", row)
        self.assertIn("service=sshd", row["source"])
        self.assertIn("rhost=127.0.0.1", row["source"])
        self.assertNotIn(wrong, self.env.admin("audit", "show").stdout)

    def test_wrong_password_is_refused_with_good_code(self):
        r = self.client.login(oath(), password="not the password")
        self.assertRefused(r)
        log = self.wait_for_log("Failed keyboard-interactive/pam")
        self.assertIn(f"Failed keyboard-interactive/pam for {USER} from 127.0.0.1", log)
        self.assertNotIn("Accepted", log)

    def test_same_code_twice_second_is_refused(self):
        code = oath()
        self.assertLoggedIn(self.client.login(code))
        r = self.client.login(code)
        self.assertRefused(r)
        row = self.last_audit()
        self.assertEqual(row["action"], "second factor failed", row)
        self.assertIn("replayed", row["details"])


class Race(SshdTestCase):
    def test_same_code_in_four_connections_at_once_logs_in_once(self):
        """Four ssh connections of one user reach the code prompt, then answer the
        same code at the same moment: one logs in, three are refused as replays.
        The connections start one after another (pam_wrapper's directory is made
        at each sshd's start and must not race); only their answers are together."""
        barrier = os.path.join(self.env.dir, "barrier")
        os.mkdir(barrier)
        code = oath()
        clients = [Client(self.env.dir, self.sshd.port, f"race{i}") for i in range(4)]
        running = []
        try:
            for c in clients:
                with pam_wrapper_lock():
                    running.append(c.start(code, barrier))
                    ready = os.path.join(barrier, "ready." + os.path.basename(c.dir))
                    deadline = time.monotonic() + 30
                    while not os.path.exists(ready) and running[-1].poll() is None and time.monotonic() < deadline:
                        time.sleep(0.02)
                    self.assertTrue(os.path.exists(ready), f"{c.dir} never reached the code prompt:\n"
                                    f"{self.sshd.text()}")
            open(os.path.join(barrier, "go"), "w").close()
        finally:
            results = [c.finish(p) for c, p in zip(clients, running)]
        ok = [r for r in results if r.returncode == 0 and r.stdout.strip() == f"LOGGED-IN-{USER}"]
        refused = [r for r in results if r.returncode == 255 and "LOGGED-IN" not in r.stdout]
        self.assertEqual((len(ok), len(refused)), (1, 3), "\n".join(self.explain(r) for r in results))
        rows = self.env.audit(USER)
        self.assertEqual([x["action"] for x in rows].count("second factor accepted"), 1)
        failed = [x for x in rows if x["action"] == "second factor failed"]
        self.assertEqual(len(failed), 3, failed)
        self.assertTrue(all("replayed" in x["details"] for x in failed), failed)


class PublickeyThenKeyboardInteractive(SshdTestCase):
    methods = "publickey,keyboard-interactive"
    expose_auth_info = True

    def setUp(self):
        super().setUp()
        self.key = self.sshd.keygen("clientkey")
        self.other_key = self.sshd.keygen("otherkey")
        with open(self.key + ".pub") as src, open(self.sshd.authorized_keys, "w") as f:
            f.write(src.read())

    def test_key_then_password_and_code(self):
        r = self.client.login(oath(), key=self.key)
        self.assertLoggedIn(r)
        self.assertTrue(any("Verification code:" in p for p in r.prompts), self.explain(r))
        log = self.wait_for_log("Accepted keyboard-interactive/pam")
        self.assertIn(f"Partial publickey for {USER} from 127.0.0.1", log)
        self.assertIn(f"Accepted keyboard-interactive/pam for {USER} from 127.0.0.1", log)
        row = self.last_audit()
        self.assertEqual(row["action"], "second factor accepted", row)
        self.assertIn("service=sshd", row["source"])

    def test_key_alone_is_not_enough(self):
        good = oath()
        r = self.client.login("%06d" % ((int(good) + 1) % 1000000), key=self.key)
        self.assertRefused(r)
        self.assertIn("Partial publickey", self.sshd.text())

    def test_unknown_key_never_reaches_the_code(self):
        r = self.client.login(oath(), key=self.other_key)
        self.assertRefused(r)
        self.assertEqual(r.prompts, [], self.explain(r))
        self.assertNotIn("Verification code:", r.stderr)

    def test_trusted_device_is_this_client_and_key(self):
        """With ExposeAuthInfo the trusted device is address + public key: the
        same key skips the code next time, another key (authorized too) does not."""
        r = self.client.login(oath(), key=self.key, trust="y")
        self.assertLoggedIn(r)
        self.assertIn("Trust this device", r.prompts[-1], self.explain(r))
        devices = self.env.admin("device", "list", USER).stdout
        self.assertIn("with a public key", devices)

        r = self.client.login("000000", key=self.key)  # a wrong code: must not be asked for
        self.assertLoggedIn(r)
        self.assertFalse(any("Verification code" in p for p in r.prompts), self.explain(r))
        self.assertEqual(self.last_audit()["action"], "second factor skipped")

        with open(self.other_key + ".pub") as src, open(self.sshd.authorized_keys, "a") as f:
            f.write(src.read())
        r = self.client.login("000000", key=self.other_key)
        self.assertRefused(r)
        self.assertTrue(any("Verification code" in p for p in r.prompts), self.explain(r))
        self.assertEqual(self.last_audit()["action"], "second factor failed")


def failures(env):
    """The user's failure counts, as `ehr2fa-admin lockout show` gives them."""
    import json
    return json.loads(env.admin("--json", "lockout", "show", USER).stdout)


class ShippedKeyAndCode(SshdTestCase):
    """conf/sshd_config.d/ehr2fa-key.conf and conf/pam.d/sshd-key-code as shipped: a
    key, then the code alone. pam_ehr2fa is the only auth module: its pam_setcred()
    must succeed, or sshd drops the connection after a good code."""
    include = "ehr2fa-key.conf"
    pam_snippet = "sshd-key-code"
    password_auth = True  # the snippet's "PasswordAuthentication no" must win

    def setUp(self):
        super().setUp()
        self.key = self.sshd.keygen("clientkey")
        with open(self.key + ".pub") as src, open(self.sshd.authorized_keys, "w") as f:
            f.write(src.read())

    def test_key_then_code_logs_in_without_a_password(self):
        r = self.client.login(oath(), key=self.key)
        self.assertLoggedIn(r)
        self.assertFalse(any("assword" in p for p in r.prompts), self.explain(r))
        self.assertIn("Verification code:", r.prompts[0], self.explain(r))
        log = self.wait_for_log("Accepted keyboard-interactive/pam")
        self.assertIn(f"Partial publickey for {USER} from 127.0.0.1", log)
        self.assertNotIn("pam_setcred", log)
        self.assertEqual(self.last_audit()["action"], "second factor accepted")

    def test_wrong_code_is_refused(self):
        r = self.client.login("%06d" % ((int(oath()) + 1) % 1000000), key=self.key)
        self.assertRefused(r)
        self.assertEqual(failures(self.env)["failures"], 1)

    def test_no_key_no_prompt(self):
        r = self.client.login(oath())
        self.assertRefused(r)
        self.assertEqual(r.prompts, [], self.explain(r))

    def test_password_method_is_off(self):
        for _ in range(3):
            r = self.client.login(oath(), password=oath(), method="password")
            self.assertRefused(r)
            self.assertEqual(r.prompts, [], self.explain(r))
        self.assertEqual(failures(self.env)["failures"], 0)


class ShippedPasswordAndCode(SshdTestCase):
    """conf/sshd_config.d/ehr2fa.conf and conf/pam.d/sshd-password-code as shipped."""
    include = "ehr2fa.conf"
    pam_snippet = "sshd-password-code"
    password_auth = True

    def test_password_then_code(self):
        r = self.client.login(oath())
        self.assertLoggedIn(r)
        self.assertIn("assword", r.prompts[0], self.explain(r))
        self.assertIn("Verification code:", r.prompts[1], self.explain(r))
        self.assertNotIn("pam_setcred", self.wait_for_log("Accepted keyboard-interactive/pam"))

    def test_wrong_password_never_reaches_the_code(self):
        r = self.client.login(oath(), password="not the password")
        self.assertRefused(r)
        self.assertFalse(any("Verification code" in p for p in r.prompts), self.explain(r))
        self.assertEqual(failures(self.env)["failures"], 0)

    def test_password_method_is_off(self):
        r = self.client.login(oath(), method="password")
        self.assertRefused(r)
        self.assertEqual(r.prompts, [], self.explain(r))


class PasswordMethodBase(SshdTestCase):
    """sshd's default PasswordAuthentication yes and no AuthenticationMethods."""
    methods = "any"
    password_auth = True
    conf_extra = "deny = 2\n"

    def attempts(self, password):
        self.sshd.set_password(password)
        for _ in range(3):  # more than deny
            r = self.client.login(oath(), password=password, method="password")
            self.assertRefused(r)
        self.assertEqual(failures(self.env)["failures"], 0, self.sshd.text())
        refused = [x for x in self.env.audit(USER) if x["action"] == "second factor refused"]
        self.assertEqual(len(refused), 3, refused)
        self.assertTrue(all("not counted" in x["details"] for x in refused), refused)
        self.sshd.set_password(PASSWORD)
        self.assertLoggedIn(self.client.login(oath()))
        return refused[0]["details"]


class PasswordMethodNeverCounts(PasswordMethodBase):
    """sshd's default PasswordAuthentication yes, no AuthenticationMethods, and the
    documented stack (common-auth with pam_unix, then pam_ehr2fa): the password
    method answers the code prompt with the password. More such logins than deny
    must not count, nor lock the account."""
    pam_snippet = "sshd-password-code"

    def test_password(self):
        self.assertIn("the answer was the password", self.attempts(PASSWORD))

    def test_password_of_digits(self):
        """Well formed as a code, but the password module's PAM_AUTHTOK: not checked,
        not counted."""
        self.assertIn("the answer was the password", self.attempts("2026 1204"))

    def test_password_like_a_recovery_code(self):
        self.assertIn("the answer was the password", self.attempts("abcd-efgh-jk"))


class PasswordMethodKeyStack(PasswordMethodBase):
    """The keys-plus-code PAM stack behind an sshd left with PasswordAuthentication yes
    and no AuthenticationMethods: whatever anyone types as a password reaches
    pam_ehr2fa alone. What cannot be a code is not counted; a guess that could be one
    is a guess at the code, and counts like any other."""
    pam_snippet = "sshd-key-code"

    def test_password(self):
        self.assertIn("not a code", self.attempts("hunter2 hunter2"))

    def test_password_of_digits(self):
        r = self.client.login(oath(), password="12345678", method="password")
        self.assertRefused(r)
        self.assertEqual(failures(self.env)["failures"], 1)


class EnrollAtLogin(SshdTestCase):
    """Enrollment at first login through sshd's keyboard-interactive, behind the
    shipped password-and-code stack (real pam_unix first)."""
    pam_snippet = "sshd-password-code"
    conf_extra = "enforce_roles = staff\nenroll_services = sshd\n"

    def test_first_login_enrolls_then_the_app_logs_in(self):
        self.env.admin("totp", "reset", USER)
        r = self.client.login("unused")
        self.assertLoggedIn(r)
        text = "\n".join(r.prompts)
        self.assertIn("Set it up now with the phone app", text, self.explain(r))
        self.assertIn("\u2588", text)  # the QR code's half blocks reached the client
        uri = next(l for l in r.prompts if "otpauth://" in l)
        secret = uri.split("secret=")[1].split("&")[0]
        self.assertIn("Code from the app", text)
        self.assertIn("2FA is set up. Your recovery codes", text)
        self.assertEqual(len([l for l in r.prompts if l.startswith("  ") and len(l.strip()) == 11]), 10,
                         self.explain(r))
        actions = [a["action"] for a in self.env.audit(USER)]
        self.assertIn("TOTP enrolled", actions)
        self.assertIn("service=sshd", self.env.audit(USER)[-1]["source"])
        time.sleep(31 - time.time() % 30)  # the next step: the confirmation's code is used
        r = self.client.login(oath(secret))
        self.assertLoggedIn(r)
        self.assertFalse(any("otpauth" in p for p in r.prompts), self.explain(r))

    def test_wrong_password_is_never_offered_enrollment(self):
        self.env.admin("totp", "reset", USER)
        r = self.client.login("unused", password="not the password")
        self.assertRefused(r)
        self.assertFalse(any("otpauth" in p for p in r.prompts), self.explain(r))


if __name__ == "__main__":
    ehrtest.main(check_prerequisites)
