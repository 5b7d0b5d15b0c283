/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ehr2fa-admin store copy: move an SQLite store to a PostgreSQL server. */

#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "admin.h"
#include "audit.h"

/* --from names the store directory, or its database file. */
static char *source_dir(const char *from) {
        struct stat st;
        if (stat(from, &st) == 0 && S_ISREG(st.st_mode)) {
                char *d = strdup(from), *slash = d ? strrchr(d, '/') : NULL;
                if (d && slash && slash != d)
                        *slash = 0;
                else if (d) {
                        free(d);
                        d = strdup(".");
                }
                return d;
        }
        return strdup(from);
}

static int store_copy(struct admin *a, const char *from, const char *to, const char *pwfile) {
        if (!a->bootstrap)
                return admin_err(EXIT_PERM, "store copy reads every row of a store: run it as root");
        _cleanup_free_ char *dir = source_dir(from);
        if (!dir)
                return admin_err(EXIT_FAIL, "out of memory");
        char err[EHR_CONFIG_ERR_MAX];
        _cleanup_(ehr_store_freep) struct ehr_store *src = NULL, *dst = NULL;
        int r = ehr_store_open(dir, 0, a->cfg.store_timeout_ms, &src, err, sizeof err);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "source: %s", err);
        /* The target uses the source's key: the sealed rows are copied as they are. */
        const struct ehr_store_where w = { .dir = dir, .server = to, .password_file = pwfile };
        r = ehr_store_open_at(&w, EHR_STORE_MIGRATE, a->cfg.store_timeout_ms, &dst, err, sizeof err);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "target: %s", err);
        struct ehr_store_copied n;
        r = ehr_store_copy(src, dst, &n, err, sizeof err);
        if (r < 0)
                return admin_err(r == -ENOTEMPTY ? EXIT_FAIL : admin_exit_from_errno(r),
                                 "store copy failed, nothing was written: %s", err);
        char details[256];
        snprintf(details, sizeof details, "from %s: %" PRIu64 " users, %" PRIu64 " groups, %" PRIu64
                 " trusted devices, %" PRIu64 " audit rows", ehr_store_location(src), n.users, n.groups, n.devices,
                 n.audit_rows);
        r = ehr_audit_append(dst, a->now_sec, "", a->actor, EHR_AUDIT_ADMIN, "store copied", details, a->source);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "copied, but cannot write the audit log: %s",
                                 ehr_strerror(r));
        uint64_t rows = 0, bad = 0;
        r = ehr_audit_verify(dst, &rows, &bad);
        if (r < 0)
                return admin_err(EXIT_TAMPER, "copied, but the audit chain does not verify at row %" PRIu64 ": %s",
                                 bad, ehr_strerror(r));
        printf("Copied to %s: %s; the audit chain verifies (%" PRIu64 " rows).\n"
               "Every host needs %s/%s (this key) in its store_dir.\n", ehr_store_location(dst), details, rows, dir,
               EHR_STORE_KEY_NAME);
        return 0;
}

int verb_store(struct admin *a, int argc, char **argv) {
        const char *from = NULL, *to = NULL, *pwfile = a->cfg.store_password_file;
        if (argc < 2 || !streq(argv[1], "copy"))
                return admin_err(EXIT_USAGE, "usage: store copy --from DIR|FILE --to LOCATOR [--password-file FILE]");
        for (int i = 2; i < argc; i++) {
                const char **opt = streq(argv[i], "--from") ? &from : streq(argv[i], "--to") ? &to
                                   : streq(argv[i], "--password-file") ? &pwfile : NULL;
                if (!opt || i + 1 >= argc)
                        return admin_err(EXIT_USAGE, "usage: store copy --from DIR|FILE --to LOCATOR "
                                         "[--password-file FILE]");
                *opt = argv[++i];
        }
        if (!from || !to)
                return admin_err(EXIT_USAGE, "usage: store copy --from DIR|FILE --to LOCATOR [--password-file FILE]");
        return store_copy(a, from, to, pwfile);
}
