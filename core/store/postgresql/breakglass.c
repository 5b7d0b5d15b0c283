/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PostgreSQL backend's break-glass rows (contracts in store.h and store-backend.h). */

#include "internal.h"

#define each_row(res, k, r) for ((res).row = 0; (r) >= 0 && (res).row < (k); (res).row++)

/* Which limit refused a use: read after the conditional insert changed nothing, only to say so. */
static int which_limit(struct ehr_store_backend *b, const struct ehr_break_glass *use,
                       const struct ehr_break_glass_limits *lim, enum ehr_break_glass_limit *ret) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_BG_COUNTS, &res, b_text(use->login), b_u64(lim->user_since_sec), b_u64(lim->user_max));
        if (r < 0)
                return r;
        struct ehr_row rd = ROW(b, &res);
        bool user = ehr_row_bool(&rd, 0, "break-glass uses of the user over the limit");
        if (rd.r < 0)
                return rd.r;
        *ret = user ? EHR_BREAK_GLASS_LIMIT_USER : EHR_BREAK_GLASS_LIMIT_HOST;
        return -EUSERS;
}

int ehr_pg_break_glass_add(struct ehr_store_backend *b, const struct ehr_break_glass *use,
                           const struct ehr_break_glass_limits *lim, int64_t *ret_id,
                           enum ehr_break_glass_limit *reterr_limit) {
        _cleanup_res_ struct pg_res lock = {}, res = {};
        int r = sql_rows0(b, PG_BG_LOCK, &lock);
        if (r < 0)
                return r;
        r = sql_row(b, PG_BG_ADD, &res, b_text(use->login), b_text(use->host), b_text(use->service),
                    b_text(use->source), b_text(use->reason), b_u64(use->time_sec), b_u64(lim->user_since_sec),
                    b_u64(lim->user_max), b_u64(lim->host_since_sec), b_u64(lim->host_max));
        if (r == -ENOENT)
                return which_limit(b, use, lim, reterr_limit);
        if (r < 0)
                return r;
        return ehr_row_id(&ROW(b, &res), "break_glass.id", ret_id);
}

/* The uses of a result; one: the one asked for (-ENOENT when none). */
static int use_rows(struct ehr_store_backend *b, struct pg_res *res, int k,
                    int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata, bool one) {
        int r = k;
        each_row(*res, k, r) {
                struct ehr_break_glass u;
                r = ehr_row_break_glass(&ROW(b, res), &u);
                r = r < 0 ? r : cb(&u, userdata);
        }
        return r < 0 ? r : one && k == 0 ? -ENOENT : 0;
}

int ehr_pg_break_glass_get(struct ehr_store_backend *b, int64_t id,
                           int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows(b, PG_BG_GET, &res, b_int(id));
        return k < 0 ? k : use_rows(b, &res, k, cb, userdata, true);
}

int ehr_pg_break_glass_foreach(struct ehr_store_backend *b, bool unreviewed_only, uint64_t until_sec,
                               int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows(b, PG_BG_LIST, &res, b_int(unreviewed_only), b_u64(until_sec));
        return k < 0 ? k : use_rows(b, &res, k, cb, userdata, false);
}

/* Why a review changed nothing: reviewed already, or the reviewer's own use. */
static int why_not_reviewed(const struct ehr_break_glass *u, void *userdata) {
        return u->reviewed_sec != 0 ? -EEXIST : streq(u->login, (const char *) userdata) ? -EBADR : -EIO;
}

int ehr_pg_break_glass_review(struct ehr_store_backend *b, int64_t id, const char *reviewer, const char *note,
                              uint64_t now_sec) {
        int r = sql_run(b, PG_BG_REVIEW, b_int(id), b_text(reviewer), b_u64(now_sec), b_text(note));
        if (r != 0)
                return r < 0 ? r : 0;
        return ehr_pg_break_glass_get(b, id, why_not_reviewed, (void *) reviewer);
}
