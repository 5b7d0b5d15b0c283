/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bench only: logins through real libpam and ehr2fad against one store, as the
 * hosts of a site make them, with each login's latency.
 *
 *   bench-hosts --ehr2fa SO --conf CONF --label L --first K
 *               (--procs 1,4,16,64 --logins M | --shift N --within S)
 *
 * CONF is a host's ehr2fa.conf (its store, its daemon_socket). Users are
 * BENCH_LOGIN_PREFIX K, K+1, ...: every login a user of its own with a good
 * code, so nothing is a replay and nobody locked (bench-login.h).
 *
 * --procs: for each P, P login processes (hosts) released together, M logins
 * in all split between them; a row gives logins/s over the wall time and the
 * p50 and p99 of the logins' own latencies (pam_start to pam_end).
 *
 * --shift: a shift change. N logins of distinct users arrive evenly within S
 * seconds, each a process of its own forked at its arrival time, as sshd or
 * login forks one per connection; its latency runs from its arrival to its
 * pam_end. Prints how many succeeded, how many were lost (refused, failed or
 * died), how many took over 1 s, and p50/p99/max.
 *
 * Latencies travel in a shared anonymous mapping, one slot per login. */

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-login.h"
#include "bench-util.h"

#define PROCS_MAX 64U
#define LOGINS_MAX 100000U
#define LATE_US 1e6

struct slot {
        double us;  /* latency; < 0 until the login ended */
        int result; /* its PAM result */
};

struct bench {
        const char *confdir, *label;
        unsigned long first;
        struct slot *slots;
};

static int write_service(const char *confdir, const char *so, const char *conf) {
        char path[4200];
        if (mkdir(confdir, 0700) < 0 && errno != EEXIST)
                return -errno;
        snprintf(path, sizeof path, "%s/bench-hosts", confdir);
        FILE *f = fopen(path, "we");
        if (!f)
                return -errno;
        fprintf(f, "auth required %s conf=%s\n", so, conf);
        return fclose(f) == 0 ? 0 : -EIO;
}

static void login_into(const struct bench *b, unsigned long i, double since_us) {
        int r = bench_login(b->confdir, "bench-hosts", b->first + i);
        b->slots[i] = (struct slot) { .us = bench_now_us() - since_us, .result = r };
}

/* The latencies of the logins that succeeded, sorted, in a new array of
 * *ret_ok; the others are lost. Late: over 1 s, or never ended. */
static double *collect(const struct slot *s, unsigned n, unsigned *ret_ok, unsigned *ret_late) {
        double *us = calloc(n ? n : 1, sizeof *us);
        unsigned ok = 0, late = 0;
        if (!us)
                return NULL;
        for (unsigned i = 0; i < n; i++) {
                late += s[i].us < 0 || s[i].us > LATE_US;
                if (s[i].us >= 0 && s[i].result == PAM_SUCCESS)
                        us[ok++] = s[i].us;
        }
        qsort(us, ok, sizeof *us, bench_cmp_double);
        *ret_ok = ok, *ret_late = late;
        return us;
}

/* P processes released together, n logins split between them. */
static int row(struct bench *b, unsigned procs, unsigned n) {
        int gate[2];
        pid_t pid[PROCS_MAX];
        if (pipe(gate) < 0)
                return -errno;
        for (unsigned p = 0; p < procs; p++) {
                if ((pid[p] = fork()) < 0)
                        return -errno;
                if (pid[p] == 0) {
                        char c;
                        close(gate[1]);
                        while (read(gate[0], &c, 1) < 0 && errno == EINTR)
                                ;
                        for (unsigned i = p; i < n; i += procs)
                                login_into(b, i, bench_now_us());
                        _exit(0);
                }
        }
        close(gate[0]);
        double t0 = bench_now_us();
        close(gate[1]);
        for (unsigned p = 0; p < procs; p++)
                (void) waitpid(pid[p], NULL, 0);
        double wall = bench_now_us() - t0;
        unsigned ok, late;
        double *us = collect(b->slots, n, &ok, &late);
        if (!us)
                return -ENOMEM;
        printf("%-12s %6u %7u %9.0f %10.1f %9.2f %9.2f %7u\n", b->label, procs, n, wall / 1000, ok / (wall / 1e6),
               bench_quantile(us, ok, 0.5) / 1000, bench_quantile(us, ok, 0.99) / 1000, n - ok);
        fflush(stdout);
        free(us);
        return 0;
}

/* N logins arriving evenly within S seconds, one process each. */
static int shift(struct bench *b, unsigned n, double within_s) {
        for (unsigned i = 0; i < n; i++)
                b->slots[i].us = -1;
        double t0 = bench_now_us(), spacing = within_s * 1e6 / n;
        unsigned forked = 0, ended = 0;
        for (unsigned i = 0; i < n; i++) {
                double due = t0 + i * spacing, now;
                while ((now = bench_now_us()) < due) {
                        /* Reap what has ended while waiting for the next arrival. */
                        while (waitpid(-1, NULL, WNOHANG) > 0)
                                ended++;
                        useconds_t nap = (useconds_t) (due - now);
                        usleep(nap > 2000 ? 2000 : nap);
                }
                pid_t pid = fork();
                if (pid < 0)
                        break;
                if (pid == 0) {
                        login_into(b, i, due);
                        _exit(0);
                }
                forked++;
        }
        double arrivals = bench_now_us() - t0;
        while (ended < forked && waitpid(-1, NULL, 0) > 0)
                ended++;
        double wall = bench_now_us() - t0;
        unsigned ok, late;
        double *us = collect(b->slots, n, &ok, &late);
        if (!us)
                return -ENOMEM;
        printf("%-12s shift change: %u logins of distinct users arriving within %.1f s (last at %.1f s), all done "
               "in %.1f s: %u succeeded, %u lost, %u over 1 s; p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
               b->label, n, within_s, arrivals / 1e6, wall / 1e6, ok, n - ok, late,
               bench_quantile(us, ok, 0.5) / 1000, bench_quantile(us, ok, 0.99) / 1000,
               ok ? us[ok - 1] / 1000 : 0.0);
        fflush(stdout);
        free(us);
        return 0;
}

static int usage(void) {
        fprintf(stderr, "usage: bench-hosts --ehr2fa SO --conf CONF --label L --first K\n"
                        "                   (--procs 1,4,16,64 --logins M | --shift N --within S)\n");
        return 2;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "ehr2fa", required_argument, NULL, 'e' }, { "conf", required_argument, NULL, 'c' },
                { "label", required_argument, NULL, 'L' },  { "first", required_argument, NULL, 'f' },
                { "procs", required_argument, NULL, 'p' },  { "logins", required_argument, NULL, 'l' },
                { "shift", required_argument, NULL, 's' },  { "within", required_argument, NULL, 'w' },
                {},
        };
        const char *so = NULL, *conf = NULL, *procs = NULL;
        struct bench b = { .label = "ehr2fa" };
        unsigned long logins = 0, shift_n = 0;
        double within = 0;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'e': so = optarg; break;
                case 'c': conf = optarg; break;
                case 'L': b.label = optarg; break;
                case 'f': b.first = strtoul(optarg, NULL, 10); break;
                case 'p': procs = optarg; break;
                case 'l': logins = strtoul(optarg, NULL, 10); break;
                case 's': shift_n = strtoul(optarg, NULL, 10); break;
                case 'w': within = strtod(optarg, NULL); break;
                default: return usage();
                }
        bool rows = procs && logins > 0 && logins <= LOGINS_MAX, shifting = shift_n > 0 && shift_n <= LOGINS_MAX;
        if (!so || !conf || rows == shifting || (shifting && !(within > 0)))
                return usage();

        char confdir[4096];
        snprintf(confdir, sizeof confdir, "%s.pam.d", conf);
        b.confdir = confdir;
        if (write_service(confdir, so, conf) < 0) {
                fprintf(stderr, "bench-hosts: cannot write %s/bench-hosts: %m\n", confdir);
                return 1;
        }
        /* The module kept loaded, as bench-pam does (children inherit it). */
        if (!dlopen(so, RTLD_NOW | RTLD_GLOBAL)) {
                fprintf(stderr, "bench-hosts: %s\n", dlerror());
                return 1;
        }
        size_t n_slots = rows ? logins : shift_n;
        b.slots = mmap(NULL, n_slots * sizeof *b.slots, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (b.slots == MAP_FAILED)
                return 1;
        if (shifting)
                return shift(&b, (unsigned) shift_n, within) < 0;
        for (char *save = NULL, *t = strtok_r(strdup(procs), ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                unsigned long p = strtoul(t, NULL, 10);
                if (p == 0 || p > PROCS_MAX || p > logins)
                        return usage();
                for (size_t i = 0; i < n_slots; i++)
                        b.slots[i].us = -1;
                if (row(&b, (unsigned) p, (unsigned) logins) < 0)
                        return 1;
                b.first += logins;
        }
        return 0;
}
