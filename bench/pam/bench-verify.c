/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bench only: what the store itself costs for a login with a wrong code, with
 * no PAM, no process and no socket around it, on a store that stays open:
 * ehr2fad's work. Its begin reads the user and its lock state; its verify
 * (ehr_policy_verify()) counts the failure, appends the audit row with its
 * chained MAC and commits (no sync: a failure count need not survive a power
 * cut). Compare it with pam_oath's own work in bench-pam's "own work" table:
 * pam_oath reads its file and writes nothing.
 *
 *   bench-verify --store DIR [--user user0] [--calls 800]
 *
 * DIR: a store made by bench-pam-mkstore; use a copy (failures are recorded,
 * and cleared again at the end). */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench-pam.h"
#include "bench-util.h"
#include "config.h"
#include "errors.h"
#include "policy.h"
#include "store.h"
#include "totp.h"
#include "util.h"

#define CALLS_MAX 100000U

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "store", required_argument, NULL, 's' },
                { "user", required_argument, NULL, 'u' },
                { "calls", required_argument, NULL, 'n' },
                {},
        };
        const char *dir = NULL, *login = BENCH_LOGIN_PREFIX "0";
        unsigned long calls = 800;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 's':
                        dir = optarg;
                        break;
                case 'u':
                        login = optarg;
                        break;
                case 'n':
                        calls = strtoul(optarg, NULL, 10);
                        break;
                default:
                        return 2;
                }
        if (!dir || calls < 10 || calls > CALLS_MAX || optind != argc) {
                fprintf(stderr, "usage: bench-verify --store DIR [--user user0] [--calls 10-%u]\n", CALLS_MAX);
                return 2;
        }

        _cleanup_(ehr_store_freep) struct ehr_store *s = NULL;
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        struct ehr_config cfg;
        char err[512], wrong[EHR_OTP_DIGITS_MAX + 1];
        ehr_config_init(&cfg);
        /* Never lock: every call must be a counted wrong code. */
        if (ehr_config_set(&cfg, "deny", "1000") < 0 || ehr_config_set(&cfg, "max_failures", "100000") < 0)
                return 1;
        int r = ehr_store_open(dir, 0, 10000, &s, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "bench-verify: %s\n", err);
                return 1;
        }
        r = ehr_store_user_get(s, login, &u);
        if (r < 0) {
                fprintf(stderr, "bench-verify: %s: %s\n", login, ehr_strerror(r));
                return 1;
        }
        /* A code that matches no step near now. */
        uint64_t t = (uint64_t) time(NULL), step = ehr_totp_step(t, BENCH_PERIOD);
        char near[3][EHR_OTP_DIGITS_MAX + 1];
        for (int d = -1; d <= 1; d++)
                if (ehr_hotp(bench_secret(), BENCH_SECRET_BYTES, EHR_OTP_SHA1, step + (uint64_t) d, BENCH_DIGITS,
                             near[d + 1], sizeof near[0]) < 0)
                        return 1;
        for (unsigned v = 0;; v++) {
                snprintf(wrong, sizeof wrong, "%06u", v);
                if (!streq(wrong, near[0]) && !streq(wrong, near[1]) && !streq(wrong, near[2]))
                        break;
        }

        double *us = calloc(calls, sizeof *us), *begin_us = calloc(calls, sizeof *begin_us);
        if (!us || !begin_us)
                return 1;
        double sum = 0;
        unsigned failures = 0;
        /* The window is deny = 1000 failures: clear the count before it is reached. */
        for (unsigned long i = 0; i < calls; i++) {
                if (i % 900 == 899 && (r = ehr_store_failures_clear(s, u->id)) < 0)
                        break;
                /* ehr2fad's begin: the user and its lock state, before the prompt. */
                struct ehr_user *b = NULL;
                uint64_t until;
                double t0 = bench_now_us();
                r = ehr_store_user_get(s, login, &b);
                if (r >= 0)
                        r = ehr_policy_check_lock(s, b, (uint64_t) time(NULL), &until);
                (void) ehr_store_release(s);
                begin_us[i] = bench_now_us() - t0;
                ehr_user_free(b);
                if (r != 0)
                        failures++;
                /* Its verify. */
                struct ehr_verdict v;
                t0 = bench_now_us();
                r = ehr_policy_verify(s, &cfg, u, wrong, (uint64_t) time(NULL), "bench-verify", &v);
                (void) ehr_store_release(s);
                us[i] = bench_now_us() - t0;
                sum += us[i];
                if (r != -EBADRQC)
                        failures++;
        }
        (void) ehr_store_failures_clear(s, u->id);
        if (failures) {
                fprintf(stderr, "bench-verify: %u of %lu calls were not a counted wrong code\n", failures, calls);
                free(us);
                return 1;
        }
        qsort(us, calls, sizeof *us, bench_cmp_double);
        qsort(begin_us, calls, sizeof *begin_us, bench_cmp_double);
        printf("the store's own cost of a wrong code, on a store kept open (ehr2fad's work, no PAM, no socket), "
               "%lu logins:\n"
               "  begin  (user + lock state)                      median %4.0f us, p10 %4.0f, p90 %4.0f\n"
               "  verify (count + audit row + commit, no sync)    median %4.0f us, p10 %4.0f, p90 %4.0f, "
               "mean %.0f (with checkpoints)\n",
               calls, begin_us[calls / 2], begin_us[calls / 10], begin_us[calls * 9 / 10], us[calls / 2],
               us[calls / 10], us[calls * 9 / 10], sum / (double) calls);
        free(us);
        free(begin_us);
        ehr_config_done(&cfg);
        return 0;
}
