/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite backend: users, their system accounts and groups, permissions and
 * support requests. */

#include "internal.h"

/* Users */

static int user_from_row(struct ehr_store_backend *s, sqlite3_stmt *st, struct ehr_user **ret) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = calloc(1, sizeof *u);
        if (!u)
                return -ENOMEM;
        struct reader rd = { s, st, 0 };
        u->id = read_int(&rd, 0, "users.id", 1, ID_MAX);
        u->login = column_strdup(st, 1);
        u->name = column_strdup(st, 2);
        u->email = column_strdup(st, 3);
        u->phone = column_strdup(st, 4);
        u->role = column_strdup(st, 5);
        u->created_sec = read_time(&rd, 6, "users.created");
        u->totp_enrolled = read_bool(&rd, 7, "totp enrolled");
        u->recovery_left = (unsigned) read_uint(&rd, 8, "recovery codes left", EHR_STORE_COUNT_MAX);
        u->provider = column_strdup(st, 9);
        u->sms_2fa_id = column_strdup(st, 10);
        u->uid = read_int(&rd, 11, "users.uid", -1, UID_MAX);
        u->gid = read_int(&rd, 12, "users.gid", -1, UID_MAX);
        u->home = column_strdup(st, 13);
        u->shell = column_strdup(st, 14);
        u->locked = read_bool(&rd, 15, "users.locked");
        if (rd.r < 0)
                return rd.r;
        if (!u->login || !u->name || !u->email || !u->phone || !u->role || !u->provider || !u->sms_2fa_id ||
            !u->home || !u->shell)
                return -ENOMEM;
        *ret = TAKE_PTR(u);
        return 0;
}

int ehr_sqlite_user_add(struct ehr_store_backend *s, const struct ehr_user *u, uint64_t now_sec, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_ADD);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, u->login, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, u->name ?: "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, u->email ?: "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, u->phone ?: "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, u->role, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) now_sec);
        int r = step_done(s, st);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

int ehr_sqlite_user_get(struct ehr_store_backend *s, const char *login, struct ehr_user **ret) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
        int found = step_row(st);
        if (found < 0)
                return found;
        return user_from_row(s, st, ret);
}

int ehr_sqlite_user_del(struct ehr_store_backend *s, const char *login) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_sqlite_user_foreach(struct ehr_store_backend *s, int (*cb)(const struct ehr_user *u, void *userdata),
                            void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_LIST);
        if (!st)
                return -EIO;
        for (;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more;
                _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
                int r = user_from_row(s, st, &u);
                if (r < 0)
                        return r;
                r = cb(u, userdata);
                if (r < 0)
                        return r;
        }
}

/* Users: provider and staff 2FA */

static int update_user(struct ehr_store_backend *s, enum stmt id, int64_t user_id, sqlite3_int64 ival, const char *sval,
                       bool is_text) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, id);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        if (is_text) {
                if (sval)
                        sqlite3_bind_text(st, 2, sval, -1, SQLITE_STATIC);
                else
                        sqlite3_bind_null(st, 2);
        } else if (ival)
                sqlite3_bind_int64(st, 2, ival);
        else
                sqlite3_bind_null(st, 2);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_sqlite_user_set_provider(struct ehr_store_backend *s, int64_t user_id, int64_t provider_id) {
        return update_user(s, STMT_USER_SET_PROVIDER, user_id, provider_id, NULL, false);
}

int ehr_sqlite_user_set_sms_2fa(struct ehr_store_backend *s, int64_t user_id, const char *id) {
        return update_user(s, STMT_USER_SET_SMS2FA, user_id, 0, id, true);
}

/* Permissions */

int ehr_sqlite_perm_grant(struct ehr_store_backend *s, int64_t user_id, const char *perm, uint64_t now_sec,
                          const char *by) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_PERM_GRANT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_text(st, 2, perm, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, to_i64(now_sec));
        sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_sqlite_perm_revoke(struct ehr_store_backend *s, int64_t user_id, const char *perm) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_PERM_REVOKE);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_text(st, 2, perm, -1, SQLITE_STATIC);
        return step_done(s, st);
}

int ehr_sqlite_perm_has(struct ehr_store_backend *s, int64_t user_id, const char *perm) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_PERM_HAS);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_text(st, 2, perm, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -EPERM : errno_from_sqlite(rc);
}

int ehr_sqlite_perm_foreach(struct ehr_store_backend *s, int64_t user_id, int (*cb)(const char *perm, void *userdata),
                           void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_PERM_LIST);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        for (;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more;
                int r = cb(col_text(st, 0), userdata);
                if (r < 0)
                        return r;
        }
}

/* Support requests */

int ehr_sqlite_request_add(struct ehr_store_backend *s, int64_t for_id, int64_t by_id, int64_t approver_id,
                           const char *state,
                          const char *how, const char *note, uint64_t now_sec, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_REQ_ADD);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, for_id);
        sqlite3_bind_int64(st, 2, by_id);
        sqlite3_bind_int64(st, 3, approver_id);
        sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, how, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, note ?: "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, to_i64(now_sec));
        int r = step_done(s, st);
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

static int request_rows(struct ehr_store_backend *s, sqlite3_stmt *st, int (*cb)(const struct ehr_support_request *r,
                        void *userdata),
                        void *userdata, bool one) {
        for (bool any = false;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more == 0 && one && !any ? -ENOENT : more;
                any = true;
                struct reader rd = { s, st, 0 };
                struct ehr_support_request r = {
                        .id = read_int(&rd, 0, "support_requests.id", 1, ID_MAX),
                        .for_login = col_text(st, 1),
                        .by_login = col_text(st, 2),
                        .approver_login = col_text(st, 3),
                        .state = col_text(st, 4),
                        .how = col_text(st, 5),
                        .note = col_text(st, 6),
                        .created_sec = read_time(&rd, 7, "support_requests.created"),
                        .decided_sec = read_time(&rd, 8, "support_requests.decided"),
                };
                int k = rd.r < 0 ? rd.r : cb(&r, userdata);
                if (k < 0)
                        return k;
        }
}

int ehr_sqlite_request_get(struct ehr_store_backend *s, int64_t id, int (*cb)(const struct ehr_support_request *r,
                           void *userdata),
                          void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_REQ_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        return request_rows(s, st, cb, userdata, true);
}

int ehr_sqlite_request_foreach(struct ehr_store_backend *s, int (*cb)(const struct ehr_support_request *r,
                               void *userdata),
                              void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_REQ_LIST);
        if (!st)
                return -EIO;
        return request_rows(s, st, cb, userdata, false);
}

int ehr_sqlite_request_decide(struct ehr_store_backend *s, int64_t id, const char *state, const char *how,
                              uint64_t now_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_REQ_DECIDE);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, how, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, to_i64(now_sec));
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -EALREADY : 0;
}

/* System accounts and groups */

int ehr_sqlite_user_set_account(struct ehr_store_backend *s, int64_t user_id, int64_t uid, int64_t gid,
                                const char *home,
                               const char *shell) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_SET_ACCOUNT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, uid);
        sqlite3_bind_int64(st, 3, gid);
        sqlite3_bind_text(st, 4, home, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, shell, -1, SQLITE_STATIC);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_sqlite_user_set_locked(struct ehr_store_backend *s, int64_t user_id, bool locked) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_SET_LOCKED);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int(st, 2, locked);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_sqlite_id_used(struct ehr_store_backend *s, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_ID_USED);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return errno_from_sqlite(rc);
        struct reader rd = { s, st, 0 };
        bool used = read_bool(&rd, 0, "id in use");
        return rd.r < 0 ? rd.r : used;
}

int ehr_sqlite_group_add(struct ehr_store_backend *s, const char *name, int64_t gid) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_GROUP_ADD);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, gid);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_sqlite_group_del(struct ehr_store_backend *s, const char *name) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_GROUP_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_sqlite_group_get(struct ehr_store_backend *s, const char *name, int64_t *ret_id, int64_t *ret_gid) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_GROUP_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int found = step_row(st);
        if (found < 0)
                return found;
        struct reader rd = { s, st, 0 };
        int64_t id = read_int(&rd, 0, "groups.id", 1, ID_MAX), gid = read_int(&rd, 1, "groups.gid", 0, UID_MAX);
        if (rd.r < 0)
                return rd.r;
        *ret_id = id;
        *ret_gid = gid;
        return 0;
}

int ehr_sqlite_group_member(struct ehr_store_backend *s, int64_t group_id, int64_t user_id, bool add) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, add ? STMT_GROUP_MEMBER_ADD : STMT_GROUP_MEMBER_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, group_id);
        sqlite3_bind_int64(st, 2, user_id);
        return step_done(s, st);
}

int ehr_sqlite_group_foreach(struct ehr_store_backend *s, int (*cb)(const struct ehr_group *g, void *userdata),
                             void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_GROUP_LIST);
        if (!st)
                return -EIO;
        for (;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more;
                struct reader rd = { s, st, 0 };
                struct ehr_group g = {
                        .id = read_int(&rd, 0, "groups.id", 1, ID_MAX),
                        .gid = read_int(&rd, 1, "groups.gid", 0, UID_MAX),
                        .name = col_text(st, 2),
                };
                int r = rd.r < 0 ? rd.r : cb(&g, userdata);
                if (r < 0)
                        return r;
        }
}

int ehr_sqlite_group_members(struct ehr_store_backend *s, int64_t group_id, int (*cb)(const char *login,
                             void *userdata),
                            void *userdata) {
        /* A separate statement handle: callers iterate groups while reading members. */
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, ehr_sqlite_stmt_sql[STMT_GROUP_MEMBERS], -1, &st, NULL);
        if (rc != SQLITE_OK)
                return errno_from_sqlite(rc);
        sqlite3_bind_int64(st, 1, group_id);
        int r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && (r = cb(col_text(st, 0), userdata)) >= 0)
                ;
        if (r >= 0 && rc != SQLITE_DONE)
                r = errno_from_sqlite(rc);
        sqlite3_finalize(st);
        return r;
}
