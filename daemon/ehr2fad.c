/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ehr2fad: keeps the store open and answers pam_ehr2fa.so's store operations over
 * a root-only Unix socket, so that a login costs no SQLite open. Optional: with
 * no daemon the module opens the store itself, exactly as before.
 *
 *   ehr2fad [--conf FILE] [--socket PATH] [--max-clients N] [--debug]
 *
 * A login keeps one connection for all its requests (begin before the prompt,
 * verify after it, then trust or audit): a connection and its teardown cost more
 * than a request. Requests are answered one at a time, each readable connection
 * in turn, from one poll() over every connection, so a login waiting at its
 * prompt holds nothing but its connection. At most --max-clients connections are kept: past
 * that, and after CLIENT_IDLE_MS without a request, the least recently used one
 * is closed, and its module reconnects for its next request. Only clients
 * running as our own uid are served (SO_PEERCRED). SIGTERM or SIGINT stop it and
 * remove the socket. Started by systemd's socket activation (ehr2fad.socket), it
 * serves the socket systemd passes and leaves it in place. */

#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
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

/* A connection with no request for this long is closed: a login waits at its
 * prompt for minutes at most (sshd's LoginGraceTime is 2). */
#define CLIENT_IDLE_MS (10U * 60U * 1000U)
#define CLIENTS_DEFAULT 256U
#define CLIENTS_LIMIT 4096U

struct client {
        int fd;
        pid_t pid;
        uint64_t last_ms; /* connected, or last request */
        struct ehr_authd_conn *conn;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        stop = sig;
}

static void usage(FILE *f) {
        fputs("Usage: ehr2fad [--conf FILE] [--socket PATH] [--max-clients N] [--debug]\n"
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

static void client_close(struct client *c, size_t *n, size_t i) {
        close(c[i].fd);
        ehr_authd_conn_free(c[i].conn);
        c[i] = c[--*n];
}

/* systemd's socket activation (sd_listen_fds(3)): one listening SOCK_SEQPACKET
 * Unix socket as descriptor 3. Returns it, -ENOENT when none was passed to this
 * process, or another negative errno after saying what is wrong. */
static int activated_socket(char *path, size_t len) {
        const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
        uint64_t p, n;
        if (!pid || !fds || ehr_parse_uint(pid, 1, INT32_MAX, &p) < 0 || (pid_t) p != getpid())
                return -ENOENT; /* not for us */
        (void) unsetenv("LISTEN_PID");
        (void) unsetenv("LISTEN_FDS");
        (void) unsetenv("LISTEN_FDNAMES");
        if (ehr_parse_uint(fds, 0, INT32_MAX, &n) < 0 || n != 1) {
                fprintf(stderr, "ehr2fad: systemd passed %s sockets; one is served (ListenSequentialPacket=)\n", fds);
                return -EINVAL;
        }
        const int fd = 3;
        int type = 0, listening = 0;
        socklen_t l = sizeof type, ll = sizeof listening;
        struct sockaddr_un sa = {};
        socklen_t sl = sizeof sa;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_SEQPACKET ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) < 0 || !listening ||
            getsockname(fd, (struct sockaddr *) &sa, &sl) < 0 || sa.sun_family != AF_UNIX) {
                fputs("ehr2fad: the socket systemd passed is not a listening Unix SOCK_SEQPACKET socket "
                      "(ListenSequentialPacket=)\n",
                      stderr);
                return -EINVAL;
        }
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
                return negative_errno();
        size_t pl = sl > offsetof(struct sockaddr_un, sun_path) ? sl - offsetof(struct sockaddr_un, sun_path) : 0;
        snprintf(path, len, "%.*s", (int) strnlen(sa.sun_path, pl), sa.sun_path);
        return fd;
}

/* Take every connection waiting on the listening socket. Past max, the least
 * recently used connection makes room (its module reconnects when it needs to). */
static void client_close_lru(struct client *c, size_t *n) {
        size_t lru = 0;
        for (size_t i = 1; i < *n; i++)
                if (c[i].last_ms < c[lru].last_ms)
                        lru = i;
        client_close(c, n, lru);
}

static void accept_all(int lfd, struct client *c, size_t *n, size_t max) {
        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
                        continue; /* a client gone before we took it */
                if (fd < 0 && (errno == EMFILE || errno == ENFILE) && *n > 0) {
                        /* Out of descriptors: room is made as for max, or poll() would spin. */
                        client_close_lru(c, n);
                        continue;
                }
                if (fd < 0)
                        return; /* EAGAIN: none left */
                struct ucred cred = { .pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1 };
                socklen_t cl = sizeof cred;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != geteuid()) {
                        fprintf(stderr, "ehr2fad: refused a client running as uid %u (pid %d)\n", (unsigned) cred.uid,
                                (int) cred.pid);
                        close(fd);
                        continue;
                }
                struct ehr_authd_conn *conn = ehr_authd_conn_new();
                if (!conn) {
                        close(fd);
                        return;
                }
                if (*n == max)
                        client_close_lru(c, n);
                c[(*n)++] = (struct client) { .fd = fd, .pid = cred.pid, .last_ms = ehr_monotonic_msec(), .conn = conn };
        }
}

/* A client's socket is readable: answer its request. Returns false when the
 * connection is over (closed by the client, or broken). */
static bool serve(struct ehr_authd *d, struct client *c, bool debug) {
        _cleanup_(ehr_wire_freep) struct ehr_wire *req = ehr_wire_new();
        _cleanup_(ehr_wire_freep) struct ehr_wire *reply = ehr_wire_new();
        if (!req || !reply)
                return false;
        ssize_t n = recv(c->fd, req->data, sizeof req->data, MSG_TRUNC | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return true;
        if (n <= 0)
                return false; /* gone: a login ends by closing its connection */
        c->last_ms = ehr_monotonic_msec();
        uint64_t t0 = ehr_monotonic_usec();
        char summary[160], notice[EHR_CONFIG_ERR_MAX + 64] = "";
        req->len = (size_t) n;
        if ((size_t) n > sizeof req->data || ehr_wire_parse(req) < 0) {
                snprintf(summary, sizeof summary, "malformed request (%zd bytes)", n);
                (void) ehr_wire_addi(reply, "r", -ENOMSG);
        } else
                (void) ehr_authd_handle(d, c->conn, req, reply, summary, sizeof summary, notice, sizeof notice);
        uint64_t t1 = ehr_monotonic_usec();
        if (notice[0])
                fprintf(stderr, "ehr2fad: %s\n", notice);
        /* The line before the answer: whoever reads the log once answered finds it there. */
        if (debug)
                fprintf(stderr, "ehr2fad: pid %d %s (%llu us)\n", (int) c->pid, summary,
                        (unsigned long long) (t1 - t0));
        bool ok = send(c->fd, reply->data, reply->len, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0;
        if (!ok)
                /* The kernel's errno, in its own words: ehr_strerror(-EAGAIN) is "locked out" (core/errors.h). */
                fprintf(stderr, "ehr2fad: cannot answer pid %d: %s\n", (int) c->pid, strerror(errno));
        return ok;
}

struct options {
        const char *conf, *sock;
        bool debug;
        uint64_t max_clients;
};

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o) {
        static const struct option opts[] = {
                { "conf", required_argument, NULL, 'c' },        { "socket", required_argument, NULL, 's' },
                { "max-clients", required_argument, NULL, 'm' }, { "debug", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },              {},
        };
        int c;
        *o = (struct options) { .max_clients = CLIENTS_DEFAULT };
        while ((c = getopt_long(argc, argv, "c:s:m:dh", opts, NULL)) >= 0)
                switch (c) {
                case 'c':
                        o->conf = optarg;
                        break;
                case 's':
                        o->sock = optarg;
                        break;
                case 'm':
                        if (ehr_parse_uint(optarg, 1, CLIENTS_LIMIT, &o->max_clients) < 0) {
                                fprintf(stderr, "ehr2fad: --max-clients: a number from 1 to %u\n", CLIENTS_LIMIT);
                                return 2;
                        }
                        break;
                case 'd':
                        o->debug = true;
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
        return -1;
}

/* Every connection is a descriptor: raise the soft limit as far as allowed, and
 * keep some for the store, the log and the listening socket. Returns how many
 * connections fit. */
static uint64_t fit_clients(uint64_t max_clients) {
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
                return max_clients;
        if (nofile.rlim_cur < nofile.rlim_max) {
                nofile.rlim_cur = nofile.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &nofile);
                (void) getrlimit(RLIMIT_NOFILE, &nofile);
        }
        if (nofile.rlim_cur != RLIM_INFINITY && nofile.rlim_cur < max_clients + 64) {
                uint64_t fit = nofile.rlim_cur > 64 + 1 ? nofile.rlim_cur - 64 : 1;
                fprintf(stderr, "ehr2fad: %llu open files allowed: keeping at most %llu connections\n",
                        (unsigned long long) nofile.rlim_cur, (unsigned long long) fit);
                return fit;
        }
        return max_clients;
}

/* The last login connected has gone: the store's upkeep now (a WAL checkpoint),
 * where no login waits for it, rather than inside the commit of the next one. */
static void upkeep(struct ehr_authd *d, bool debug) {
        uint64_t t0 = ehr_monotonic_usec();
        int r = ehr_authd_idle(d);
        if (r < 0)
                fprintf(stderr, "ehr2fad: store upkeep between logins failed (left for later): %s\n", ehr_strerror(r));
        else if (r > 0 && debug)
                fprintf(stderr, "ehr2fad: store upkeep between logins (%llu us)\n",
                        (unsigned long long) (ehr_monotonic_usec() - t0));
}

/* Serve until a signal. Returns false when it had to stop on an error. */
static bool serve_all(struct ehr_authd *d, int lfd, size_t max_clients, bool debug) {
        _cleanup_free_ struct client *clients = calloc(max_clients, sizeof *clients);
        _cleanup_free_ struct pollfd *pfd = calloc(max_clients + 1, sizeof *pfd);
        size_t n = 0;
        bool ok = clients && pfd;
        if (!ok)
                fputs("ehr2fad: out of memory\n", stderr);
        while (ok && !stop) {
                /* Idle connections go; the next wake-up is when the oldest would. */
                uint64_t now = ehr_monotonic_msec(), next = UINT64_MAX;
                for (size_t i = 0; i < n;)
                        if (now - clients[i].last_ms >= CLIENT_IDLE_MS)
                                client_close(clients, &n, i);
                        else {
                                if (clients[i].last_ms + CLIENT_IDLE_MS < next)
                                        next = clients[i].last_ms + CLIENT_IDLE_MS;
                                i++;
                        }
                pfd[0] = (struct pollfd) { .fd = lfd, .events = POLLIN };
                for (size_t i = 0; i < n; i++)
                        pfd[i + 1] = (struct pollfd) { .fd = clients[i].fd, .events = POLLIN };
                int pr = poll(pfd, n + 1, next == UINT64_MAX ? -1 : (int) (next - now));
                if (pr < 0 && errno != EINTR) {
                        fprintf(stderr, "ehr2fad: poll: %s\n", ehr_strerror(negative_errno()));
                        ok = false;
                }
                if (pr <= 0)
                        continue;
                /* Requests first, one per readable connection, then new connections. The
                 * table is walked backwards: a closed client's slot then takes one that
                 * was already looked at. */
                size_t polled = n;
                for (size_t i = polled; i-- > 0;)
                        if (pfd[i + 1].revents && !serve(d, &clients[i], debug))
                                client_close(clients, &n, i);
                if (pfd[0].revents & POLLIN)
                        accept_all(lfd, clients, &n, max_clients);
                if (polled > 0 && n == 0)
                        upkeep(d, debug);
        }
        while (clients && n > 0)
                client_close(clients, &n, n - 1);
        return ok;
}

/* The master key lives in this process for its whole life: no core dumps, no ptrace by others. */
static int harden(void) {
        struct rlimit rl = { 0, 0 };
        (void) setrlimit(RLIMIT_CORE, &rl);
        (void) prctl(PR_SET_DUMPABLE, 0);
        umask(0077);
        setvbuf(stderr, NULL, _IOLBF, 0);
        if (sodium_init() < 0) {
                fputs("ehr2fad: libsodium failed to initialise\n", stderr);
                return -EIO;
        }
        ehr_secret_cache(true);
        return 0;
}

int main(int argc, char **argv) {
        struct options o;
        int r = parse_args(argc, argv, &o);
        if (r >= 0)
                return r;
        if (harden() < 0)
                return 1;

        /* Taken first: nothing else may be given descriptor 3 before we know what it is. */
        char activated[sizeof ((struct sockaddr_un *) NULL)->sun_path + 1] = "";
        int lfd = activated_socket(activated, sizeof activated);
        if (lfd < 0 && lfd != -ENOENT)
                return 1;

        _cleanup_(ehr_config_done) struct ehr_config cfg;
        char err[EHR_CONFIG_ERR_MAX];
        ehr_config_init(&cfg);
        if (ehr_config_load(&cfg, o.conf ?: EHR_CONFIG_DEFAULT_PATH, !o.conf, err, sizeof err) < 0) {
                fprintf(stderr, "ehr2fad: %s\n", err);
                return 1;
        }
        const char *sock = o.sock ?: ehr_daemon_socket(&cfg);
        if (lfd >= 0 && (!sock || !streq(sock, activated)))
                fprintf(stderr, "ehr2fad: systemd passed the socket %s, but the module asks %s (daemon_socket): "
                        "logins will not reach this daemon\n",
                        activated, sock ?: "none");
        if (lfd < 0 && !sock) {
                fputs("ehr2fad: daemon_socket = none in the config: nothing to serve\n", stderr);
                return 1;
        }

        _cleanup_(ehr_authd_freep) struct ehr_authd *d = NULL;
        if (ehr_authd_new(&cfg, &d) < 0)
                return 1;
        /* Refuse to start on a store that cannot be opened: say why now, not at the first login.
         * A central store's server that does not answer yet is not a reason: it is
         * asked again (with a backoff) as logins come. */
        r = ehr_authd_open(d, err, sizeof err);
        if (r != 0)
                fprintf(stderr, "ehr2fad: %s%s\n", err, r == -ENOMEDIUM && cfg.store ? "; will connect when it answers" : "");
        if (r < 0 && !(r == -ENOMEDIUM && cfg.store))
                return 1;

        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) signal(SIGPIPE, SIG_IGN);

        size_t max_clients = (size_t) fit_clients(o.max_clients);
        bool own_socket = lfd < 0;
        if (own_socket) {
                lfd = listen_on(sock);
                if (lfd < 0)
                        return 1;
        }
        fprintf(stderr, "ehr2fad: serving %s on %s%s\n", ehr_authd_location(d),
                own_socket ? sock : activated, own_socket ? "" : " (from systemd)");
        if (!serve_all(d, lfd, max_clients, o.debug))
                stop = -1;
        if (own_socket)
                (void) unlink(sock); /* systemd's socket stays, for the next login to start us again */
        close(lfd);
        d = ehr_authd_free(d);
        ehr_secret_cache(false);
        if (stop > 0)
                fprintf(stderr, "ehr2fad: stopped by signal %d\n", (int) stop);
        return stop > 0 ? 0 : 1;
}
