/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Grace logins after enroll_by (core/enforce.c): one row per login. */

#include "internal.h"

int ehr_sqlite_grace_get(struct ehr_store_backend *s, const char *login, uint64_t *ret_used) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_row(s, STMT_GRACE_GET, &st, b_text(login));
        if (r == -ENOENT) {
                *ret_used = 0;
                return 0;
        }
        if (r < 0)
                return r;
        struct ehr_row rd = ROW(s, st);
        uint64_t used = ehr_row_uint(&rd, 0, "grace_logins.used", EHR_STORE_COUNT_MAX);
        if (rd.r < 0)
                return rd.r;
        *ret_used = used;
        return 0;
}

int ehr_sqlite_grace_use(struct ehr_store_backend *s, const char *login, uint64_t max, uint64_t now_sec,
                         uint64_t *ret_used) {
        int r = changed_or(sql_run(s, STMT_GRACE_USE, b_text(login), b_u64(max), b_u64(now_sec)), -EDQUOT);
        return r < 0 ? r : ehr_sqlite_grace_get(s, login, ret_used);
}
