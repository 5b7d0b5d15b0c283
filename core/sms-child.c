/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A text message is sent from a child process with an environment of our own.
 *
 * libcurl and OpenSSL read the environment when they start: OPENSSL_CONF (which
 * may name a provider or engine module: code run in our process), OPENSSL_MODULES,
 * OPENSSL_ENGINES, SSL_CERT_FILE, SSL_CERT_DIR, SSLKEYLOGFILE (TLS secrets written
 * to a file), CURL_SSL_BACKEND, the proxy variables. In a login process that
 * environment may be the user's (a host that is not setuid, where secure_getenv()
 * does not help). Clearing and restoring variables around the library's start
 * would race with every other thread of the host reading environ (setenv() is not
 * thread-safe), and a forked child of a multi-threaded host may only call async-
 * signal-safe functions before exec. So: posix_spawn() of ehr2fa-sms-send (safe in a
 * threaded host) with an environment we write, the request on a socket (never in
 * argv), the answer back on the same socket, and a deadline after which the child
 * is killed. libcurl and OpenSSL are then never loaded into the login process at all.
 *
 * The request: NUL-terminated fields in the order of enum field. The answer:
 * "R STATUS\n", R the negative errno (or 0) that ehr_sms_send() returned. */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "sms.h"

enum field { F_MODE, F_URL, F_TOKEN, F_FROM, F_PROXY, F_CA_FILE, F_CONNECT_MS, F_TIMEOUT_MS, F_TO, F_MESSAGE, _F_MAX };

/* Longest request: every string at its limit, with room to spare. */
#define SMS_CHILD_REQUEST_MAX (64U * 1024U)
#define SMS_CHILD_REPLY_MAX 64U
/* On top of the gateway's own limit: exec, loading libcurl and its libraries. */
#define SMS_CHILD_START_MS 3000U

/* The child's whole environment: nothing of the caller's. */
static char *const child_env[] = { (char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *) "LC_ALL=C", NULL };

static void buf_wipe_free(char **p) {
        if (*p) {
                explicit_bzero(*p, SMS_CHILD_REQUEST_MAX);
                free(*p);
        }
}

/* The request as fields, into buf (SMS_CHILD_REQUEST_MAX bytes). Returns its length or -E2BIG. */
static ssize_t request_encode(const struct ehr_sms_gateway *g, const char *to, const char *message, char *buf) {
        char cto[24], tmo[24];
        snprintf(cto, sizeof cto, "%llu", (unsigned long long) g->connect_timeout_ms);
        snprintf(tmo, sizeof tmo, "%llu", (unsigned long long) g->timeout_ms);
        const char *f[_F_MAX] = {
                [F_MODE] = ehr_sms_mode_to_string(g->mode),
                [F_URL] = g->url,
                [F_TOKEN] = g->token,
                [F_FROM] = g->from,
                [F_PROXY] = g->proxy,
                [F_CA_FILE] = g->ca_file,
                [F_CONNECT_MS] = cto,
                [F_TIMEOUT_MS] = tmo,
                [F_TO] = to,
                [F_MESSAGE] = message,
        };
        size_t n = 0;
        for (size_t i = 0; i < _F_MAX; i++) {
                size_t k = strlen(f[i] ?: "");
                if (k + 1 > SMS_CHILD_REQUEST_MAX - n)
                        return -E2BIG;
                memcpy(buf + n, f[i] ?: "", k + 1);
                n += k + 1;
        }
        return (ssize_t) n;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL); /* a child that died must not SIGPIPE the host */
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Read until EOF, a full buffer, a newline if `line`, or the deadline. Returns the length,
 * -ETIMEDOUT or -errno. (The answer is one line, and is taken at its newline: a process
 * that another thread of the host forked meanwhile may hold the child's end open, so EOF
 * could come late.) */
static ssize_t read_until(int fd, char *buf, size_t size, bool line, uint64_t deadline_usec) {
        size_t n = 0;
        for (;;) {
                uint64_t now = ehr_monotonic_usec();
                if (now >= deadline_usec)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int r = poll(&p, 1, (int) ((deadline_usec - now + 999) / 1000));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return negative_errno();
                if (r == 0)
                        continue;
                ssize_t k = read(fd, buf + n, size - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0 || (n += (size_t) k) == size || (line && memchr(buf, '\n', n)))
                        return (ssize_t) n;
        }
}

static int reply_parse(const char *s, long *ret_status) {
        char *end;
        errno = 0;
        long r = strtol(s, &end, 10), status;
        if (errno || *end != ' ' || r > 0 || r < -4095)
                return -EBADMSG;
        status = strtol(end + 1, &end, 10);
        if (errno || *end != '\n' || status < 0 || status > 999)
                return -EBADMSG;
        *ret_status = status;
        return (int) r;
}

/* Start the child on one end of a socket pair (its stdin and stdout; stderr /dev/null). */
static int spawn_child(const char *sender, int fd, pid_t *ret_pid) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        sigset_t none, all;
        char *const argv[] = { (char *) "ehr2fa-sms-send", NULL };
        int r;

        if (!sender || sender[0] != '/')
                return -EINVAL;
        sigemptyset(&none);
        sigfillset(&all);
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        r = posix_spawnattr_init(&at);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        /* The host's blocked or handled signals are not the child's, nor its terminal (a
         * session of its own: a Ctrl-C at the login's prompt is the login's). */
        short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID;
        if ((r = posix_spawnattr_setflags(&at, flags)) == 0 &&
            (r = posix_spawnattr_setsigmask(&at, &none)) == 0 && (r = posix_spawnattr_setsigdefault(&at, &all)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, fd, 0)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, fd, 1)) == 0 &&
            (r = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0)) == 0)
                r = posix_spawn(ret_pid, sender, &fa, &at, argv, child_env);
        posix_spawnattr_destroy(&at);
        posix_spawn_file_actions_destroy(&fa);
        return -r;
}

/* Reap the child: at once if it is done, killed if it is not within a second. A
 * host whose SIGCHLD handler reaps it first makes waitpid() fail: nothing to do. */
static void reap(pid_t pid, bool kill_now) {
        if (!kill_now)
                for (int i = 0; i < 100; i++) {
                        pid_t w = waitpid(pid, NULL, WNOHANG);
                        if (w == pid || (w < 0 && errno != EINTR))
                                return;
                        (void) poll(NULL, 0, 10);
                }
        (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}

int ehr_sms_send_isolated(const char *sender, const struct ehr_sms_gateway *g, const char *to_e164,
                          const char *message, long *ret_http_status) {
        _cleanup_(buf_wipe_free) char *req = NULL;
        char reply[SMS_CHILD_REPLY_MAX];
        int sv[2], r;
        pid_t pid;

        if (ret_http_status)
                *ret_http_status = 0;
        if (!g || !to_e164 || !message || !ehr_sms_mode_to_string(g->mode))
                return -EINVAL;
        req = calloc(1, SMS_CHILD_REQUEST_MAX);
        if (!req)
                return -ENOMEM;
        ssize_t n = request_encode(g, to_e164, message, req);
        if (n < 0)
                return (int) n;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        r = spawn_child(sender, sv[1], &pid);
        (void) close(sv[1]);
        if (r < 0) {
                (void) close(sv[0]);
                return r == -ENOMEM ? r : -ECHILD; /* not there, not executable: the sender cannot run */
        }
        uint64_t limit_ms = (g->timeout_ms ?: EHR_SMS_TIMEOUT_MS_DEFAULT) + SMS_CHILD_START_MS;
        r = write_all(sv[0], req, (size_t) n);
        if (r >= 0 && shutdown(sv[0], SHUT_WR) < 0)
                r = negative_errno();
        ssize_t k = r < 0 ? r
                          : read_until(sv[0], reply, sizeof reply - 1, true, ehr_monotonic_usec() + limit_ms * 1000U);
        (void) close(sv[0]);
        reap(pid, k < 0);
        if (k < 0)
                return k == -EPIPE || k == -ECONNRESET ? -ECHILD : (int) k;
        reply[k] = 0;
        long status = 0;
        r = reply_parse(reply, &status);
        if (r == -EBADMSG)
                return -ECHILD; /* it died (or could not start) before it answered */
        if (ret_http_status)
                *ret_http_status = status;
        return r;
}

/* --- the child's side --- */

static int request_decode(char *buf, size_t n, const char *f[_F_MAX]) {
        size_t i = 0;
        for (char *p = buf; p < buf + n && i < _F_MAX; i++) {
                f[i] = p;
                char *z = memchr(p, 0, (size_t) (buf + n - p));
                if (!z)
                        return -EBADMSG;
                p = z + 1;
        }
        return i == _F_MAX && f[_F_MAX - 1] + strlen(f[_F_MAX - 1]) + 1 == buf + n ? 0 : -EBADMSG;
}

int ehr_sms_child_serve(int in_fd, int out_fd) {
        _cleanup_(buf_wipe_free) char *req = calloc(1, SMS_CHILD_REQUEST_MAX);
        const char *f[_F_MAX];
        struct ehr_sms_gateway g = {};
        long status = 0;
        int r;

        if (!req)
                return -ENOMEM;
        /* The parent writes the whole request at once and then shuts its side. */
        ssize_t n = read_until(in_fd, req, SMS_CHILD_REQUEST_MAX, false,
                               ehr_monotonic_usec() + SMS_CHILD_START_MS * 1000U);
        if (n < 0)
                return (int) n;
        r = request_decode(req, (size_t) n, f);
        if (r >= 0)
                r = ehr_sms_mode_from_string(f[F_MODE], &g.mode);
        if (r >= 0)
                r = ehr_parse_uint(f[F_CONNECT_MS], 0, EHR_SMS_TIMEOUT_MS_MAX, &g.connect_timeout_ms);
        if (r >= 0)
                r = ehr_parse_uint(f[F_TIMEOUT_MS], 0, EHR_SMS_TIMEOUT_MS_MAX, &g.timeout_ms);
        if (r >= 0) {
                g.url = f[F_URL], g.token = f[F_TOKEN], g.from = f[F_FROM], g.proxy = f[F_PROXY];
                g.ca_file = f[F_CA_FILE];
                r = ehr_sms_send(&g, f[F_TO], f[F_MESSAGE], &status);
        } else
                r = -EINVAL;
        char reply[SMS_CHILD_REPLY_MAX];
        int len = snprintf(reply, sizeof reply, "%d %ld\n", r, status);
        return write_all(out_fd, reply, (size_t) len) < 0 ? -EIO : 0;
}
