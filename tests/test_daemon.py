#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""ehr2fad, the optional daemon that keeps the store open: logins go through it
when it runs, work in-process when it does not (or stops answering), and
nothing a client sends can crash it or make it serve another store."""

import errno
import os
import signal
import socket
import subprocess
import time
import unittest

from ehrtest import EnvTestCase, Env, EHR2FAD, early_in_step, MODULE, need_strace, oath

HOST = os.environ.get("EHR2FA_PAM_HOST_SQLITE")


def out(r):
    return r.stdout + r.stderr


# The protocol version of core/wire.h (EHR_WIRE_VERSION).
WIRE_V = "2"


def wire(**fields):
    """A request as the module encodes it: key=HEX lines."""
    return "".join(f"{k}={v.encode().hex()}\n" for k, v in fields.items()).encode()


def unwire(data):
    return {k: bytes.fromhex(v).decode() for k, v in (l.split("=", 1) for l in data.decode().splitlines())}


class Daemon(EnvTestCase):
    def setUp(self):
        super().setUp()
        self.env.use_daemon = True
        self.env.write_conf()
        self.env.add_user("alice")

    def served(self, op, user="alice"):
        return [l for l in self.env.daemon_lines() if f"op={op} user={user} " in l]

    def call(self, data):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(5)
        s.connect(self.env.daemon_sock)
        s.send(data)
        reply = s.recv(65536)
        s.close()
        return reply

    def test_login_goes_through_the_daemon(self):
        self.env.start_daemon()
        r = self.env.login("alice", oath(), ops=("authenticate", "acct_mgmt"))
        self.assertLoginOK(r)
        self.assertTrue(self.served("begin"), self.env.daemon_lines())
        self.assertTrue([l for l in self.served("verify") if " r=0 (" in l], self.env.daemon_lines())
        # The decision is in the same audit log as ever, written by the daemon.
        self.assertEqual(self.env.audit("alice")[-1]["action"], "second factor accepted")
        # The code travelled on the socket, never into the daemon's log.
        self.assertNotIn(oath(), "\n".join(self.env.daemon_lines()))

    @unittest.skipUnless(HOST, "EHR2FA_PAM_HOST_SQLITE not set")
    def test_daemon_login_loads_no_libsodium(self):
        """A login process whose check ehr2fad answers does no cryptography of its
        own: the module does not load libsodium, which would cost the process more
        than the module itself (nor libcurl). The host links SQLite itself, so that
        one is checked by needed-pam_ehr2fa instead."""
        self.env.start_daemon()
        svcdir = os.path.join(self.env.dir, "host.d")
        os.mkdir(svcdir)
        with open(os.path.join(svcdir, "host"), "w") as f:
            f.write(f"auth required {MODULE} conf={self.env.conf}\n")
        r = subprocess.run([HOST, svcdir, "host", "alice", oath(), "2"], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        self.assertEqual(r.returncode, 0, out(r))
        self.assertIn("login 1: Success", r.stdout)
        self.assertIn("login 2: Authentication failure", r.stdout)  # the same code again: a replay
        self.assertTrue([l for l in self.served("verify") if " r=0 (" in l], self.env.daemon_lines())
        self.assertIn("libsodium loaded at the code prompt: no", r.stdout)
        self.assertIn("libcurl loaded: no", r.stdout)

    def test_one_connection_per_login(self):
        """A login's requests (begin before the prompt, verify after it) share one
        connection: a connection costs more than a request, on both sides."""
        need_strace()
        self.env.start_daemon()
        trace = os.path.join(self.env.dir, "connects")
        r = self.env.login("alice", oath(), syscalls=(("connect",), trace))
        self.assertLoginOK(r)
        with open(trace) as f:
            connects = [l for l in f if self.env.daemon_sock in l]
        self.assertEqual(len(connects), 1, connects)
        self.assertTrue(self.served("begin") and self.served("verify"), self.env.daemon_lines())

    def test_config_goes_once_per_connection(self):
        """The first request on a connection carries the module's config; the daemon
        applies it to the later requests on that connection, so a login's config is
        encoded, sent and parsed once, not with every request."""
        need_strace()
        self.env.start_daemon()
        now = str(int(time.time()))
        base = dict(v=WIRE_V, user="alice", now=now, source="service=test")
        wrong = "000000" if oath() != "000000" else "111111"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(5)
        s.connect(self.env.daemon_sock)
        s.send(wire(op="begin", **base, **{"cfg.store_dir": self.env.store, "cfg.deny": "2"}))
        self.assertEqual(unwire(s.recv(65536))["r"], "0")
        for _ in range(2):
            s.send(wire(op="verify", answer=wrong, **base))
            reply = unwire(s.recv(65536))
        s.close()
        # Checked on our store, and deny = 2 (the connection's) locked at the second failure.
        self.assertEqual(reply["r"], str(-errno.EBADRQC))
        self.assertNotEqual(reply["locked_until"], "0")
        # A new connection starts from the defaults, whose store is not the daemon's.
        t = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        t.settimeout(5)
        t.connect(self.env.daemon_sock)
        t.send(wire(op="begin", **base))
        self.assertEqual(unwire(t.recv(65536))["r"], str(-errno.EXDEV))
        t.close()
        # The module's begin carries its config, as the keys that differ from the
        # defaults (those Env writes to ehr2fa.conf); its verify carries none.
        self.env.admin("lockout", "clear", "alice")
        trace = os.path.join(self.env.dir, "sends")
        self.assertLoginOK(self.env.login("alice", oath(), syscalls=(("connect", "sendto"), trace)))
        with open(trace) as f:
            lines = f.read().splitlines()
        fd = [l.split("(", 1)[1].split(",", 1)[0] for l in lines if "connect(" in l and self.env.daemon_sock in l]
        self.assertEqual(len(fd), 1, lines)
        sent = [l.split('"', 2)[1].split("\\n") for l in lines if l.split("(", 1)[0].endswith("sendto") and
                l.split("(", 1)[1].startswith(fd[0] + ",")]
        self.assertEqual(len(sent), 2, lines)
        cfg = [sorted(f.split("=", 1)[0][4:] for f in req if f.startswith("cfg.")) for req in sent]
        self.assertEqual(cfg[0], ["daemon_socket", "fail_delay_ms", "home_base", "nss_snapshot",
                                  "password_breached_list", "store_dir"], sent[0])
        self.assertEqual(cfg[1], [], sent[1])

    def test_connections_are_served_side_by_side(self):
        """A login waiting at its prompt holds only its connection: another login's
        requests are answered meanwhile, and the first goes on where it was."""
        self.env.start_daemon()
        now = str(int(time.time()))
        base = dict(v=WIRE_V, user="alice", now=now, source="service=test", **{"cfg.store_dir": self.env.store})
        a = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        a.settimeout(5)
        a.connect(self.env.daemon_sock)
        a.send(wire(op="begin", **base))
        self.assertEqual(unwire(a.recv(65536))["r"], "0")
        # a now waits "at its prompt"; b logs in from start to end meanwhile.
        b = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        b.settimeout(5)
        b.connect(self.env.daemon_sock)
        b.send(wire(op="begin", **base))
        self.assertEqual(unwire(b.recv(65536))["r"], "0")
        b.send(wire(op="verify", answer=oath(), **base))
        self.assertEqual(unwire(b.recv(65536))["r"], "0")
        b.close()
        a.send(wire(op="verify", answer="000000" if oath() != "000000" else "111111", **base))
        self.assertEqual(unwire(a.recv(65536))["r"], str(-errno.EBADRQC))
        a.close()
        actions = [row["action"] for row in self.env.audit("alice")]
        self.assertEqual(actions[-2:], ["second factor accepted", "second factor failed"])

    def test_login_whose_connection_was_closed_reconnects(self):
        """With --max-clients 1, another client's connection closes the one a login
        keeps while it waits at the prompt: the login sends its code again on a new
        connection, and the code is checked exactly once."""
        self.env.start_daemon("--max-clients", "1")
        code = oath()

        def script(write):
            deadline = time.monotonic() + 10
            while not self.served("begin") and time.monotonic() < deadline:
                time.sleep(0.02)
            other = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            other.settimeout(5)
            other.connect(self.env.daemon_sock)
            other.send(b"garbage")  # answered once the daemon has taken this connection
            other.recv(65536)
            other.close()
            write(code)

        r = self.env.login_interactive("alice", script)
        self.assertLoginOK(r)
        self.assertEqual(len([l for l in self.served("verify") if " r=0 (" in l]), 1, self.env.daemon_lines())
        self.assertEqual([row["action"] for row in self.env.audit("alice")].count("second factor accepted"), 1)
        self.assertIsNone(self.env.daemon.poll(), "ehr2fad died")

    def test_more_connections_than_descriptors(self):
        """Every connection is a descriptor: under a low open-files limit the daemon
        keeps fewer connections than --max-clients asks, says so, and goes on
        serving when clients open more than that."""
        import resource

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (80, 80))

        self.env.start_daemon("--max-clients", "4096", preexec_fn=low_limit)
        self.assertTrue([l for l in self.env.daemon_lines() if "keeping at most 16 connections" in l],
                        self.env.daemon_lines())
        held = []
        for _ in range(60):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(self.env.daemon_sock)
            held.append(s)
        self.assertLoginOK(self.env.login("alice", oath()))
        for s in held:
            s.close()
        self.assertIsNone(self.env.daemon.poll(), "ehr2fad died")
        self.assertTrue([l for l in self.served("verify") if " r=0 (" in l], self.env.daemon_lines())

    def start_activated(self, sock):
        """ehr2fad as systemd's socket activation starts it: the socket as descriptor 3,
        LISTEN_PID and LISTEN_FDS in its environment."""
        log = open(self.env.daemon_log, "a")
        n = sock.fileno()
        move = "" if n == 3 else f"exec 3<&{n} {n}<&-; "
        shell = move + 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"'
        self.env.daemon = subprocess.Popen(["sh", "-c", shell, "sh", EHR2FAD, "--conf", self.env.conf, "--debug"],
                                           pass_fds=(n,), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        while not [l for l in self.env.daemon_lines() if "serving" in l or "ehr2fad:" in l]:
            if self.env.daemon.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        return self.env.daemon

    def test_socket_activation(self):
        """Started by systemd (ehr2fad.socket), the daemon serves the socket it was
        given and leaves it in place when it stops, for the next login to start it."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.bind(self.env.daemon_sock)
        os.chmod(self.env.daemon_sock, 0o600)
        sock.listen(16)
        d = self.start_activated(sock)
        sock.close()
        self.assertTrue([l for l in self.env.daemon_lines() if "(from systemd)" in l], self.env.daemon_lines())
        self.assertLoginOK(self.env.login("alice", oath()))
        self.assertTrue([l for l in self.served("verify") if " r=0 (" in l], self.env.daemon_lines())
        d.terminate()
        self.assertEqual(d.wait(timeout=10), 0, self.env.daemon_lines())
        self.env.daemon = None
        self.assertTrue(os.path.exists(self.env.daemon_sock), "systemd's socket was removed")

    def test_socket_activation_with_the_wrong_socket(self):
        """A stream socket (ListenStream= by mistake) is refused with a message that
        names the setting, and logins go on in-process."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(self.env.daemon_sock)
        sock.listen(16)
        d = self.start_activated(sock)
        sock.close()
        self.assertEqual(d.wait(timeout=10), 1)
        self.env.daemon = None
        self.assertTrue([l for l in self.env.daemon_lines() if "ListenSequentialPacket=" in l], self.env.daemon_lines())
        self.assertLoginOK(self.env.login("alice", oath()))

    def test_replay_and_wrong_code_through_the_daemon(self):
        self.env.start_daemon()
        code = oath()
        self.assertLoginOK(self.env.login("alice", code))
        self.assertLoginFails(self.env.login("alice", code))
        self.assertIn("replayed", self.env.audit("alice")[-1]["details"])
        wrong = "%06d" % ((int(oath()) + 1) % 1000000)
        r = self.env.login("alice", wrong)
        self.assertLoginFails(r)
        self.assertIn("Verification failed", out(r))
        self.assertTrue([l for l in self.served("verify") if f" r={-errno.EBADRQC} (" in l])

    def test_module_policy_is_applied_not_the_daemons(self):
        # The daemon's own config says deny = 5 (default); the module says 2.
        self.env.set_module_args("deny=2")
        self.env.start_daemon()
        wrong = "%06d" % ((int(oath()) + 1) % 1000000)
        self.assertLoginFails(self.env.login("alice", wrong))
        r = self.env.login("alice", wrong)
        self.assertIn("locked", out(r))
        r = self.env.login("alice", oath())
        self.assertLoginFails(r)
        self.assertIn("locked", out(r))
        self.assertTrue(self.served("begin"))

    def test_unknown_user_same_words(self):
        self.env.start_daemon()
        r = self.env.login("mallory", "123456")
        self.assertLoginFails(r)
        self.assertIn("Verification code:", out(r))
        self.assertIn("Verification failed", out(r))
        self.assertTrue(self.served("begin", "mallory"))

    def test_no_daemon_means_in_process(self):
        # The configured socket does not exist: the login works as without a daemon.
        r = self.env.login("alice", oath())
        self.assertLoginOK(r)
        self.assertEqual(self.env.daemon_lines(), [])

    def test_daemon_stopped_between_logins(self):
        self.env.start_daemon()
        early_in_step()  # a step back must not become two before the module checks it
        self.assertLoginOK(self.env.login("alice", oath(step=-1)))
        self.env.stop_daemon()
        self.assertFalse(os.path.exists(self.env.daemon_sock), "socket left behind")
        self.assertLoginOK(self.env.login("alice", oath()))

    def test_wal_sized_at_start_and_recovered_after_a_crash(self):
        d = self.env.start_daemon()
        wal = os.path.join(self.env.store, "ehr2fa.db-wal")
        size = os.path.getsize(wal)
        self.assertGreater(size, 4 * 1024 * 1024)  # room for a checkpoint's worth of frames
        code = oath()
        self.assertLoginOK(self.env.login("alice", code))
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        self.assertLoginFails(self.env.login("alice", wrong))
        self.assertEqual(os.path.getsize(wal), size, "the WAL grew: commits did not overwrite")
        # Killed without a checkpoint: the frames before the zeros are all there is.
        os.kill(d.pid, signal.SIGKILL)
        d.wait()
        self.env.daemon = None
        r = self.env.login("alice", code)
        self.assertLoginFails(r)  # the use of the code survived: a replay
        actions = [a["action"] for a in self.env.audit("alice")]
        self.assertEqual(actions[-3:], ["second factor accepted", "second factor failed", "second factor failed"])
        self.assertIn("replayed", self.env.audit("alice")[-1]["details"])
        self.env.admin("audit", "verify")
        # The wrong code counted before the crash, the replay after it.
        self.assertIn("2 of 5 failures", self.env.admin("lockout", "show", "alice").stdout)

    def test_hung_daemon_does_not_hang_the_login(self):
        self.env.write_conf("store_timeout_ms = 500")
        d = self.env.start_daemon()
        os.kill(d.pid, signal.SIGSTOP)
        try:
            r = self.env.login("alice", oath())
            # Asked, no answer within store_timeout_ms: checked in-process instead.
            self.assertLoginOK(r)
            self.assertLess(r.elapsed, 5)
        finally:
            os.kill(d.pid, signal.SIGCONT)

    def test_other_store_is_not_served(self):
        other = Env()
        self.addCleanup(other.cleanup)
        other.use_daemon = True
        other.write_conf()
        other.admin("init")
        other.add_user("alice", secret="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        # Our daemon, other's socket path: it serves our store, not other's.
        self.env.use_daemon = False  # the conf names other's socket instead of ours
        self.env.write_conf(f"daemon_socket = {other.daemon_sock}\n")
        self.env.start_daemon("--socket", other.daemon_sock, wait=False)
        deadline = time.monotonic() + 10
        while not os.path.exists(other.daemon_sock) and time.monotonic() < deadline:
            time.sleep(0.02)
        r = other.login("alice", oath(secret="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"))
        self.assertLoginOK(r)
        self.assertTrue([l for l in self.env.daemon_lines() if "r=-18" in l], self.env.daemon_lines())
        self.assertEqual(other.audit("alice")[-1]["action"], "second factor accepted")

    def test_request_config_is_checked_like_the_file(self):
        """ehr2fad rebuilds the module's config from the request's cfg.* fields, by the
        rule of the file and of the module arguments: a key given twice is a malformed
        request, an unknown key or a bad value a bad config, and the code is not checked."""
        self.env.start_daemon()
        base = dict(v=WIRE_V, op="verify", user="alice", now=str(int(time.time())), source="service=test",
                    answer=oath(), **{"cfg.store_dir": self.env.store, "cfg.window": "1"})
        for data, want in ((wire(**base) + b"cfg.window=" + b"3".hex().encode() + b"\n", -errno.ENOMSG),
                           (wire(**base, **{"cfg.windw": "3"}), -errno.EINVAL),
                           (wire(**dict(base, **{"cfg.window": "11"})), -errno.EINVAL)):
            self.assertEqual(int(unwire(self.call(data))["r"]), want, data)
        self.assertEqual([row["action"] for row in self.env.audit("alice") if "second factor" in row["action"]], [])
        self.assertEqual(int(unwire(self.call(wire(**base)))["r"]), 0)  # the same request, well formed

    def test_hostile_requests(self):
        self.env.start_daemon()
        bad = [
            b"",
            b"garbage",
            b"v=31\nop=zz\n",                    # not hex
            b"v=31\nop=6\n",                     # odd length
            b"v=31\nv=31\n",                     # duplicate key
            b"V=31\n",                           # bad key
            b"v=31\nop=00\n",                    # NUL in a value
            b"x" * 20000,                        # more than a request may hold
            # another protocol version: the one before, the next one
            wire(v="1", op="begin", user="alice", now="1", source="s", **{"cfg.store_dir": self.env.store}),
            wire(v=str(int(WIRE_V) + 1), op="begin", user="alice", now="1", source="s",
                 **{"cfg.store_dir": self.env.store}),
            wire(v=WIRE_V, op="nosuch", user="alice", now="1", source="s", **{"cfg.store_dir": self.env.store}),
            wire(v=WIRE_V, op="verify", user="alice", now="1", source="s", **{"cfg.store_dir": self.env.store}),
            wire(v=WIRE_V, op="begin", user="alice", now="x", source="s"),
            wire(v=WIRE_V, op="begin", user="alice", now="1", source="s", **{"cfg.deny": "0"}),
            wire(v=WIRE_V, op="begin", user="alice", now="1", source="s", **{"cfg.nosuchkey": "1"}),
            wire(v=WIRE_V, op="begin", user="../../etc/passwd", now="1", source="s",
                 **{"cfg.store_dir": self.env.store}),
        ]
        for data in bad:
            if data == b"":
                continue
            try:
                reply = self.call(data)
            except OSError:
                continue  # dropped: fine, as long as the daemon lives on
            if reply:
                r = int(unwire(reply)["r"])
                self.assertLess(r, 0, data[:60])
        # A module of another protocol version is told so, whatever its config says.
        for v in ("1", str(int(WIRE_V) + 1)):
            reply = self.call(wire(v=v, op="begin", user="alice", now="1", source="s",
                                   **{"cfg.store_dir": self.env.store}))
            self.assertEqual(int(unwire(reply)["r"]), -errno.EPROTONOSUPPORT, v)
        # An empty datagram and a client that connects and says nothing.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(self.env.daemon_sock)
        s.close()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(self.env.daemon_sock)
        start = time.monotonic()
        self.assertLoginOK(self.env.login("alice", oath()))
        s.close()
        self.assertIsNone(self.env.daemon.poll(), "ehr2fad died")
        self.assertLess(time.monotonic() - start, 10)
        self.assertTrue(self.served("verify"))
        self.assertTrue([l for l in self.env.daemon_lines() if "malformed request" in l])

    def test_concurrent_clients_and_writers_lose_nothing(self):
        self.env.write_conf("deny = 1000\nmax_failures = 100000")
        self.env.start_daemon()
        import threading
        now = str(int(time.time()))
        req = wire(v=WIRE_V, op="verify", user="alice", now=now, source="service=test", answer="000000",
                   **{"cfg.store_dir": self.env.store, "cfg.deny": "1000", "cfg.max_failures": "100000"})
        results, errors = [], []

        def client():
            for _ in range(25):
                try:
                    results.append(int(unwire(self.call(req))["r"]))
                except Exception as e:  # noqa: BLE001 - collected and asserted below
                    errors.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        # Meanwhile other processes write the same store in-process.
        for i in range(5):
            self.env.admin("user", "add", f"extra{i}", "--phone", "+15551230000", "--email", f"e{i}@example.org",
                           "--name", "Extra", "--role", "staff")
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(results, [-errno.EBADRQC] * 200)
        self.assertIn("200 of 1000 failures", self.env.admin("lockout", "show", "alice").stdout)
        self.assertEqual(sum(1 for a in self.env.audit("alice") if a["action"] == "second factor failed"), 200)
        self.env.admin("audit", "verify")
        self.assertLoginOK(self.env.login("alice", oath()))

    def test_checkpoint_waits_for_no_login(self):
        """ehr2fad copies its WAL into the database when no login is connected, never
        inside a login's commit; nothing counted is lost by it."""
        self.env.write_conf("deny = 1000\nmax_failures = 100000")
        self.env.start_daemon()
        db = os.path.join(self.env.store, "ehr2fa.db")
        wrong = "000000" if oath() != "000000" else "111111"
        base = dict(v=WIRE_V, user="alice", now=str(int(time.time())), source="service=test")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(5)
        s.connect(self.env.daemon_sock)
        s.send(wire(op="begin", **base, **{"cfg.store_dir": self.env.store, "cfg.deny": "1000",
                                            "cfg.max_failures": "100000"}))
        self.assertEqual(unwire(s.recv(65536))["r"], "0")
        before = os.stat(db).st_mtime_ns
        # 100 failures, about four WAL frames each: well past the daemon's idle threshold
        # (128 frames), short of the one at which it checkpoints whatever is connected (1000).
        for _ in range(100):
            s.send(wire(op="verify", answer=wrong, **base))
            self.assertEqual(unwire(s.recv(65536))["r"], str(-errno.EBADRQC))
        self.assertEqual(os.stat(db).st_mtime_ns, before, "checkpointed while a login was connected")
        s.close()
        deadline = time.monotonic() + 10
        while os.stat(db).st_mtime_ns == before and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertNotEqual(os.stat(db).st_mtime_ns, before, "not checkpointed once no login was connected")
        self.assertTrue([l for l in self.env.daemon_lines() if "store upkeep between logins" in l])
        self.assertIn("100 of 1000 failures", self.env.admin("lockout", "show", "alice").stdout)
        self.env.admin("audit", "verify")
        self.assertLoginOK(self.env.login("alice", oath()))

    def test_only_our_uid_is_served(self):
        self.env.start_daemon()
        os.chmod(self.env.dir, 0o755)
        os.chmod(self.env.daemon_sock, 0o666)  # even when the socket mode would let it in
        client = ("import socket,sys\n"
                  "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
                  "s.settimeout(5)\n"
                  "s.connect(sys.argv[1])\n"
                  "try:\n"
                  "    s.send(b'v=31\\n')\n"
                  "    print('reply', repr(s.recv(100)))\n"
                  "except (BrokenPipeError, ConnectionResetError) as e:\n"
                  "    print('closed', e)\n")
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "python3", "-c", client,
                            self.env.daemon_sock], capture_output=True, text=True, timeout=30)
        # Closed without an answer: an empty read, or a reset or broken pipe.
        self.assertRegex(r.stdout, r"^(reply b''|closed )", r.stderr)
        time.sleep(0.2)
        self.assertTrue([l for l in self.env.daemon_lines() if "refused a client running as uid 65534" in l])

    def test_store_with_bad_mode_is_refused(self):
        self.env.start_daemon()
        os.chmod(os.path.join(self.env.store, "ehr2fa.db"), 0o644)
        r = self.env.login("alice", oath())
        self.assertLoginFails(r)
        self.assertIn("unavailable", out(r))
        self.assertLoginFails(self.env.login("alice", oath()))
        said = [l for l in self.env.daemon_lines() if "chmod go-rwx" in l]
        self.assertEqual(len(said), 1, self.env.daemon_lines())  # the reason, once
        self.assertIn("checked in-process", said[0])

    def test_refuses_to_start_on_a_bad_store_or_a_live_socket(self):
        d = self.env.start_daemon()
        second = subprocess.run([EHR2FAD, "--conf", self.env.conf], capture_output=True, text=True, timeout=30)
        self.assertEqual(second.returncode, 1)
        self.assertIn("already serving", second.stderr)
        self.assertIsNone(d.poll())
        # A socket directory others may write to: anyone could replace the socket.
        loose = os.path.join(self.env.dir, "loose")
        os.mkdir(loose)
        os.chmod(loose, 0o777)
        third = subprocess.run([EHR2FAD, "--conf", self.env.conf, "--socket", os.path.join(loose, "s.sock")],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(third.returncode, 1)
        self.assertIn(f"fix: chmod go-w {loose}", third.stderr)
        self.assertFalse(os.path.exists(os.path.join(loose, "s.sock")))
        self.env.stop_daemon()
        os.chmod(os.path.join(self.env.store, "master.key"), 0o644)
        r = subprocess.run([EHR2FAD, "--conf", self.env.conf], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("master.key", r.stderr)
        self.assertIn("chmod", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
