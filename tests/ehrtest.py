# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared harness for the behaviour tests: a throwaway store, config and PAM
service directory, the real admin tool, and logins through real libpam
(pam_wrapper + pamtester). Nothing outside the temporary directory is touched."""

import contextlib
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.path.abspath(os.environ.get("EHR2FA_BUILD", os.path.join(os.path.dirname(__file__), "..", "build")))
ADMIN = os.path.abspath(os.environ.get("EHR2FA_ADMIN", os.path.join(BUILD, "admin", "ehr2fa-admin")))
MODULE = os.path.abspath(os.environ.get("EHR2FA_PAM_MODULE", os.path.join(BUILD, "pam_ehr2fa", "pam_ehr2fa.so")))
MODULE_TESTCLOCK = os.path.abspath(os.environ.get("EHR2FA_PAM_MODULE_TESTCLOCK",
                                                  os.path.join(BUILD, "pam_ehr2fa", "pam_ehr2fa_testclock.so")))
SMS_SENDER = os.path.abspath(os.environ.get("EHR2FA_SMS_SENDER", os.path.join(BUILD, "sms", "ehr2fa-sms-send")))
HELPER_TEST = os.path.abspath(os.environ.get("EHR2FA_HELPER_TEST",
                                             os.path.join(os.path.dirname(ADMIN), "ehr2fa-helper-test")))
NOBODY = 65534
MAIL_SENDER = os.path.abspath(os.environ.get("EHR2FA_MAIL_SENDER", os.path.join(BUILD, "mail", "ehr2fa-mail-send")))
NOTIFIER = os.path.abspath(os.environ.get("EHR2FA_NOTIFIER", os.path.join(BUILD, "mail", "ehr2fa-notify")))
EHR2FAD = os.path.abspath(os.environ.get("EHR2FA_DAEMON", os.path.join(BUILD, "daemon", "ehr2fad")))
# EHR2FA_TEST_DAEMON=1: every Env runs its own ehr2fad and the module asks it (the
# same behaviour tests, through the daemon path).
DAEMON_MODE = os.environ.get("EHR2FA_TEST_DAEMON") == "1"
PAM_WRAPPER_DIR = os.environ.get("PAM_WRAPPER_MODULE_DIR") or subprocess.run(
    ["pkg-config", "--variable=modules", "pam_wrapper"], capture_output=True, text=True).stdout.strip() \
    or "/usr/lib/x86_64-linux-gnu/pam_wrapper"
PAM_MATRIX = os.path.join(PAM_WRAPPER_DIR, "pam_matrix.so")
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
BREACHED_LIST = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "conf", "breached-passwords.txt"))
PASSWORD = "correct horse"


@contextlib.contextmanager
def pam_wrapper_lock():
    """pam_wrapper picks its /tmp/pam.X directory with lstat() then mkdir(): two
    processes starting at once can share one and read each other's service files.
    Every process this suite starts under pam_wrapper starts under this lock."""
    with open("/tmp/ehr2fa-tests-pam_wrapper.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def communicate(p, timeout):
    """p.communicate(), and p never left running: killed if it outlasts timeout."""
    try:
        return p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def main(check_prerequisites):
    """Run a test file's cases, or exit 77 (meson's "skipped") with the reason when
    check_prerequisites() raises unittest.SkipTest."""
    try:
        check_prerequisites()
    except unittest.SkipTest as e:
        print(f"SKIP: {e}")
        sys.exit(77)
    unittest.main(verbosity=2)


SMTPD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mail", "smtpd.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # where Debian's python3-aiosmtpd is, whatever python runs the tests


def have_aiosmtpd():
    return os.path.exists(SYSTEM_PYTHON) and subprocess.run(
        [SYSTEM_PYTHON, "-c", "import aiosmtpd"], capture_output=True).returncode == 0


@contextlib.contextmanager
def smtpd(parent, mode="accept", cert=None, key=None, user=None, password=None):
    """A real SMTP server on 127.0.0.1 (tests/mail/smtpd.py: python3-aiosmtpd, or a
    server that hangs or refuses at greeting), in a directory under parent.
    Yields (port, directory); mails(directory) are the messages it accepted."""
    d = tempfile.mkdtemp(dir=parent)
    cmd = [SYSTEM_PYTHON, SMTPD, "--dir", d, "--mode", mode]
    if cert:
        cmd += ["--cert", cert, "--key", key]
    if user:
        cmd += ["--user", user, "--password", password]
    with open(os.path.join(d, "log"), "w") as log:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    try:
        for _ in range(400):
            if os.path.exists(os.path.join(d, "port")) or p.poll() is not None:
                break
            time.sleep(0.05)
        with open(os.path.join(d, "port")) as f:
            port = int(f.read())
        yield port, d
    finally:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def mails(d):
    """The messages an smtpd() accepted, oldest first: dicts of from, to, data, tls, auth."""
    out = []
    names = [n for n in os.listdir(d) if re.fullmatch(r"mail-\d+\.json", n)]
    for n in sorted(names, key=lambda n: int(n[5:-5])):
        with open(os.path.join(d, n)) as f:
            out.append(json.load(f))
    return out


def need(tool):
    if not shutil.which(tool):
        raise unittest.SkipTest(f"{tool} not installed")


def need_strace():
    """strace, and ptrace allowed here (some containers forbid it)."""
    need("strace")
    if subprocess.run(["strace", "-qq", "-e", "trace=none", "true"], capture_output=True).returncode != 0:
        raise unittest.SkipTest("strace cannot trace here (ptrace not permitted)")


def copy_for_others(dirpath, *paths):
    """Copies of build outputs in dirpath (made 0755), for a test that runs them as
    another user: the build directory may be out of that user's reach (a clone root
    made in /root, 0700). Returns the copies' paths, in order."""
    os.chmod(dirpath, 0o755)
    copies = [shutil.copy(p, os.path.join(dirpath, os.path.basename(p))) for p in paths]
    for c in copies:
        os.chmod(c, 0o755)
    return copies


def helper_processes(program, parent=None, holding=None, timeout=5):
    """The pids of the running processes of program (an absolute path), waiting up to
    timeout seconds for at least one; only children of parent, or only those with a
    descriptor open on a file under the directory holding, when given."""
    want = os.path.realpath(program)
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for d in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink(f"/proc/{d}/exe") != want:
                    continue
                if parent is not None and helper_parent(int(d)) != parent:
                    continue
                if holding is not None and not any(t.startswith(holding + "/")
                                                   for t in helper_state(int(d))["fds"].values()):
                    continue
                found.append(int(d))
            except OSError:
                pass  # gone, or not ours to read
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def helper_connected(pid, port, timeout=5):
    """Wait up to timeout seconds for process pid to hold a TCP connection to port on
    loopback: a helper only connects once it has started (its limits, directory and
    descriptors are then its own). False if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        peers = set()
        for table in "/proc/net/tcp", "/proc/net/tcp6":
            try:
                with open(table) as f:
                    for line in f.readlines()[1:]:
                        cols = line.split()
                        if int(cols[2].rsplit(":", 1)[1], 16) == port:
                            peers.add(f"socket:[{cols[9]}]")
            except OSError:
                pass  # no IPv6
        if peers & set(helper_state(pid)["fds"].values()):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def helper_parent(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def helper_state(pid):
    """What the helper process pid kept of whoever started it: its core size limits
    (soft, hard), its directory, its environment, and what each descriptor is."""
    with open(f"/proc/{pid}/limits") as f:
        core = next(line.split()[4:6] for line in f if line.startswith("Max core file size"))
    with open(f"/proc/{pid}/environ", "rb") as f:
        env = dict(e.decode().split("=", 1) for e in f.read().split(b"\0") if e)
    fds = {}
    for n in os.listdir(f"/proc/{pid}/fd"):
        try:
            fds[int(n)] = os.readlink(f"/proc/{pid}/fd/{n}")
        except OSError:
            pass  # closed meanwhile
    return {"core": core, "cwd": os.readlink(f"/proc/{pid}/cwd"), "env": env, "fds": fds}


def sanitizer_preload():
    """Under -Db_sanitize=address the module needs the ASan runtime first in the
    host process (pamtester is not instrumented)."""
    out = subprocess.run(["ldd", MODULE], capture_output=True, text=True).stdout
    libs = re.findall(r"(\S*lib(?:asan|ubsan)\.so\S*) => (\S+)", out)
    return [path for _, path in libs if "asan" in path]


@contextlib.contextmanager
def store_locked(store_dir):
    """The SQLite store at store_dir held EXCLUSIVE for the whole of the block:
    from before what it wraps starts until after it has finished, however slow
    the machine (a store that does not answer, as a server that is down)."""
    import sqlite3
    db = sqlite3.connect(os.path.join(store_dir, "ehr2fa.db"), timeout=5, isolation_level=None)
    try:
        db.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        db.close()  # rolls the open transaction back


NSS_MODULE = os.path.abspath(os.environ.get("EHR2FA_NSS_MODULE", ""))
NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"


def asan_preload(so):
    """The sanitizer runtimes so was linked with, as (name, path) pairs."""
    out = subprocess.run(["ldd", so], capture_output=True, text=True).stdout
    return re.findall(r"(\S*libasan\.so\S*) => (\S+)", out)


def nss_run(files, snapshot, *cmd):
    """Run cmd (getent, id) on a host whose own users and groups are files/passwd
    and files/group, and whose libnss_ehr.so.2 serves snapshot (nss_wrapper)."""
    preload = [p for _, p in asan_preload(NSS_MODULE)] + ["libnss_wrapper.so"]
    env = dict(os.environ, LD_PRELOAD=":".join(preload), NSS_WRAPPER_PASSWD=os.path.join(files, "passwd"),
               NSS_WRAPPER_GROUP=os.path.join(files, "group"), NSS_WRAPPER_MODULE_SO_PATH=NSS_MODULE,
               NSS_WRAPPER_MODULE_FN_PREFIX="ehr", EHR2FA_NSS_SNAPSHOT=snapshot,
               ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0", NSS_WRAPPER_DISABLE_DEEPBIND="1")
    return subprocess.run(list(cmd), capture_output=True, text=True, env=env, timeout=30)


class SmtpServer:
    """An smtpd() (tests/mail/smtpd.py on 127.0.0.1) held open across a test's setUp and
    tearDown, in a mode of its own (accept, refuse, greet-refuse, hang)."""

    def __init__(self, mode="accept"):
        if not have_aiosmtpd():
            raise unittest.SkipTest("python3-aiosmtpd not installed (scripts/deps.sh)")
        self.parent = tempfile.mkdtemp(prefix="ehr2fa-smtpd-")
        self._server = smtpd(self.parent, mode)
        self.port, self.dir = self._server.__enter__()
        self.running = True

    def conf(self):
        """The mail settings of ehr2fa.conf for this server: cleartext on loopback, no AUTH."""
        return (f"mail_url = smtp://127.0.0.1:{self.port}\nmail_allow_plain = yes\nmail_from = ehr2fa@example.org\n"
                f"mail_sender = {MAIL_SENDER}\nnotifier = {NOTIFIER}\nmail_connect_timeout_ms = 1000\n"
                "mail_timeout_ms = 3000\n")

    def mails(self, n=0, timeout=10):
        """The messages accepted so far (mails()), waiting up to timeout for at least n."""
        deadline = time.monotonic() + timeout
        while len(mails(self.dir)) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return mails(self.dir)

    def kill(self):
        """Stop the server: nothing listens on its port any more."""
        if self.running:
            self.running = False
            self._server.__exit__(None, None, None)

    def stop(self):
        self.kill()
        shutil.rmtree(self.parent, ignore_errors=True)


class SetuidHelper:
    """The test build of ehr2fa-helper made setuid root, with copies of the module and
    the admin tool, in a directory an unprivileged user can enter (the build directory
    may not be: a clone in /root); run_as() runs a command as another uid with the
    environment such a user has (EHR2FA_HELPER points the admin tool at this helper)."""

    def __init__(self, env):
        self.env = env
        self.dir = tempfile.mkdtemp(prefix="ehr2fa-helper-")
        os.chmod(env.dir, 0o755)
        self.module, self.admin, test_helper = copy_for_others(self.dir, MODULE, ADMIN, HELPER_TEST)
        self.helper = os.path.join(self.dir, "ehr2fa-helper")
        os.rename(test_helper, self.helper)
        os.chown(self.helper, 0, 0)
        os.chmod(self.helper, 0o4755)
        os.chmod(env.svcdir, 0o755)

    def run_as(self, uid, args, input=None, env_extra=None):
        env = {"PATH": "/usr/bin:/bin", "EHR2FA_CONF": self.env.conf, "EHR2FA_HELPER": self.helper}
        env.update(env_extra or {})
        return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"] + args,
                              input=input, capture_output=True, text=True, env=env, timeout=60)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Env:
    """One throwaway installation: config, store, PAM service, password file."""

    def __init__(self, conf_extra="", module_args="", testclock=False, service="ehr2fa-test", store=None,
                 daemon=None):
        """store: another store's locator (a host of a shared store, see Hosts);
        daemon: True/False overrides EHR2FA_TEST_DAEMON for this one."""
        self.dir = tempfile.mkdtemp(prefix="ehr2fa-test-")
        self.store = store or os.path.join(self.dir, "store")
        self.conf = os.path.join(self.dir, "ehr2fa.conf")
        self.service = service
        self.svcdir = os.path.join(self.dir, "pam.d")
        self.passdb = os.path.join(self.dir, "passdb")
        self.daemon_sock = os.path.join(self.dir, "ehr2fad.sock")
        self.daemon_log = os.path.join(self.dir, "ehr2fad.log")
        self.daemon = None
        self.use_daemon = DAEMON_MODE if daemon is None else daemon
        os.mkdir(self.svcdir)
        self.write_conf(conf_extra)
        self.set_module_args(module_args, testclock)
        with open(self.passdb, "w") as f:
            pass

    def write_conf(self, extra=""):
        with open(self.conf, "w") as f:
            daemon = f"daemon_socket = {self.daemon_sock}\n" if self.use_daemon else ""
            # Homes of managed accounts go in here, never in the host's /home.
            homes = "" if "home_base" in extra else f"home_base = {self.dir}/homes\n"
            homes += "" if "nss_snapshot" in extra else f"nss_snapshot = {self.dir}/nss/snapshot\n"
            # The shipped list of breached passwords, where a build tree has it.
            homes += "" if "password_breached_list" in extra else f"password_breached_list = {BREACHED_LIST}\n"
            # After extra: the tests count its lines from 3.
            f.write(f"store_dir = {self.store}\nfail_delay_ms = 0\n{extra}\n{homes}{daemon}")
        os.chmod(self.conf, 0o644)

    def set_module_args(self, args="", testclock=False):
        mod = MODULE_TESTCLOCK if testclock else MODULE
        with open(os.path.join(self.svcdir, self.service), "w") as f:
            f.write(f"auth required {PAM_MATRIX} passdb={self.passdb}\n"
                    f"auth required {mod} conf={self.conf} {args}\n"
                    f"account required {mod} conf={self.conf} {args}\n")

    def cleanup(self):
        try:
            self.stop_daemon()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def start_daemon(self, *args, wait=True, required=True, preexec_fn=None):
        """Run ehr2fad on this store (--debug: one log line per request). Not required:
        a daemon that refuses to start (a broken config or store, which the test is
        about) is left out, and the module then works in-process."""
        log = open(self.daemon_log, "a")
        self.daemon = subprocess.Popen([EHR2FAD, "--conf", self.conf, "--debug", *args], stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=log, preexec_fn=preexec_fn)
        log.close()
        deadline = time.monotonic() + 30
        # Ready means listening, not just bound: the socket file appears at bind(),
        # and a connect() before the listen() that follows is refused.
        while wait and not self._daemon_listening():
            if not required and self.daemon.poll() is not None:
                self.daemon = None
                return None
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"ehr2fad did not start: {self.daemon_lines()}")
            time.sleep(0.02)
        return self.daemon

    def _daemon_listening(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            try:
                s.connect(self.daemon_sock)
                return True
            except (FileNotFoundError, ConnectionRefusedError):
                return False

    def stop_daemon(self):
        """SIGTERM, and it must exit 0: under ASan a leak or a memory error shows here."""
        d, self.daemon = self.daemon, None
        if not d:
            return
        if d.poll() is None:
            d.terminate()
            try:
                d.wait(timeout=10)
            except subprocess.TimeoutExpired:
                d.kill()
                d.wait()
        if d.returncode != 0:
            raise AssertionError(f"ehr2fad exited {d.returncode}: " + "\n".join(self.daemon_lines()[-40:]))

    def daemon_lines(self):
        try:
            with open(self.daemon_log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def _daemon_for_login(self):
        if DAEMON_MODE and self.daemon is None and os.path.exists(os.path.join(self.store, "ehr2fa.db")):
            self.start_daemon(required=False)

    def admin(self, *args, input=None, check=True, now=None, as_user=None, env_extra=None):
        """Run ehr2fa-admin as root; as_user: as that user through sudo (SUDO_USER),
        whose permissions in the store then decide."""
        env = {k: v for k, v in os.environ.items() if k != "SUDO_USER"}
        if as_user:
            env["SUDO_USER"] = as_user
        env.update(env_extra or {})
        r = subprocess.run([ADMIN, "--conf", self.conf, *args], input=input, capture_output=True, text=True,
                           timeout=60, env=env)
        if check and r.returncode != 0:
            raise AssertionError(f"ehr2fa-admin {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def add_user(self, login, secret=SECRET, digits=None, algorithm=None, password=PASSWORD, **kw):
        args = ["user", "add", login, "--phone", kw.get("phone", "+15551234566"), "--email", f"{login}@example.org",
                "--name", kw.get("name", login.title()), "--role", kw.get("role", "staff")]
        self.admin(*args)
        if secret:
            e = ["totp", "enroll", login, "--secret", secret, "--no-qr"]
            if digits:
                e += ["--digits", str(digits)]
            if algorithm:
                e += ["--algorithm", algorithm]
            self.admin(*e)
        with open(self.passdb, "a") as f:
            f.write(f"{login}:{password}:{self.service}\n")

    def login(self, user, *answers, ops=("authenticate",), now=None, password=PASSWORD, timeout=60, items=(),
              syscalls=None, env_extra=None, pass_fds=()):
        """Run pamtester through pam_wrapper; answers follow the password, one per prompt.
        env_extra: more environment for pamtester (the caller's, as a hostile user sets it).
        syscalls=(NAMES, FILE): run it under strace, which writes those system calls,
        with the paths of their file descriptors and their buffers whole, to FILE.
        pass_fds: descriptors of ours that pamtester inherits (a host's own files)."""
        need("pamtester")
        self._daemon_for_login()
        env = dict(os.environ)
        preload = sanitizer_preload() + ["libpam_wrapper.so"]
        login_env = {"LD_PRELOAD": ":".join(preload), "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": self.svcdir,
                     "ASAN_OPTIONS": "detect_leaks=0"}
        if now is not None:
            login_env["EHR2FA_TEST_NOW"] = str(now)
        login_env.update(env_extra or {})
        argv = ["pamtester", "-v"] + [f"-I{i}" for i in items] + [self.service, user, *ops]
        if syscalls:
            # strace itself runs without the preloads; -E gives them to pamtester only.
            names, path = syscalls
            argv = ["strace", "-f", "-qq", "-y", "-s", "8192", "-e", "trace=" + ",".join(names), "-o", path] + \
                [a for k, v in login_env.items() for a in ("-E", f"{k}={v}")] + argv
        else:
            env.update(login_env)
        stdin = "".join(f"{a}\n" for a in (password, *answers))
        with pam_wrapper_lock():
            start = time.monotonic()
            r = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=timeout,
                               pass_fds=pass_fds)
            r.elapsed = time.monotonic() - start
        return r

    def login_interactive(self, user, script, ops=("authenticate",), now=None, password=PASSWORD, timeout=60,
                          items=(), env_extra=None, pass_fds=()):
        """Like login(), but the answers after the password come from script(write),
        a function that may wait (for a text message, say) before writing each.
        pass_fds: descriptors of ours that pamtester inherits (a host's own files)."""
        need("pamtester")
        self._daemon_for_login()
        env = dict(os.environ)
        env.update({"LD_PRELOAD": ":".join(sanitizer_preload() + ["libpam_wrapper.so"]), "PAM_WRAPPER": "1",
                    "PAM_WRAPPER_SERVICE_DIR": self.svcdir, "ASAN_OPTIONS": "detect_leaks=0"})
        if now is not None:
            env["EHR2FA_TEST_NOW"] = str(now)
        env.update(env_extra or {})
        args = ["pamtester", "-v"] + [f"-I{i}" for i in items] + [self.service, user, *ops]
        with pam_wrapper_lock():
            start = time.monotonic()
            r = self._interactive(args, env, password, script, timeout, pass_fds)
            r.elapsed = time.monotonic() - start
        return r

    @staticmethod
    def _interactive(args, env, password, script, timeout, pass_fds=()):
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env, pass_fds=pass_fds)

        def write(line):
            p.stdin.write(line + "\n")
            p.stdin.flush()

        try:
            write(password)
            script(write)
        except BrokenPipeError:
            pass  # pamtester finished early (a refused login): its output says why
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
        p.stdin = None
        output, _ = communicate(p, timeout)
        return subprocess.CompletedProcess(args, p.returncode, output, "")

    def race(self, user, code, n):
        """n logins of user at once, each a process of its own through real libpam,
        all answering code together once all are at the prompt (tests/pam-race.c).
        The second factor alone: no password module in this service. Returns the
        counts: prompted, success, failed (PAM_AUTH_ERR) and other."""
        self._daemon_for_login()
        return race([self], user, code, n)

    def race_confdir(self):
        """A PAM directory whose service "race" is this host's module line alone."""
        confdir = os.path.join(self.dir, "race.d")
        os.makedirs(confdir, exist_ok=True)
        with open(os.path.join(confdir, "race"), "w") as f:
            f.write(f"auth required {MODULE} conf={self.conf}\n")
        return confdir

    def audit(self, user=None):
        args = ["--json", "audit", "show"] + (["--user", user] if user else [])
        return json.loads(self.admin(*args).stdout)


def race(envs, user, code, n):
    """n logins of user at once through real libpam, login i on host envs[i % len]
    (tests/pam-race.c; see Env.race)."""
    prog = os.environ.get("EHR2FA_PAM_RACE")
    if not prog:
        raise unittest.SkipTest("EHR2FA_PAM_RACE not set")
    confdirs = ":".join(e.race_confdir() for e in envs)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    r = subprocess.run([prog, confdirs, "race", user, str(n)], input=code + "\n", capture_output=True, text=True,
                       timeout=120, env=env)
    m = re.search(r"prompted=(\d+) success=(\d+) failed=(\d+) other=(\d+)", r.stdout)
    if r.returncode != 0 or not m:
        raise AssertionError(f"pam-race failed ({r.returncode}): {r.stdout}{r.stderr}")
    counts = dict(zip(("prompted", "success", "failed", "other"), map(int, m.groups())))
    counts["stderr"] = r.stderr
    return counts


def oath(secret=SECRET, now=None, digits=6, algorithm="sha1", step=0):
    """A code from oathtool, the independent generator."""
    need("oathtool")
    t = int(time.time() if now is None else now) + 30 * step
    args = ["oathtool", f"--totp={algorithm}", "-b", f"--digits={digits}", f"--now=@{t}", secret]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()


def early_in_step(seconds=10):
    """Wait, if need be, until at least `seconds` of the current 30 s step are left:
    for a test whose code from a step back must still be a step back when checked."""
    left = 30 - time.time() % 30
    if left < seconds:
        time.sleep(left + 0.2)


class EnvTestCase(unittest.TestCase):
    conf_extra = ""
    module_args = ""
    testclock = False
    service = "ehr2fa-test"  # the PAM service: trust this device is offered only at logins ("login", "sshd"...)

    def setUp(self):
        self.env = Env(self.conf_extra, self.module_args, self.testclock, self.service)
        self.env.admin("init")

    def tearDown(self):
        self.env.cleanup()

    def assertLoginOK(self, r):
        self.assertEqual(r.returncode, 0, f"login failed:\n{r.stdout}\n{r.stderr}")

    def assertLoginFails(self, r):
        self.assertNotEqual(r.returncode, 0, f"login succeeded:\n{r.stdout}\n{r.stderr}")

    def assertKeptNothingOfTheHost(self, state, host_file):
        """A helper program's state (helper_state()) after ehr_child_start(): no core dump,
        / as its directory, only the environment we give it, stderr on /dev/null, and not
        host_file, which the host held open without close-on-exec."""
        self.assertEqual(state["core"], ["0", "0"])
        self.assertEqual(state["cwd"], "/")
        self.assertEqual(state["env"], {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})
        self.assertNotIn(host_file, state["fds"].values())
        self.assertEqual(state["fds"][2], "/dev/null")
