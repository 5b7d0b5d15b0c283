/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ehr2fad: keeps the store open and answers pam_ehr2fa.so's store operations over
 * a root-only Unix socket, so that a login costs no SQLite open. Optional: with
 * no daemon the module opens the store itself, exactly as before.
 *
 *   ehr2fad [--conf FILE] [--socket PATH] [--debug]
 *
 * One request per connection, answered in order (each is a few store
 * statements; a client that does not send within a second is dropped). Only
 * clients running as our own uid are served (SO_PEERCRED). SIGTERM or SIGINT
 * stop it and remove the socket. */

#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "authd.h"
#include "config.h"
#include "crypto.h"
#include "errors.h"
#include "util.h"
#include "wire.h"

#define CLIENT_TIMEOUT_MS 1000

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        stop = sig;
}

static void usage(FILE *f) {
        fputs("Usage: ehr2fad [--conf FILE] [--socket PATH] [--debug]\n"
              "Keep the ehr2fa store open and serve pam_ehr2fa.so on a root-only socket\n"
              "(default: daemon_socket in ehr2fa.conf, " EHR_DAEMON_SOCKET_DEFAULT ").\n",
              f);
}

static int listen_on(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path) {
                fprintf(stderr, "ehr2fad: socket path too long: %s\n", path);
                return -ENAMETOOLONG;
        }
        strcpy(sa.sun_path, path);

        /* The directory: created 0700 when missing; an existing one must be ours and not writable by others. */
        _cleanup_free_ char *dir_copy = strdup(path);
        if (!dir_copy)
                return -ENOMEM;
        const char *dir = dirname(dir_copy);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                int r = negative_errno();
                fprintf(stderr, "ehr2fad: cannot create %s: %s\n", dir, ehr_strerror(r));
                return r;
        }
        _cleanup_close_ int dfd = ehr_open_dir_checked(dir, geteuid(), false);
        if (dfd < 0) {
                char msg[256];
                fprintf(stderr, "ehr2fad: %s\n", ehr_open_error(dfd, dir, false, msg, sizeof msg));
                return dfd;
        }
        struct stat st;

        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        /* A socket left by a daemon that died is replaced; a live one is not taken over. */
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode)) {
                        fprintf(stderr, "ehr2fad: %s exists and is not a socket\n", path);
                        close(fd);
                        return -EEXIST;
                }
                int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
                bool live = probe >= 0 && connect(probe, (struct sockaddr *) &sa, sizeof sa) == 0;
                if (probe >= 0)
                        close(probe);
                if (live) {
                        fprintf(stderr, "ehr2fad: another ehr2fad is already serving %s\n", path);
                        close(fd);
                        return -EADDRINUSE;
                }
                (void) unlink(path);
        }
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof sa);
        umask(old);
        if (r < 0 || listen(fd, 128) < 0) {
                r = negative_errno();
                fprintf(stderr, "ehr2fad: cannot listen on %s: %s\n", path, ehr_strerror(r));
                close(fd);
                return r;
        }
        return fd;
}

/* One connection: read the request, answer it, close. */
static void serve(struct ehr_authd *d, int lfd, bool debug) {
        _cleanup_close_ int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return;
        struct ucred cred = { .pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        socklen_t cl = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != geteuid()) {
                fprintf(stderr, "ehr2fad: refused a client running as uid %u (pid %d)\n", (unsigned) cred.uid,
                        (int) cred.pid);
                return;
        }

        _cleanup_(ehr_wire_freep) struct ehr_wire *req = ehr_wire_new();
        _cleanup_(ehr_wire_freep) struct ehr_wire *reply = ehr_wire_new();
        if (!req || !reply)
                return;
        /* The module sends right after connecting: usually the request is already
         * there. Otherwise wait for it, but never long: others are queued behind. */
        ssize_t n = recv(fd, req->data, sizeof req->data, MSG_TRUNC);
        if (n < 0 && errno == EAGAIN) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                if (poll(&pfd, 1, CLIENT_TIMEOUT_MS) > 0)
                        n = recv(fd, req->data, sizeof req->data, MSG_TRUNC);
        }
        if (n <= 0)
                return; /* gone, or silent past the timeout */
        uint64_t t0 = ehr_monotonic_usec();
        char summary[160];
        req->len = (size_t) n;
        if ((size_t) n > sizeof req->data || ehr_wire_parse(req) < 0) {
                snprintf(summary, sizeof summary, "malformed request (%zd bytes)", n);
                (void) ehr_wire_addi(reply, "r", -EBADMSG);
        } else
                (void) ehr_authd_handle(d, req, reply, summary, sizeof summary);
        uint64_t t1 = ehr_monotonic_usec();
        if (send(fd, reply->data, reply->len, MSG_NOSIGNAL) < 0)
                fprintf(stderr, "ehr2fad: cannot answer pid %d: %s\n", (int) cred.pid, ehr_strerror(negative_errno()));
        if (debug)
                fprintf(stderr, "ehr2fad: pid %d %s (%llu us)\n", (int) cred.pid, summary,
                        (unsigned long long) (t1 - t0));
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "conf", required_argument, NULL, 'c' }, { "socket", required_argument, NULL, 's' },
                { "debug", no_argument, NULL, 'd' },      { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *conf = NULL, *sock = NULL;
        bool debug = false;
        int c;
        while ((c = getopt_long(argc, argv, "c:s:dh", opts, NULL)) >= 0)
                switch (c) {
                case 'c':
                        conf = optarg;
                        break;
                case 's':
                        sock = optarg;
                        break;
                case 'd':
                        debug = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (optind != argc) {
                usage(stderr);
                return 2;
        }

        /* The master key lives in this process for its whole life: no core dumps, no ptrace by others. */
        struct rlimit rl = { 0, 0 };
        (void) setrlimit(RLIMIT_CORE, &rl);
        (void) prctl(PR_SET_DUMPABLE, 0);
        umask(0077);
        setvbuf(stderr, NULL, _IOLBF, 0);
        if (sodium_init() < 0) {
                fputs("ehr2fad: libsodium failed to initialise\n", stderr);
                return 1;
        }

        ehr_secret_cache(true);

        _cleanup_(ehr_config_done) struct ehr_config cfg;
        char err[EHR_CONFIG_ERR_MAX];
        ehr_config_init(&cfg);
        if (ehr_config_load(&cfg, conf ?: EHR_CONFIG_DEFAULT_PATH, !conf, err, sizeof err) < 0) {
                fprintf(stderr, "ehr2fad: %s\n", err);
                return 1;
        }
        if (!sock)
                sock = ehr_daemon_socket(&cfg);
        if (!sock) {
                fputs("ehr2fad: daemon_socket = none in the config: nothing to serve\n", stderr);
                return 1;
        }

        _cleanup_(ehr_authd_freep) struct ehr_authd *d = NULL;
        if (ehr_authd_new(cfg.store_dir ?: EHR_STORE_DEFAULT_DIR, cfg.store_timeout_ms, &d) < 0)
                return 1;
        /* Refuse to start on a store that cannot be opened: say why now, not at the first login. */
        if (ehr_authd_open(d, err, sizeof err) < 0) {
                fprintf(stderr, "ehr2fad: %s\n", err);
                return 1;
        }

        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) signal(SIGPIPE, SIG_IGN);

        int lfd = listen_on(sock);
        if (lfd < 0)
                return 1;
        fprintf(stderr, "ehr2fad: serving %s on %s\n", cfg.store_dir ?: EHR_STORE_DEFAULT_DIR, sock);

        while (!stop) {
                struct pollfd pfd = { .fd = lfd, .events = POLLIN };
                int pr = poll(&pfd, 1, -1);
                if (pr < 0 && errno != EINTR) {
                        fprintf(stderr, "ehr2fad: poll: %s\n", ehr_strerror(negative_errno()));
                        break;
                }
                if (pr > 0)
                        serve(d, lfd, debug);
        }
        (void) unlink(sock);
        close(lfd);
        d = ehr_authd_free(d);
        ehr_secret_cache(false);
        if (stop)
                fprintf(stderr, "ehr2fad: stopped by signal %d\n", (int) stop);
        return stop ? 0 : 1;
}
