/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite backend: users, their system accounts and groups, permissions and
 * support requests. */

#include "internal.h"

/* Users */

int ehr_sqlite_user_add(struct ehr_store_backend *s, const struct ehr_user *u, uint64_t now_sec, int64_t *ret_id) {
        int r = sql_run(s, STMT_USER_ADD, b_text(u->login), b_text(u->name ?: ""), b_text(u->email ?: ""),
                        b_text(u->phone ?: ""), b_text(u->role), b_int((sqlite3_int64) now_sec));
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

int ehr_sqlite_user_put(struct ehr_store_backend *s, const struct ehr_user *u) {
        return no_count(sql_run(s, STMT_USER_PUT, b_int(u->id), b_text(u->login), b_text(u->name ?: ""),
                                b_text(u->email ?: ""), b_text(u->phone ?: ""), b_text(u->role), b_u64(u->created_sec)));
}

int ehr_sqlite_user_get(struct ehr_store_backend *s, const char *login, struct ehr_user **ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_row(s, STMT_USER_GET, &st, b_text(login));
        return r < 0 ? r : ehr_row_user(&ROW(s, st), ret);
}

int ehr_sqlite_user_del(struct ehr_store_backend *s, const char *login) {
        return changed_or(sql_run(s, STMT_USER_DEL, b_text(login)), -ENOENT);
}

int ehr_sqlite_user_foreach(struct ehr_store_backend *s, int (*cb)(const struct ehr_user *u, void *userdata),
                            void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare_binds(s, STMT_USER_LIST, &st, NULL, 0);
        each_row(st, r) {
                _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
                r = ehr_row_user(&ROW(s, st), &u);
                if (r >= 0)
                        r = cb(u, userdata);
        }
        return r;
}

/* Users: provider and staff 2FA (0 and NULL clear them) */

int ehr_sqlite_user_set_provider(struct ehr_store_backend *s, int64_t user_id, int64_t provider_id) {
        return changed_or(sql_run(s, STMT_USER_SET_PROVIDER, b_int(user_id), provider_id ? b_int(provider_id) : b_null()),
                          -ENOENT);
}

int ehr_sqlite_user_set_sms_2fa(struct ehr_store_backend *s, int64_t user_id, const char *id) {
        return changed_or(sql_run(s, STMT_USER_SET_SMS2FA, b_int(user_id), b_text(id)), -ENOENT);
}

/* Permissions */

int ehr_sqlite_perm_grant(struct ehr_store_backend *s, int64_t user_id, const char *perm, uint64_t now_sec,
                          const char *by) {
        return no_count(sql_run(s, STMT_PERM_GRANT, b_int(user_id), b_text(perm), b_u64(now_sec), b_text(by)));
}

int ehr_sqlite_perm_revoke(struct ehr_store_backend *s, int64_t user_id, const char *perm) {
        return sql_run(s, STMT_PERM_REVOKE, b_int(user_id), b_text(perm));
}

int ehr_sqlite_perm_has(struct ehr_store_backend *s, int64_t user_id, const char *perm) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_row(s, STMT_PERM_HAS, &st, b_int(user_id), b_text(perm));
        return r == -ENOENT ? -EPERM : r;
}

int ehr_sqlite_perm_foreach(struct ehr_store_backend *s, int64_t user_id, int (*cb)(const char *perm, void *userdata),
                            void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, STMT_PERM_LIST, &st, b_int(user_id));
        each_row(st, r)
                r = cb(col_text(st, 0), userdata);
        return r;
}

/* Support requests */

int ehr_sqlite_request_add(struct ehr_store_backend *s, int64_t for_id, int64_t by_id, int64_t approver_id,
                           const char *state, const char *how, const char *note, uint64_t now_sec, int64_t *ret_id) {
        int r = sql_run(s, STMT_REQ_ADD, b_int(for_id), b_int(by_id), b_int(approver_id), b_text(state), b_text(how),
                        b_text(note ?: ""), b_u64(now_sec));
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

/* The requests of a prepared statement; one: the one asked for (-ENOENT when none). */
static int request_rows(struct ehr_store_backend *s, sqlite3_stmt *st, int (*cb)(const struct ehr_support_request *r,
                        void *userdata), void *userdata, bool one) {
        int k = 0;
        bool any = false;
        each_row(st, k) {
                any = true;
                struct ehr_support_request r;
                k = ehr_row_request(&ROW(s, st), &r);
                k = k < 0 ? k : cb(&r, userdata);
        }
        return k == 0 && one && !any ? -ENOENT : k;
}

int ehr_sqlite_request_get(struct ehr_store_backend *s, int64_t id, int (*cb)(const struct ehr_support_request *r,
                           void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, STMT_REQ_GET, &st, b_int(id));
        return r < 0 ? r : request_rows(s, st, cb, userdata, true);
}

int ehr_sqlite_request_foreach(struct ehr_store_backend *s, int (*cb)(const struct ehr_support_request *r,
                               void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare_binds(s, STMT_REQ_LIST, &st, NULL, 0);
        return r < 0 ? r : request_rows(s, st, cb, userdata, false);
}

int ehr_sqlite_request_decide(struct ehr_store_backend *s, int64_t id, const char *state, const char *how,
                              uint64_t now_sec) {
        return changed_or(sql_run(s, STMT_REQ_DECIDE, b_int(id), b_text(state), b_text(how), b_u64(now_sec)),
                          -EALREADY);
}

/* System accounts and groups */

int ehr_sqlite_user_set_account(struct ehr_store_backend *s, int64_t user_id, int64_t uid, int64_t gid,
                                const char *home, const char *shell) {
        return changed_or(sql_run(s, STMT_USER_SET_ACCOUNT, b_int(user_id), b_int(uid), b_int(gid), b_text(home),
                                  b_text(shell)), -ENOENT);
}

int ehr_sqlite_user_set_locked(struct ehr_store_backend *s, int64_t user_id, bool locked) {
        return changed_or(sql_run(s, STMT_USER_SET_LOCKED, b_int(user_id), b_int(locked)), -ENOENT);
}

int ehr_sqlite_id_used(struct ehr_store_backend *s, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_row(s, STMT_ID_USED, &st, b_int(id));
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        struct ehr_row rd = ROW(s, st);
        bool used = ehr_row_bool(&rd, 0, "id in use");
        return rd.r < 0 ? rd.r : used;
}

int ehr_sqlite_id_high(struct ehr_store_backend *s, int64_t *ret_high) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_ID_HIGH);
        if (!st)
                return -EIO;
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return errno_from_sqlite(rc);
        struct ehr_row rd = ROW(s, st);
        int64_t high = ehr_row_int(&rd, 0, "uid high-water mark", -1, EHR_ROW_UID_MAX);
        if (rd.r < 0)
                return rd.r;
        *ret_high = high;
        return 0;
}

int ehr_sqlite_id_high_raise(struct ehr_store_backend *s, int64_t id) {
        return no_count(sql_run(s, STMT_ID_HIGH_RAISE, b_int(id)));
}

int ehr_sqlite_group_add(struct ehr_store_backend *s, const char *name, int64_t gid) {
        return no_count(sql_run(s, STMT_GROUP_ADD, b_text(name), b_int(gid)));
}

int ehr_sqlite_group_del(struct ehr_store_backend *s, const char *name) {
        return changed_or(sql_run(s, STMT_GROUP_DEL, b_text(name)), -ENOENT);
}

int ehr_sqlite_group_get(struct ehr_store_backend *s, const char *name, int64_t *ret_id, int64_t *ret_gid) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_row(s, STMT_GROUP_GET, &st, b_text(name));
        if (r < 0)
                return r;
        struct ehr_row rd = ROW(s, st);
        int64_t id = ehr_row_int(&rd, 0, "groups.id", 1, EHR_ROW_ID_MAX);
        int64_t gid = ehr_row_int(&rd, 1, "groups.gid", 0, EHR_ROW_UID_MAX);
        if (rd.r < 0)
                return rd.r;
        *ret_id = id;
        *ret_gid = gid;
        return 0;
}

int ehr_sqlite_group_member(struct ehr_store_backend *s, int64_t group_id, int64_t user_id, bool add) {
        return sql_run(s, add ? STMT_GROUP_MEMBER_ADD : STMT_GROUP_MEMBER_DEL, b_int(group_id), b_int(user_id));
}

int ehr_sqlite_group_foreach(struct ehr_store_backend *s, int (*cb)(const struct ehr_group *g, void *userdata),
                             void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare_binds(s, STMT_GROUP_LIST, &st, NULL, 0);
        each_row(st, r) {
                struct ehr_group g;
                r = ehr_row_group(&ROW(s, st), &g);
                r = r < 0 ? r : cb(&g, userdata);
        }
        return r;
}

int ehr_sqlite_group_members(struct ehr_store_backend *s, int64_t group_id, int (*cb)(const char *login,
                             void *userdata), void *userdata) {
        /* A statement of its own, not the kept one: callers read members while they
         * step through the groups. */
        sqlite3_stmt *st = NULL;
        int r = errno_from_sqlite(sqlite3_prepare_v2(s->db, ehr_sqlite_stmt_sql[STMT_GROUP_MEMBERS], -1, &st, NULL));
        if (r >= 0)
                r = bind_all(st, BINDS(b_int(group_id)));
        each_row(st, r)
                r = cb(col_text(st, 0), userdata);
        sqlite3_finalize(st);
        return r;
}

/* Passwords of managed accounts (a crypt(3) string, checked above the seam) */

int ehr_sqlite_password_put(struct ehr_store_backend *s, int64_t user_id, const char *hash, uint64_t now_sec) {
        return no_count(sql_run(s, STMT_PASSWORD_PUT, b_int(user_id), b_text(hash), b_u64(now_sec)));
}

int ehr_sqlite_password_get(struct ehr_store_backend *s, int64_t user_id, char *ret_hash, size_t len,
                            uint64_t *ret_changed_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_row(s, STMT_PASSWORD_GET, &st, b_int(user_id));
        if (r < 0)
                return r;
        struct ehr_row rd = ROW(s, st);
        uint64_t changed = ehr_row_time(&rd, 1, "passwords.changed");
        if (rd.r < 0)
                return rd.r;
        const char *hash = col_text(st, 0);
        if (!hash || strlen(hash) >= len)
                return -ERANGE;
        memcpy(ret_hash, hash, strlen(hash) + 1);
        *ret_changed_sec = changed;
        return 0;
}
