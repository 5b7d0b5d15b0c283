/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bench only: what the store itself costs for a login, with no PAM, no process
 * and no socket around it, on a store kept open as ehr2fad keeps it (reserved,
 * with its upkeep between logins, untimed): ehr2fad's work. Its begin reads the
 * user and its lock state. For a wrong code its verify (ehr_policy_verify())
 * counts the failure, appends the audit row with its chained MAC and commits (no
 * sync: a failure count need not survive a power cut); for a good code it records
 * the code's step (the replay guard), clears the count, appends the audit row,
 * commits and syncs. Compare them with pam_oath's own work in bench-pam's "own
 * work" table: for a wrong code pam_oath reads its file and writes nothing.
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

struct samples {
        double *us;
        unsigned n;
};

static int samples_init(struct samples *x, unsigned long max) {
        x->n = 0;
        x->us = calloc(max, sizeof *x->us);
        return x->us ? 0 : -ENOMEM;
}

static void samples_free(struct samples *x) {
        free(x->us);
        x->us = NULL;
}

static void row(const char *name, struct samples *x) {
        double sum = 0;
        for (unsigned i = 0; i < x->n; i++)
                sum += x->us[i];
        qsort(x->us, x->n, sizeof *x->us, bench_cmp_double);
        printf("  %-53s median %4.0f, p10 %4.0f, p90 %4.0f, mean %4.0f\n", name, bench_quantile(x->us, x->n, 0.5),
               bench_quantile(x->us, x->n, 0.1), bench_quantile(x->us, x->n, 0.9), x->n ? sum / x->n : 0);
}

/* user0's replay guard undone (untimed), and the code of now: as bench-pam's reset. */
static int fresh_code(struct ehr_store *s, const struct ehr_user *u, char *code, size_t len) {
        const struct ehr_otp_params p = { .algorithm = EHR_OTP_SHA1, .digits = BENCH_DIGITS, .period = BENCH_PERIOD };
        uint64_t now = (uint64_t) time(NULL);
        int r = ehr_store_begin(s);
        if (r >= 0)
                r = ehr_store_totp_put(s, u, bench_secret(), BENCH_SECRET_BYTES, &p, now);
        if (r >= 0)
                r = ehr_store_commit(s);
        if (r < 0) {
                ehr_store_rollback(s);
                return r;
        }
        return ehr_hotp(bench_secret(), BENCH_SECRET_BYTES, EHR_OTP_SHA1, ehr_totp_step(now, BENCH_PERIOD),
                        BENCH_DIGITS, code, len);
}

/* One login as ehr2fad serves it: the begin and the verify, each timed, and the
 * upkeep it does once the login has gone, timed apart when there was some.
 * Returns 0, or -EPROTO when the verify did not answer want. */
static int one_login(struct ehr_store *s, const struct ehr_config *cfg, const struct ehr_user *u, const char *answer,
                     int want, struct samples *begin, struct samples *verify, struct samples *upkeep) {
        struct ehr_user *b = NULL;
        struct ehr_verdict v;
        uint64_t until;
        double t0 = bench_now_us();
        int r = ehr_store_user_get(s, u->login, &b);
        if (r >= 0)
                r = ehr_policy_check_lock(s, b, (uint64_t) time(NULL), &until);
        (void) ehr_store_release(s);
        begin->us[begin->n++] = bench_now_us() - t0;
        ehr_user_free(b);
        if (r != 0)
                return r < 0 ? r : -EPROTO;
        t0 = bench_now_us();
        r = ehr_policy_verify(s, cfg, u, answer, (uint64_t) time(NULL), "bench-verify", &v);
        (void) ehr_store_release(s);
        verify->us[verify->n++] = bench_now_us() - t0;
        if (r != want)
                return r < 0 && r != -EBADRQC && r != -EALREADY ? r : -EPROTO;
        t0 = bench_now_us();
        r = ehr_store_idle(s);
        if (r > 0)
                upkeep->us[upkeep->n++] = bench_now_us() - t0;
        return r < 0 ? r : 0;
}

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
        if ((r = ehr_store_reserve(s)) < 0) {
                fprintf(stderr, "bench-verify: cannot reserve the WAL: %s\n", ehr_strerror(r));
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

        struct samples begin = {}, bad = {}, good = {}, upkeep = {};
        if (samples_init(&begin, 2 * calls) < 0 || samples_init(&bad, calls) < 0 || samples_init(&good, calls) < 0 ||
            samples_init(&upkeep, 2 * calls) < 0)
                return 1;
        for (unsigned long i = 0; i < calls && r >= 0; i++) {
                /* The window is deny = 1000 failures: clear the count before it is reached. */
                if (i % 900 == 899)
                        r = ehr_store_failures_clear(s, u->id);
                if (r >= 0)
                        r = one_login(s, &cfg, u, wrong, -EBADRQC, &begin, &bad, &upkeep);
        }
        for (unsigned long i = 0; i < calls && r >= 0; i++) {
                char code[EHR_OTP_DIGITS_MAX + 1];
                r = fresh_code(s, u, code, sizeof code);
                if (r >= 0)
                        r = one_login(s, &cfg, u, code, 0, &begin, &good, &upkeep);
        }
        (void) ehr_store_failures_clear(s, u->id);
        if (r < 0) {
                fprintf(stderr, "bench-verify: %s\n", ehr_strerror(r));
                return 1;
        }
        printf("the store's own cost of a login, on a store kept open as ehr2fad keeps it (no PAM, no socket), "
               "%lu logins with a wrong code, %lu with a good one (us):\n",
               calls, calls);
        row("begin  (user + lock state)", &begin);
        row("verify, wrong code (count + audit row + commit)", &bad);
        row("verify, good code (step + audit row + commit + sync)", &good);
        char name[64];
        snprintf(name, sizeof name, "upkeep between logins (%u WAL checkpoints)", upkeep.n);
        if (upkeep.n)
                row(name, &upkeep);
        else
                printf("  %s\n", name);
        samples_free(&begin);
        samples_free(&bad);
        samples_free(&good);
        samples_free(&upkeep);
        ehr_config_done(&cfg);
        return 0;
}
