# SPDX-License-Identifier: GPL-2.0-or-later
"""A real PostgreSQL for the tests: Debian's initdb and pg_ctl, run as the
unprivileged user "postgres" (the package makes it; the suite runs as root)
into a temporary directory, listening only on a Unix socket in that
directory. Password authentication (scram-sha-256), as a site would use.

Python tests:
    with pg.Server() as srv:          # raises unittest.SkipTest when it cannot start
        srv.locator                   # postgresql:///ehr2fa?host=...&port=...&user=ehr2fa
        srv.password_file(dirpath)    # a root-only file with the role's password
        srv.stop(); srv.start()       # stopped mid-run, started again
        srv.psql("SELECT 1")          # as the superuser

C tests and anything else: `python3 tests/pg.py run -- COMMAND ARGS...` starts a
server, runs COMMAND with EHR2FA_TEST_PG (the locator) and
EHR2FA_TEST_PG_PASSWORD_FILE in its environment, stops the server and exits
with COMMAND's status (77, meson's "skipped", when no server can start).
`run --durable -- ...`: a server that fsyncs, as a site's does (bench/hosts);
the tests' runs without fsync."""

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

PG_USER = "postgres"
ROLE = "ehr2fa"
DB = "ehr2fa"
PORT = 5432  # names the socket file only: nothing listens on TCP


def bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]), reverse=True)
    for d in dirs:
        if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return d
    return None


class Server:
    def __init__(self, durable=False):
        """durable: fsync as a production server does (benchmarks); the tests
        run without it, which is faster and changes no behaviour they check."""
        self.durable = durable
        self.bin = bindir()
        if not self.bin:
            raise unittest.SkipTest("PostgreSQL not installed (/usr/lib/postgresql/*/bin/initdb): "
                                    "scripts/deps.sh installs it")
        try:
            self.pw = pwd.getpwnam(PG_USER)
        except KeyError:
            raise unittest.SkipTest(f"no user {PG_USER} to run PostgreSQL as")
        if os.geteuid() != 0:
            raise unittest.SkipTest("starting PostgreSQL as postgres needs root")
        self.dir = tempfile.mkdtemp(prefix="ehr2fa-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "log")
        for d in (self.data, self.sock):
            os.mkdir(d, 0o700)
            os.chown(d, self.pw.pw_uid, self.pw.pw_gid)
        os.chmod(self.sock, 0o755)
        open(self.log, "w").close()
        os.chown(self.log, self.pw.pw_uid, self.pw.pw_gid)
        self.superpass = secrets.token_hex(16)
        self.password = secrets.token_hex(16)
        self.locator = self.locator_of(DB)
        self.running = False
        self.databases = 0

    def _as_pg(self, *argv, input=None, check=True, timeout=60):
        r = subprocess.run(["setpriv", f"--reuid={self.pw.pw_uid}", f"--regid={self.pw.pw_gid}", "--init-groups",
                            "--", *argv], input=input, capture_output=True, text=True, timeout=timeout,
                           cwd=self.dir, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stdout}{r.stderr}")
        return r

    def setup(self):
        pwfile = os.path.join(self.dir, "superpass")
        with open(pwfile, "w") as f:
            f.write(self.superpass + "\n")
        os.chown(pwfile, self.pw.pw_uid, self.pw.pw_gid)
        os.chmod(pwfile, 0o600)
        try:
            self._as_pg(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", PG_USER, "--auth=scram-sha-256",
                        f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", timeout=120)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            self.cleanup()
            raise unittest.SkipTest(f"initdb cannot run here: {e}")
        os.unlink(pwfile)
        self.start()
        self.psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}'")
        self.psql(f"CREATE DATABASE {DB} OWNER {ROLE}")
        return self

    def start(self):
        opts = f"-k {self.sock} -p {PORT} -c listen_addresses='' -c max_connections=200"
        if not self.durable:
            opts += " -c fsync=off"
        try:
            self._as_pg(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log, "-o", opts, "-w",
                        "-t", "60", "start", timeout=90)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            raise unittest.SkipTest(f"PostgreSQL does not start here: {e}; log: {self.log_tail()}")
        self.running = True

    def stop(self, mode="fast"):
        if self.running:
            self._as_pg(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop", check=False)
            self.running = False

    def log_tail(self):
        try:
            with open(self.log) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def psql(self, sql, db=None, check=True):
        """Run SQL as the superuser; returns psql's output (unaligned, tuples only)."""
        r = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.sock, "-p", str(PORT), "-U", PG_USER, "-d", db or "postgres", "-c", sql],
                           capture_output=True, text=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin", "PGPASSWORD": self.superpass})
        if check and r.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {r.stderr}")
        return r.stdout

    def locator_of(self, db):
        return f"postgresql:///{db}?host={self.sock}&port={PORT}&user={ROLE}&sslmode=disable"

    def new_database(self):
        """A fresh empty database owned by the store's role: its locator."""
        self.databases += 1
        name = f"{DB}_{self.databases}"
        self.psql(f"CREATE DATABASE {name} OWNER {ROLE}")
        return self.locator_of(name)

    def sql(self, locator_db, sql):
        """Run SQL as the store's role in one of our databases (by its locator)."""
        db = locator_db.split("?")[0].rsplit("/", 1)[1]
        return self.psql(f"SET ROLE {ROLE}; {sql}", db=db)

    def password_file(self, dirpath):
        """The role's password in a root-only file in dirpath (store_password_file)."""
        path = os.path.join(dirpath, "pg.password")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password + "\n")
        return path

    def cleanup(self):
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.setup()

    def __exit__(self, *exc):
        self.cleanup()


def run(argv, durable=False):
    """Start a server, run argv with EHR2FA_TEST_PG set, stop the server."""
    try:
        srv = Server(durable).setup()
    except unittest.SkipTest as e:
        print(f"SKIP: {e}")
        return 77
    try:
        keydir = tempfile.mkdtemp(prefix="ehr2fa-pgpass-")
        env = dict(os.environ, EHR2FA_TEST_PG=srv.locator, EHR2FA_TEST_PG_PASSWORD_FILE=srv.password_file(keydir),
                   EHR2FA_TEST_PG_DIR=srv.dir)
        start = time.monotonic()
        r = subprocess.run(argv, env=env)
        print(f"pg.py: {argv[0]} exited {r.returncode} after {time.monotonic() - start:.1f} s")
        return r.returncode
    finally:
        srv.cleanup()
        shutil.rmtree(keydir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "run" and sys.argv[2] == "--":
        sys.exit(run(sys.argv[3:]))
    if len(sys.argv) > 3 and sys.argv[1:4] == ["run", "--durable", "--"]:
        sys.exit(run(sys.argv[4:], durable=True))
    print(__doc__)
    sys.exit(2)
