/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bench only: logins per second through real libpam when many login processes
 * run at once, pam_ehr2fa in-process (every process opens the store; SQLite
 * takes one writer at a time) against pam_ehr2fa + ehr2fad (one daemon answers
 * one request at a time). bench-pam times one check at a time and shows
 * neither the store's write lock nor the daemon's queue.
 *
 *   bench-concurrent --dir DIR --size N --ehr2fa SO [--procs 1,2,4,8] [--logins M]
 *
 * DIR/N/ as run.sh makes it: ehr2fa.conf and its store; ehr2fad.conf, the copy
 * store-d and a running ehr2fad on ehr2fad.sock (that row is skipped without
 * it). P processes, released together, each log M users in with a good code;
 * every login has a user of its own, so nothing is a replay and nobody is
 * locked. A row is P*M logins over the wall time from release to the last
 * exit. The codes are the next step's, which the default window accepts: the
 * users that bench-pam logged in just before are then no replays either. Each
 * login is pam_start_confdir + pam_authenticate + pam_end, the module kept
 * loaded, as in bench-pam. */

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <security/pam_appl.h>

#include "bench-login.h"
#include "bench-pam.h"
#include "bench-util.h"
#include "totp.h"
#include "util.h"

#define PROCS_MAX 64U

/* One process: M logins, users first..first+M-1. Returns how many failed. */
static unsigned child(const char *confdir, const char *svc, unsigned long first, unsigned logins) {
        unsigned failed = 0;
        for (unsigned i = 0; i < logins; i++)
                if (bench_login(confdir, svc, first + i) != PAM_SUCCESS)
                        failed++;
        return failed;
}

/* P processes, released together. Returns the wall time in µs, or < 0. */
static double run(const char *confdir, const char *svc, unsigned procs, unsigned logins, unsigned long first,
                  unsigned *ret_failed) {
        int gate[2];
        pid_t pid[PROCS_MAX];
        if (pipe(gate) < 0)
                return -1;
        for (unsigned p = 0; p < procs; p++) {
                pid[p] = fork();
                if (pid[p] < 0)
                        return -1;
                if (pid[p] == 0) {
                        char c;
                        close(gate[1]);
                        /* EOF (0) when the parent lets go; anything else means the gate broke. */
                        ssize_t r;
                        do
                                r = read(gate[0], &c, 1);
                        while (r < 0 && errno == EINTR);
                        if (r != 0)
                                _exit(254);
                        unsigned f = child(confdir, svc, first + (unsigned long) p * logins, logins);
                        _exit(f > 254 ? 254 : (int) f);
                }
        }
        close(gate[0]);
        double t0 = bench_now_us();
        close(gate[1]);
        unsigned failed = 0;
        for (unsigned p = 0; p < procs; p++) {
                int st;
                if (waitpid(pid[p], &st, 0) < 0 || !WIFEXITED(st))
                        failed += logins;
                else
                        failed += (unsigned) WEXITSTATUS(st);
        }
        *ret_failed = failed;
        return bench_now_us() - t0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "dir", required_argument, NULL, 'd' },    { "size", required_argument, NULL, 'n' },
                { "ehr2fa", required_argument, NULL, 'e' }, { "procs", required_argument, NULL, 'p' },
                { "logins", required_argument, NULL, 'l' }, {},
        };
        const char *dir = NULL, *so = NULL, *procs_list = "1,2,4,8";
        unsigned long size = 0, logins = 200;
        int c;
        while ((c = getopt_long(argc, argv, "d:n:e:p:l:", opts, NULL)) >= 0)
                switch (c) {
                case 'd':
                        dir = optarg;
                        break;
                case 'n':
                        size = strtoul(optarg, NULL, 10);
                        break;
                case 'e':
                        so = optarg;
                        break;
                case 'p':
                        procs_list = optarg;
                        break;
                case 'l':
                        logins = strtoul(optarg, NULL, 10);
                        break;
                default:
                        goto usage;
                }
        if (!dir || !so || size == 0 || logins == 0 || logins > 100000) {
        usage:
                fprintf(stderr, "usage: bench-concurrent --dir DIR --size N --ehr2fa SO [--procs 1,2,4,8] [--logins M]\n");
                return 2;
        }
        unsigned procs[16], nprocs = 0;
        unsigned long need = 0;
        char *list = strdup(procs_list);
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t && nprocs < 16; t = strtok_r(NULL, ",", &save)) {
                unsigned long p = strtoul(t, NULL, 10);
                if (p == 0 || p > PROCS_MAX) {
                        fprintf(stderr, "bench-concurrent: --procs: 1 to %u each\n", PROCS_MAX);
                        return 2;
                }
                procs[nprocs++] = (unsigned) p;
                need += p * logins;
        }
        free(list);
        if (need > size) {
                fprintf(stderr, "bench-concurrent: %lu logins need as many users; the store has %lu\n", need, size);
                return 2;
        }

        /* The module kept loaded, as bench-pam does (children inherit it). */
        if (!dlopen(so, RTLD_NOW | RTLD_GLOBAL)) {
                fprintf(stderr, "bench-concurrent: %s\n", dlerror());
                return 1;
        }
        char confdir[4096], path[4200], line[8192], sock[4200];
        snprintf(confdir, sizeof confdir, "%s/pam.d-concurrent", dir);
        if (mkdir(confdir, 0700) < 0 && errno != EEXIST)
                return 1;
        snprintf(sock, sizeof sock, "%s/%lu/ehr2fad.sock", dir, size);
        struct stat st;
        bool daemon = stat(sock, &st) == 0 && S_ISSOCK(st.st_mode);
        const char *svc[2] = { "inprocess", "ehr2fad" };
        for (int m = 0; m < 2; m++) {
                if (m == 0)
                        snprintf(line, sizeof line, "auth required %s conf=%s/%lu/ehr2fa.conf daemon_socket=none\n", so,
                                 dir, size);
                else
                        snprintf(line, sizeof line, "auth required %s conf=%s/%lu/ehr2fad.conf daemon_socket=%s\n", so,
                                 dir, size, sock);
                snprintf(path, sizeof path, "%s/%s", confdir, svc[m]);
                FILE *f = fopen(path, "we");
                if (!f || fputs(line, f) < 0 || fclose(f) != 0)
                        return 1;
        }

        printf("logins at once, %lu users, %lu good-code logins per process (each a user of its own), %ld CPUs:\n",
               size, logins, sysconf(_SC_NPROCESSORS_ONLN));
        printf("%-24s %6s %8s %10s %10s %8s\n", "module", "procs", "logins", "wall_ms", "logins/s", "failed");
        for (int m = 0; m < 2; m++) {
                if (m == 1 && !daemon) {
                        printf("%-24s (no ehr2fad at %s: skipped)\n", "pam_ehr2fa+ehr2fad", sock);
                        continue;
                }
                /* Each row its own users: the two stores are separate copies. */
                unsigned long first = 0;
                for (unsigned i = 0; i < nprocs; i++) {
                        unsigned failed = 0;
                        double us = run(confdir, svc[m], procs[i], (unsigned) logins, first, &failed);
                        first += procs[i] * logins;
                        if (us < 0) {
                                perror("bench-concurrent");
                                return 1;
                        }
                        unsigned long total = procs[i] * logins;
                        printf("%-24s %6u %8lu %10.0f %10.0f %8u\n", m == 0 ? "pam_ehr2fa" : "pam_ehr2fa+ehr2fad",
                               procs[i], total, us / 1000, (double) total / (us / 1e6), failed);
                        fflush(stdout);
                }
        }
        return 0;
}
