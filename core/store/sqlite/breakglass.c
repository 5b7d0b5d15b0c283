/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite backend's break-glass rows (contracts in store.h and store-backend.h). */

#include "internal.h"

int ehr_sqlite_break_glass_add(struct ehr_store_backend *s, const struct ehr_break_glass *use,
                               const struct ehr_break_glass_limits *lim, int64_t *ret_id,
                               enum ehr_break_glass_limit *reterr_limit) {
        int r = sql_run(s, STMT_BG_ADD, b_text(use->login), b_text(use->host), b_text(use->service),
                        b_text(use->source), b_text(use->reason), b_u64(use->time_sec), b_u64(lim->user_since_sec),
                        b_u64(lim->user_max), b_u64(lim->host_since_sec), b_u64(lim->host_max));
        if (r < 0)
                return r;
        if (r > 0) {
                *ret_id = sqlite3_last_insert_rowid(s->db);
                return 0;
        }
        /* Refused by the conditional insert: read which limit, only to say so. */
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = sql_row(s, STMT_BG_COUNTS, &st, b_text(use->login), b_u64(lim->user_since_sec), b_u64(lim->user_max));
        if (r < 0)
                return r;
        struct ehr_row rd = ROW(s, st);
        bool user = ehr_row_bool(&rd, 0, "break-glass uses of the user over the limit");
        if (rd.r < 0)
                return rd.r;
        *reterr_limit = user ? EHR_BREAK_GLASS_LIMIT_USER : EHR_BREAK_GLASS_LIMIT_HOST;
        return -EUSERS;
}

/* The uses of a prepared statement; one: the one asked for (-ENOENT when none). */
static int use_rows(struct ehr_store_backend *s, sqlite3_stmt *st,
                    int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata, bool one) {
        int k = 0;
        bool any = false;
        each_row(st, k) {
                any = true;
                struct ehr_break_glass u;
                k = ehr_row_break_glass(&ROW(s, st), &u);
                k = k < 0 ? k : cb(&u, userdata);
        }
        return k == 0 && one && !any ? -ENOENT : k;
}

int ehr_sqlite_break_glass_get(struct ehr_store_backend *s, int64_t id,
                               int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, STMT_BG_GET, &st, b_int(id));
        return r < 0 ? r : use_rows(s, st, cb, userdata, true);
}

int ehr_sqlite_break_glass_foreach(struct ehr_store_backend *s, bool unreviewed_only, uint64_t until_sec,
                                   int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, STMT_BG_LIST, &st, b_int(unreviewed_only), b_u64(until_sec));
        return r < 0 ? r : use_rows(s, st, cb, userdata, false);
}

/* Why a review changed nothing: no such use, reviewed already, or the reviewer's own. */
static int why_not_reviewed(const struct ehr_break_glass *u, void *userdata) {
        const char *reviewer = userdata;
        return u->reviewed_sec != 0 ? -EEXIST : streq(u->login, reviewer) ? -EBADR : -EIO;
}

int ehr_sqlite_break_glass_review(struct ehr_store_backend *s, int64_t id, const char *reviewer, const char *note,
                                  uint64_t now_sec) {
        int r = sql_run(s, STMT_BG_REVIEW, b_int(id), b_text(reviewer), b_u64(now_sec), b_text(note));
        if (r != 0)
                return r < 0 ? r : 0;
        return ehr_sqlite_break_glass_get(s, id, why_not_reviewed, (void *) reviewer);
}
