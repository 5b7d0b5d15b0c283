/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A request to a helper program in a child process: see child.h for why. */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

#define CHILD_REPLY_MAX 64U

/* The child's whole environment: nothing of the caller's. */
static char *const child_env[] = { (char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *) "LC_ALL=C", NULL };

static void buf_wipe_free(char **p) {
        if (*p) {
                explicit_bzero(*p, EHR_CHILD_REQUEST_MAX);
                free(*p);
        }
}

/* The fields into buf (EHR_CHILD_REQUEST_MAX bytes). Returns its length or -E2BIG. */
static ssize_t request_encode(const char *const *f, size_t nf, char *buf) {
        size_t n = 0;
        for (size_t i = 0; i < nf; i++) {
                size_t k = strlen(f[i] ?: "");
                if (k + 1 > EHR_CHILD_REQUEST_MAX - n)
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
static int spawn_child(const char *program, const char *argv0, int fd, pid_t *ret_pid) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        sigset_t none, all;
        char *const argv[] = { (char *) argv0, NULL };
        int r;

        if (!program || program[0] != '/')
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
                r = posix_spawn(ret_pid, program, &fa, &at, argv, child_env);
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

int ehr_child_call(const char *program, const char *argv0, const char *const *f, size_t nf, uint64_t limit_ms,
                   long *ret_status) {
        _cleanup_(buf_wipe_free) char *req = NULL;
        char reply[CHILD_REPLY_MAX];
        int sv[2], r;
        pid_t pid;

        *ret_status = 0;
        req = calloc(1, EHR_CHILD_REQUEST_MAX);
        if (!req)
                return -ENOMEM;
        ssize_t n = request_encode(f, nf, req);
        if (n < 0)
                return (int) n;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        r = spawn_child(program, argv0, sv[1], &pid);
        (void) close(sv[1]);
        if (r < 0) {
                (void) close(sv[0]);
                return r == -ENOMEM ? r : -ECHILD; /* not absolute, not there, not executable */
        }
        r = write_all(sv[0], req, (size_t) n);
        if (r >= 0 && shutdown(sv[0], SHUT_WR) < 0)
                r = negative_errno();
        uint64_t deadline = ehr_monotonic_usec() + (limit_ms + EHR_CHILD_START_MS) * 1000U;
        ssize_t k = r < 0 ? r : read_until(sv[0], reply, sizeof reply - 1, true, deadline);
        (void) close(sv[0]);
        reap(pid, k < 0);
        if (k < 0)
                return k == -EPIPE || k == -ECONNRESET ? -ECHILD : (int) k;
        reply[k] = 0;
        long status = 0;
        r = reply_parse(reply, &status);
        if (r == -EBADMSG)
                return -ECHILD; /* it died (or could not start) before it answered */
        *ret_status = status;
        return r;
}

/* --- the child's side --- */

static int request_decode(char *buf, size_t n, const char **f, size_t nf) {
        size_t i = 0;
        for (char *p = buf; p < buf + n && i < nf; i++) {
                f[i] = p;
                char *z = memchr(p, 0, (size_t) (buf + n - p));
                if (!z)
                        return -EBADMSG;
                p = z + 1;
        }
        return nf > 0 && i == nf && f[nf - 1] + strlen(f[nf - 1]) + 1 == buf + n ? 0 : -EBADMSG;
}

int ehr_child_serve(int in_fd, int out_fd, size_t nf,
                    int (*work)(const char *const *fields, void *userdata, long *ret_status), void *userdata) {
        _cleanup_(buf_wipe_free) char *req = calloc(1, EHR_CHILD_REQUEST_MAX);
        _cleanup_free_ const char **f = calloc(nf ?: 1, sizeof *f);
        long status = 0;
        int r;

        if (!req || !f)
                return -ENOMEM;
        /* The parent writes the whole request at once and then shuts its side. */
        ssize_t n = read_until(in_fd, req, EHR_CHILD_REQUEST_MAX, false,
                               ehr_monotonic_usec() + EHR_CHILD_START_MS * 1000U);
        if (n < 0)
                return (int) n;
        r = request_decode(req, (size_t) n, f, nf);
        r = r < 0 ? -EINVAL : work(f, userdata, &status);
        char reply[CHILD_REPLY_MAX];
        int len = snprintf(reply, sizeof reply, "%d %ld\n", r, status < 0 || status > 999 ? 0 : status);
        return write_all(out_fd, reply, (size_t) len) < 0 ? -EIO : 0;
}

int ehr_child_start(void) {
        struct rlimit rl = { 0, 0 };
        (void) setrlimit(RLIMIT_CORE, &rl);
        (void) prctl(PR_SET_DUMPABLE, 0);
        (void) close_range(3, ~0U, 0);
        return chdir("/") < 0 ? negative_errno() : 0;
}
