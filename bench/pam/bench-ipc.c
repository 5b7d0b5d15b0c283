/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The floor under every login that ehr2fad answers: one request and its reply
 * between two processes over a Unix SOCK_SEQPACKET socket, with the same calls
 * and about the same sizes as the module and the daemon (client: send, poll,
 * recv; server: poll, recv, send), and nothing else: no config, no PAM, no store.
 *
 * Measured three ways, because the cost is mostly the wake-up of the process
 * that waits: the two pinned to different CPUs (what a login on a 2-CPU machine
 * mostly gets), both pinned to one CPU, and left to the scheduler; and with the
 * client busy for 200 us before each request (a login's own work between its
 * requests), so that the daemon's CPU has gone idle when the request comes, as
 * in a real login, and has to be woken; and for 3 ms, about what the daemon has
 * idled when bench-pam's turn comes back to it (a login's first request). A new
 * connection per login (connect + SO_PEERCRED + the first round trip, as a PAM
 * module in a fresh sshd child makes) is measured as its own row.
 *
 *   bench-ipc [--rounds N] [--request BYTES] [--reply BYTES] */

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

static void pin(int cpu) {
        if (cpu < 0)
                return;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0) {
                perror("sched_setaffinity");
                exit(1);
        }
}

static bool wait_in(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        for (;;) {
                int r = poll(&p, 1, 5000);
                if (r > 0)
                        return !(p.revents & (POLLHUP | POLLERR)) || (p.revents & POLLIN);
                if (r == 0 || errno != EINTR)
                        return false;
        }
}

/* The daemon's side: answer each request with a reply of reply_len bytes until the peer goes. */
static void serve(int fd, size_t reply_len) {
        char in[8192], out[8192];
        memset(out, 'r', reply_len);
        while (wait_in(fd)) {
                ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
                if (n <= 0 || send(fd, out, reply_len, MSG_NOSIGNAL) != (ssize_t) reply_len)
                        return;
        }
}

/* Keep this CPU busy for us microseconds, as a login's own work does between two
 * requests: meanwhile the peer has nothing to do and its CPU goes idle. */
static void busy(double us) {
        double until = bench_now_us() + us;
        while (bench_now_us() < until)
                ;
}

static bool round_trip(int fd, const char *req, size_t req_len) {
        char in[8192];
        if (send(fd, req, req_len, MSG_NOSIGNAL) != (ssize_t) req_len || !wait_in(fd))
                return false;
        return recv(fd, in, sizeof in, MSG_DONTWAIT) > 0;
}

/* rounds round trips on one connection; the server pinned to server_cpu, us to client_cpu. */
static int pair(int client_cpu, int server_cpu, double gap_us, unsigned rounds, size_t req_len, size_t reply_len,
                double *us) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                close(sv[0]);
                pin(server_cpu);
                serve(sv[1], reply_len);
                _exit(0);
        }
        close(sv[1]);
        cpu_set_t saved;
        sched_getaffinity(0, sizeof saved, &saved);
        pin(client_cpu);
        char req[8192];
        memset(req, 'q', req_len);
        int r = 0;
        for (unsigned i = 0; i < 20 && r == 0; i++) /* warm up */
                r = round_trip(sv[0], req, req_len) ? 0 : -EIO;
        for (unsigned i = 0; i < rounds && r == 0; i++) {
                busy(gap_us);
                double t0 = bench_now_us();
                r = round_trip(sv[0], req, req_len) ? 0 : -EIO;
                us[i] = bench_now_us() - t0;
        }
        close(sv[0]);
        waitpid(pid, NULL, 0);
        sched_setaffinity(0, sizeof saved, &saved);
        return r;
}

/* A listening socket in a child that accepts and serves each connection in turn;
 * each round connects, checks the peer's uid as ehr_wire_connect() does, and
 * makes one round trip. */
static int fresh(unsigned rounds, size_t req_len, size_t reply_len, double *us) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "/tmp/bench-ipc.%d.sock", (int) getpid());
        int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        unlink(sa.sun_path);
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(lfd, 64) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                for (;;) {
                        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                        if (fd < 0)
                                _exit(0);
                        serve(fd, reply_len);
                        close(fd);
                }
        }
        close(lfd);
        char req[8192];
        memset(req, 'q', req_len);
        int r = 0;
        for (unsigned i = 0; i < rounds + 20 && r == 0; i++) {
                double t0 = bench_now_us();
                int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                struct ucred cred;
                socklen_t cl = sizeof cred;
                if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
                    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || !round_trip(fd, req, req_len))
                        r = -EIO;
                if (i >= 20)
                        us[i - 20] = bench_now_us() - t0;
                if (fd >= 0)
                        close(fd);
        }
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        unlink(sa.sun_path);
        return r;
}

static void row(const char *name, const char *rtt, double *us, unsigned n) {
        qsort(us, n, sizeof *us, bench_cmp_double);
        printf("%-34s %-14s %6u %9.0f %8.0f %8.0f\n", name, rtt, n, us[n / 2], us[n / 10], us[n * 9 / 10]);
}

int main(int argc, char **argv) {
        unsigned rounds = 2000;
        size_t req_len = 700, reply_len = 200; /* a verify request with the config; its reply */
        static const struct option opts[] = {
                { "rounds", required_argument, NULL, 'n' },
                { "request", required_argument, NULL, 'q' },
                { "reply", required_argument, NULL, 'r' },
                {},
        };
        for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
                switch (c) {
                case 'n': rounds = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'q': req_len = strtoul(optarg, NULL, 10); break;
                case 'r': reply_len = strtoul(optarg, NULL, 10); break;
                default:
                        fprintf(stderr, "usage: %s [--rounds N] [--request BYTES] [--reply BYTES]\n", argv[0]);
                        return 2;
                }
        }
        if (rounds == 0 || req_len == 0 || req_len > 8192 || reply_len == 0 || reply_len > 8192) {
                fprintf(stderr, "%s: rounds > 0, 0 < sizes <= 8192\n", argv[0]);
                return 2;
        }
        double *us = calloc(rounds, sizeof *us);
        if (!us)
                return 1;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        printf("one request (%zu bytes) and its reply (%zu bytes) between two processes, SOCK_SEQPACKET,\n"
               "send/poll/recv as pam_ehr2fa and ehr2fad make them, %u rounds (us):\n", req_len, reply_len, rounds);
        printf("%-34s %-14s %6s %9s %8s %8s\n", "placement", "per", "n", "median_us", "p10_us", "p90_us");
        struct {
                const char *name;
                int client, server;
                double gap_us;
        } ways[] = {
                { "two CPUs (pinned apart)", 0, 1, 0 },
                { "two CPUs, peer idle 200 us before", 0, 1, 200 },
                { "one CPU (both pinned to it)", 0, 0, 0 },
                { "the scheduler's choice", -1, -1, 0 },
                { "the scheduler's, peer idle 200 us", -1, -1, 200 },
                /* About what ehr2fad has idled when a check of bench-pam reaches it, after
                 * one check of each other module: its first wake-up in a login. */
                { "the scheduler's, peer idle 3 ms", -1, -1, 3000 },
        };
        for (size_t i = 0; i < sizeof ways / sizeof ways[0]; i++) {
                if (ncpu < 2 && ways[i].server == 1)
                        continue;
                int r = pair(ways[i].client, ways[i].server, ways[i].gap_us, rounds, req_len, reply_len, us);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", ways[i].name, strerror(-r));
                        return 1;
                }
                row(ways[i].name, "round trip", us, rounds);
        }
        int r = fresh(rounds, req_len, reply_len, us);
        if (r < 0) {
                fprintf(stderr, "new connection: %s\n", strerror(-r));
                return 1;
        }
        row("the scheduler's choice", "connect+trip", us, rounds);
        free(us);
        return 0;
}
