/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PostgreSQL backend: users, their system accounts and groups,
 * permissions and support requests (as store/sqlite/users.c). */

#include "internal.h"

/* Every row of a result, while r stays >= 0 (the body sets it). */
#define each_row(res, k, r) for ((res).row = 0; (r) >= 0 && (res).row < (k); (res).row++)

/* A statement that returns the new row's id (RETURNING id). */
static int insert_id(struct ehr_store_backend *b, enum pg_stmt id, const struct bind *bv, size_t n, const char *what,
                     int64_t *ret_id) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row_binds(b, id, &res, bv, n);
        if (r < 0)
                return r == -ENOENT ? -EIO : r;
        return ehr_row_id(&ROW(b, &res), what, ret_id);
}

int ehr_pg_user_add(struct ehr_store_backend *b, const struct ehr_user *u, uint64_t now_sec, int64_t *ret_id) {
        return insert_id(b, PG_USER_ADD, BINDS(b_text(u->login), b_text(u->name ?: ""), b_text(u->email ?: ""),
                         b_text(u->phone ?: ""), b_text(u->role), b_u64(now_sec)), "users.id", ret_id);
}

int ehr_pg_user_put(struct ehr_store_backend *b, const struct ehr_user *u) {
        return no_count(sql_run(b, PG_USER_PUT, b_int(u->id), b_text(u->login), b_text(u->name ?: ""),
                                b_text(u->email ?: ""), b_text(u->phone ?: ""), b_text(u->role), b_u64(u->created_sec)));
}

int ehr_pg_user_get(struct ehr_store_backend *b, const char *login, struct ehr_user **ret) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_USER_GET, &res, b_text(login));
        return r < 0 ? r : ehr_row_user(&ROW(b, &res), ret);
}

int ehr_pg_user_del(struct ehr_store_backend *b, const char *login) {
        return changed_or(sql_run(b, PG_USER_DEL, b_text(login)), -ENOENT);
}

int ehr_pg_user_foreach(struct ehr_store_backend *b, int (*cb)(const struct ehr_user *u, void *userdata),
                        void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows0(b, PG_USER_LIST, &res), r = k;
        each_row(res, k, r) {
                _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
                r = ehr_row_user(&ROW(b, &res), &u);
                if (r >= 0)
                        r = cb(u, userdata);
        }
        return r < 0 ? r : 0;
}

int ehr_pg_user_set_provider(struct ehr_store_backend *b, int64_t user_id, int64_t provider_id) {
        return changed_or(sql_run(b, PG_USER_SET_PROVIDER, b_int(user_id), provider_id ? b_int(provider_id) : b_null()),
                          -ENOENT);
}

int ehr_pg_user_set_sms_2fa(struct ehr_store_backend *b, int64_t user_id, const char *id) {
        return changed_or(sql_run(b, PG_USER_SET_SMS2FA, b_int(user_id), b_text(id)), -ENOENT);
}

int ehr_pg_perm_grant(struct ehr_store_backend *b, int64_t user_id, const char *perm, uint64_t now_sec,
                      const char *by) {
        return no_count(sql_run(b, PG_PERM_GRANT, b_int(user_id), b_text(perm), b_u64(now_sec), b_text(by)));
}

int ehr_pg_perm_revoke(struct ehr_store_backend *b, int64_t user_id, const char *perm) {
        return sql_run(b, PG_PERM_REVOKE, b_int(user_id), b_text(perm));
}

int ehr_pg_perm_has(struct ehr_store_backend *b, int64_t user_id, const char *perm) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_PERM_HAS, &res, b_int(user_id), b_text(perm));
        return r == -ENOENT ? -EPERM : r;
}

int ehr_pg_perm_foreach(struct ehr_store_backend *b, int64_t user_id, int (*cb)(const char *perm, void *userdata),
                        void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows(b, PG_PERM_LIST, &res, b_int(user_id)), r = k;
        each_row(res, k, r)
                r = cb(col_text(&res, 0), userdata);
        return r < 0 ? r : 0;
}

int ehr_pg_request_add(struct ehr_store_backend *b, int64_t for_id, int64_t by_id, int64_t approver_id,
                       const char *state, const char *how, const char *note, uint64_t now_sec, int64_t *ret_id) {
        return insert_id(b, PG_REQ_ADD, BINDS(b_int(for_id), b_int(by_id), b_int(approver_id), b_text(state),
                         b_text(how), b_text(note ?: ""), b_u64(now_sec)), "support_requests.id", ret_id);
}

static int request_rows(struct ehr_store_backend *b, struct pg_res *res, int k,
                        int (*cb)(const struct ehr_support_request *r, void *userdata), void *userdata, bool one) {
        int r = k;
        each_row(*res, k, r) {
                struct ehr_support_request q;
                r = ehr_row_request(&ROW(b, res), &q);
                r = r < 0 ? r : cb(&q, userdata);
        }
        return r < 0 ? r : one && k == 0 ? -ENOENT : 0;
}

int ehr_pg_request_get(struct ehr_store_backend *b, int64_t id, int (*cb)(const struct ehr_support_request *r,
                       void *userdata), void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows(b, PG_REQ_GET, &res, b_int(id));
        return k < 0 ? k : request_rows(b, &res, k, cb, userdata, true);
}

int ehr_pg_request_foreach(struct ehr_store_backend *b, int (*cb)(const struct ehr_support_request *r,
                           void *userdata), void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows0(b, PG_REQ_LIST, &res);
        return k < 0 ? k : request_rows(b, &res, k, cb, userdata, false);
}

int ehr_pg_request_decide(struct ehr_store_backend *b, int64_t id, const char *state, const char *how,
                          uint64_t now_sec) {
        return changed_or(sql_run(b, PG_REQ_DECIDE, b_int(id), b_text(state), b_text(how), b_u64(now_sec)),
                          -EALREADY);
}

int ehr_pg_user_set_account(struct ehr_store_backend *b, int64_t user_id, int64_t uid, int64_t gid, const char *home,
                            const char *shell) {
        return changed_or(sql_run(b, PG_USER_SET_ACCOUNT, b_int(user_id), b_int(uid), b_int(gid), b_text(home),
                                  b_text(shell)), -ENOENT);
}

int ehr_pg_user_set_locked(struct ehr_store_backend *b, int64_t user_id, bool locked) {
        return changed_or(sql_run(b, PG_USER_SET_LOCKED, b_int(user_id), b_int(locked)), -ENOENT);
}

static int one_int(struct ehr_store_backend *b, enum pg_stmt id, const struct bind *bv, size_t n, const char *what,
                   int64_t min, int64_t max, int64_t *ret) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row_binds(b, id, &res, bv, n);
        if (r < 0)
                return r == -ENOENT ? -EIO : r;
        struct ehr_row rd = ROW(b, &res);
        int64_t v = ehr_row_int(&rd, 0, what, min, max);
        if (rd.r < 0)
                return rd.r;
        *ret = v;
        return 0;
}

int ehr_pg_id_used(struct ehr_store_backend *b, int64_t id) {
        int64_t used = 0;
        int r = one_int(b, PG_ID_USED, BINDS(b_int(id)), "id in use", 0, 1, &used);
        return r < 0 ? r : (int) used;
}

int ehr_pg_id_high(struct ehr_store_backend *b, int64_t *ret_high) {
        return one_int(b, PG_ID_HIGH, NULL, 0, "uid high-water mark", -1, EHR_ROW_UID_MAX, ret_high);
}

int ehr_pg_id_high_raise(struct ehr_store_backend *b, int64_t id) {
        return no_count(sql_run(b, PG_ID_HIGH_RAISE, b_int(id)));
}

int ehr_pg_password_put(struct ehr_store_backend *b, int64_t user_id, const char *hash, uint64_t now_sec) {
        return no_count(sql_run(b, PG_PASSWORD_PUT, b_int(user_id), b_text(hash), b_u64(now_sec)));
}

int ehr_pg_password_get(struct ehr_store_backend *b, int64_t user_id, char *ret_hash, size_t len,
                        uint64_t *ret_changed_sec) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_PASSWORD_GET, &res, b_int(user_id));
        if (r < 0)
                return r;
        struct ehr_row rd = ROW(b, &res);
        uint64_t changed = ehr_row_time(&rd, 1, "passwords.changed");
        if (rd.r < 0)
                return rd.r;
        const char *hash = col_text(&res, 0);
        if (strlen(hash) >= len)
                return -ERANGE;
        memcpy(ret_hash, hash, strlen(hash) + 1);
        *ret_changed_sec = changed;
        return 0;
}

int ehr_pg_grace_get(struct ehr_store_backend *b, const char *login, uint64_t *ret_used) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_GRACE_GET, &res, b_text(login));
        if (r == -ENOENT) {
                *ret_used = 0;
                return 0;
        }
        if (r < 0)
                return r;
        struct ehr_row rd = ROW(b, &res);
        uint64_t used = ehr_row_uint(&rd, 0, "grace_logins.used", EHR_STORE_COUNT_MAX);
        if (rd.r < 0)
                return rd.r;
        *ret_used = used;
        return 0;
}

int ehr_pg_grace_use(struct ehr_store_backend *b, const char *login, uint64_t max, uint64_t now_sec,
                     uint64_t *ret_used) {
        int r = changed_or(sql_run(b, PG_GRACE_USE, b_text(login), b_u64(max), b_u64(now_sec)), -EDQUOT);
        return r < 0 ? r : ehr_pg_grace_get(b, login, ret_used);
}

int ehr_pg_group_add(struct ehr_store_backend *b, const char *name, int64_t gid) {
        return no_count(sql_run(b, PG_GROUP_ADD, b_text(name), b_int(gid)));
}

int ehr_pg_group_del(struct ehr_store_backend *b, const char *name) {
        return changed_or(sql_run(b, PG_GROUP_DEL, b_text(name)), -ENOENT);
}

int ehr_pg_group_get(struct ehr_store_backend *b, const char *name, int64_t *ret_id, int64_t *ret_gid) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_GROUP_GET, &res, b_text(name));
        if (r < 0)
                return r;
        struct ehr_row rd = ROW(b, &res);
        int64_t id = ehr_row_int(&rd, 0, "groups.id", 1, EHR_ROW_ID_MAX);
        int64_t gid = ehr_row_int(&rd, 1, "groups.gid", 0, EHR_ROW_UID_MAX);
        if (rd.r < 0)
                return rd.r;
        *ret_id = id;
        *ret_gid = gid;
        return 0;
}

int ehr_pg_group_member(struct ehr_store_backend *b, int64_t group_id, int64_t user_id, bool add) {
        return sql_run(b, add ? PG_GROUP_MEMBER_ADD : PG_GROUP_MEMBER_DEL, b_int(group_id), b_int(user_id));
}

int ehr_pg_group_foreach(struct ehr_store_backend *b, int (*cb)(const struct ehr_group *g, void *userdata),
                         void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows0(b, PG_GROUP_LIST, &res), r = k;
        each_row(res, k, r) {
                struct ehr_group g;
                r = ehr_row_group(&ROW(b, &res), &g);
                r = r < 0 ? r : cb(&g, userdata);
        }
        return r < 0 ? r : 0;
}

/* Results are read whole, so callers may read members while they step through groups. */
int ehr_pg_group_members(struct ehr_store_backend *b, int64_t group_id, int (*cb)(const char *login, void *userdata),
                         void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows(b, PG_GROUP_MEMBERS, &res, b_int(group_id)), r = k;
        each_row(res, k, r)
                r = cb(col_text(&res, 0), userdata);
        return r < 0 ? r : 0;
}
