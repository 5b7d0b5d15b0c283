/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bench only: create the three second-factor stores for N users user0..userN-1,
 * all with the same TOTP secret (bench-pam.h):
 *   --store DIR   an ehr2fa store (core API, one transaction: ehr2fa-admin
 *                 would take 2N process runs)
 *   --oath FILE   a pam_oath usersfile, one line per user
 *   --ga DIR      one google-authenticator secret file per user, DIR/userN */

#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "bench-pam.h"
#include "store.h"
#include "util.h"

#define BATCH_USERS 100000U

static int make_ehr2fa(const char *dir, unsigned long n, uint64_t now) {
        _cleanup_(ehr_store_freep) struct ehr_store *s = NULL;
        const struct ehr_otp_params p = { .algorithm = EHR_OTP_SHA1, .digits = BENCH_DIGITS, .period = BENCH_PERIOD };
        char err[512];
        int r = ehr_store_open(dir, EHR_STORE_CREATE | EHR_STORE_MIGRATE, 10000, &s, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "mkstore: %s: %s\n", dir, err);
                return r;
        }
        r = ehr_store_begin(s);
        if (r >= 0)
                r = ehr_audit_append(s, now, "", "bench", EHR_AUDIT_ADMIN, "store initialised", "bench/pam/mkstore",
                                     "bench");
        for (unsigned long i = 0; r >= 0 && i < n; i++) {
                char login[EHR_LOGIN_MAX + 1], email[96];
                snprintf(login, sizeof login, BENCH_LOGIN_PREFIX "%lu", i);
                snprintf(email, sizeof email, "%s@example.org", login);
                struct ehr_user u = {
                        .login = login, .name = "", .email = email, .phone = "+15551234567", .role = "staff",
                };
                r = ehr_store_user_add(s, &u, now, &u.id);
                if (r >= 0)
                        r = ehr_store_totp_put(s, &u, bench_secret(), BENCH_SECRET_BYTES, &p, now);
                if (r >= 0 && (i + 1) % BATCH_USERS == 0 && i + 1 < n) {
                        r = ehr_store_commit(s);
                        if (r >= 0)
                                r = ehr_store_begin(s);
                }
        }
        if (r >= 0)
                r = ehr_store_commit(s);
        if (r < 0) {
                ehr_store_rollback(s);
                fprintf(stderr, "mkstore: cannot fill %s: %s\n", dir, ehr_strerror(r));
                return r;
        }
        /* Check one user the way the module will read it. */
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        r = ehr_store_user_get(s, BENCH_LOGIN_PREFIX "0", &u);
        if (r < 0 || !u->totp_enrolled) {
                fprintf(stderr, "mkstore: user0 is not enrolled after filling %s\n", dir);
                return r < 0 ? r : -EIO;
        }
        return 0;
}

static int make_oath(const char *path, unsigned long n) {
        FILE *f = fopen(path, "we");
        if (!f) {
                fprintf(stderr, "mkstore: %s: %m\n", path);
                return -errno;
        }
        (void) fchmod(fileno(f), 0600);
        int r = 0;
        for (unsigned long i = 0; r >= 0 && i < n; i++)
                r = bench_oath_line(f, i);
        if (fclose(f) != 0 || r < 0) {
                fprintf(stderr, "mkstore: cannot write %s\n", path);
                return -EIO;
        }
        return 0;
}

static int make_ga(const char *dir, unsigned long n) {
        char buf[256], path[4096];
        int len = bench_ga_contents(buf, sizeof buf);
        if (len < 0)
                return -EINVAL;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                fprintf(stderr, "mkstore: %s: %m\n", dir);
                return -errno;
        }
        for (unsigned long i = 0; i < n; i++) {
                snprintf(path, sizeof path, "%s/" BENCH_LOGIN_PREFIX "%lu", dir, i);
                _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0 || write(fd, buf, (size_t) len) != len) {
                        fprintf(stderr, "mkstore: %s: %m\n", path);
                        return -EIO;
                }
        }
        return 0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "users", required_argument, NULL, 'n' }, { "store", required_argument, NULL, 's' },
                { "oath", required_argument, NULL, 'o' },  { "ga", required_argument, NULL, 'g' },
                {},
        };
        const char *store = NULL, *oath = NULL, *ga = NULL;
        unsigned long n = 0;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'n':
                        n = strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        store = optarg;
                        break;
                case 'o':
                        oath = optarg;
                        break;
                case 'g':
                        ga = optarg;
                        break;
                default:
                        return 2;
                }
        if (n == 0 || optind != argc || (!store && !oath && !ga)) {
                fprintf(stderr, "usage: mkstore --users N [--store DIR] [--oath FILE] [--ga DIR]\n");
                return 2;
        }
        if (sodium_init() < 0)
                return 1;
        umask(077);
        uint64_t now = (uint64_t) time(NULL);
        if (store && make_ehr2fa(store, n, now) < 0)
                return 1;
        if (oath && make_oath(oath, n) < 0)
                return 1;
        if (ga && make_ga(ga, n) < 0)
                return 1;
        return 0;
}
