/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bench only: what loading each PAM module costs a login process. libpam
 * dlopen()s every module of the stack at pam_start() (RTLD_NOW) and dlclose()s
 * it at pam_end(), and most logins run in a fresh process (each sshd
 * connection, su, sudo, login): so each login pays for mapping and relocating
 * the module and every library it needs that the process has not loaded yet.
 * bench-pam's rows keep the modules loaded and do not show this.
 *
 * This program links libpam, as every PAM application does, and nothing else
 * (--no-as-needed keeps the link; checked), so no module finds its other libraries
 * already there; it takes turns between the modules, one
 * dlopen+dlclose each per round, and prints the median per module.
 *
 *   bench-dlopen [--rounds N] NAME=PATH[:PATH...] ...
 *
 * Several paths are loaded together and timed as one row: pam_ehr2fa checking
 * in-process also loads libsqlite3 and libsodium at its first store open
 * (core/store/sqlite/load.h, core/sodium-load.h). */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <security/pam_appl.h>

#include "bench-util.h"

#define MODULES_MAX 8U

int main(int argc, char **argv) {
        unsigned rounds = 200, n = 0;
        const char *name[MODULES_MAX], *path[MODULES_MAX];
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
                        rounds = (unsigned) strtoul(argv[++i], NULL, 10);
                        continue;
                }
                char *eq = strchr(argv[i], '=');
                if (!eq || n == MODULES_MAX) {
                        fprintf(stderr, "usage: bench-dlopen [--rounds N] NAME=PATH[:PATH...] ...\n");
                        return 2;
                }
                *eq = 0;
                name[n] = argv[i];
                path[n++] = eq + 1;
        }
        if (n == 0 || rounds == 0)
                return 2;
        /* libpam loaded, as in any PAM application, whatever the linker's as-needed. */
        if (!dlsym(RTLD_DEFAULT, "pam_start")) {
                fprintf(stderr, "libpam is not loaded\n");
                return 1;
        }
        (void) pam_strerror;
        double *us = calloc((size_t) n * rounds, sizeof *us);
        if (!us)
                return 1;
        for (unsigned r = 0; r < rounds; r++)
                for (unsigned m = 0; m < n; m++) {
                        /* PATH may name several libraries, A:B: loaded in turn, closed in reverse. */
                        char buf[4096];
                        void *h[MODULES_MAX];
                        unsigned nh = 0;
                        snprintf(buf, sizeof buf, "%s", path[m]);
                        double t0 = bench_now_us();
                        for (char *save = NULL, *p = strtok_r(buf, ":", &save); p && nh < MODULES_MAX;
                             p = strtok_r(NULL, ":", &save)) {
                                h[nh] = dlopen(p, RTLD_NOW | RTLD_LOCAL);
                                if (!h[nh]) {
                                        fprintf(stderr, "%s: %s\n", name[m], dlerror());
                                        return 1;
                                }
                                nh++;
                        }
                        while (nh > 0)
                                dlclose(h[--nh]);
                        us[m * rounds + r] = bench_now_us() - t0;
                }
        printf("module load per login process (dlopen RTLD_NOW + dlclose, as libpam does; libpam already loaded as in any PAM application), %u rounds:\n",
               rounds);
        printf("%-26s %10s %8s\n", "module", "median_us", "x_first");
        double first = 0;
        for (unsigned m = 0; m < n; m++) {
                qsort(us + m * rounds, rounds, sizeof *us, bench_cmp_double);
                double med = us[m * rounds + rounds / 2];
                if (m == 0)
                        first = med;
                printf("%-26s %10.0f %8.2f\n", name[m], med, first > 0 ? med / first : 0);
        }
        free(us);
        return 0;
}
