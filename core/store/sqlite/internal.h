/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The SQLite backend's own header: its connection, its statements and the
 * helpers its files share. Only core/store/sqlite/ includes it (and with it
 * <sqlite3.h>, through load.h). */

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#include "load.h"
#include "store-backend.h"
#include "store-row.h"
#include "vfs.h"

enum stmt {
        STMT_USER_ADD,
        STMT_USER_GET,
        STMT_USER_DEL,
        STMT_USER_LIST,
        STMT_TOTP_PUT,
        STMT_TOTP_GET,
        STMT_TOTP_USE,
        STMT_TOTP_DEL,
        STMT_RECOVERY_DEL,
        STMT_RECOVERY_ADD,
        STMT_RECOVERY_USE,
        STMT_FAIL_GET,
        STMT_FAIL_PUT,
        STMT_FAIL_DEL,
        STMT_AUDIT_INSERT,
        STMT_AUDIT_LIST,
        STMT_META_GET,
        STMT_META_PUT,
        STMT_SMS_PUT,
        STMT_SMS_GET,
        STMT_SMS_DEL,
        STMT_SMS_TRIES,
        STMT_SMS_SENDS,
        STMT_SMS_SEND_ADD,
        STMT_SMS_SEND_FORGET,
        STMT_DEV_PUT,
        STMT_DEV_FIND,
        STMT_DEV_TOUCH,
        STMT_DEV_LIST,
        STMT_DEV_DEL,
        STMT_DEV_DEL_ALL,
        STMT_USER_SET_PROVIDER,
        STMT_USER_SET_SMS2FA,
        STMT_PERM_GRANT,
        STMT_PERM_REVOKE,
        STMT_PERM_HAS,
        STMT_PERM_LIST,
        STMT_SPIN_PUT,
        STMT_SPIN_GET,
        STMT_SPIN_STATE,
        STMT_UPIN_PUT,
        STMT_UPIN_GET,
        STMT_UPIN_STATE,
        STMT_REQ_ADD,
        STMT_REQ_GET,
        STMT_REQ_LIST,
        STMT_REQ_DECIDE,
        STMT_USER_SET_ACCOUNT,
        STMT_USER_SET_LOCKED,
        STMT_ID_USED,
        STMT_ID_HIGH,
        STMT_ID_HIGH_RAISE,
        STMT_GROUP_ADD,
        STMT_GROUP_DEL,
        STMT_GROUP_GET,
        STMT_GROUP_MEMBER_ADD,
        STMT_GROUP_MEMBER_DEL,
        STMT_GROUP_LIST,
        STMT_GROUP_MEMBERS,
        STMT_PASSWORD_PUT,
        STMT_PASSWORD_GET,
        STMT_USER_PUT,
        STMT_RECOVERY_LIST,
        STMT_RESET_PUT,
        STMT_RESET_FIND,
        STMT_RESET_TAKE,
        STMT_RESET_VOID,
        STMT_RESET_REQ_FORGET,
        STMT_RESET_REQ_ADD,
        STMT_BG_ADD,
        STMT_BG_COUNTS,
        STMT_BG_REVIEW,
        STMT_BG_GET,
        STMT_BG_LIST,
        STMT_GRACE_USE,
        STMT_GRACE_GET,
        _STMT_MAX,
};

extern const char *const ehr_sqlite_stmt_sql[_STMT_MAX];
struct ehr_sqlite_migration {
        int version;
        const char *sql;
};
extern const struct ehr_sqlite_migration ehr_sqlite_migrations[];
extern const size_t ehr_sqlite_migrations_n;

struct ehr_store_backend {
        sqlite3 *db;
        sqlite3_stmt *stmts[_STMT_MAX];
        char *db_path;
        dev_t dev; /* the database file opened (ehr_sqlite_changed()) */
        ino_t ino;
        bool vfs_ref;
        int wal_frames; /* frames in the WAL after this connection's last commit */
        bool long_lived; /* reserve()d (ehr2fad): checkpoints wait for ehr_sqlite_idle() */
        char bad_value[EHR_STORE_BAD_VALUE_MAX]; /* the last impossible value read */
};

static inline int errno_from_sqlite(int rc) {
        if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
                /* A side file the VFS refused: its own reason, not SQLite's CANTOPEN or IOERR. */
                int r = ehr_store_vfs_take_refusal(NULL, 0);
                if (r < 0)
                        return r;
        }
        /* A row that is already there is -EEXIST; any other rule of the schema
         * (CHECK, NOT NULL, FOREIGN KEY) is -EDOM: not "already exists". */
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                return -EEXIST;
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
        case SQLITE_FULL:
                return -EROFS;
        case SQLITE_CONSTRAINT:
                return -EDOM;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_FORMAT:
        case SQLITE_MISMATCH:
                return -EUCLEAN;
        case SQLITE_CANTOPEN:
                return -ENOMEDIUM; /* not -ENOENT: that is "not enrolled", a failure counted */
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES; /* permission denied, as the kernel's: never a wrong code */
        default:
                return -EIO;
        }
}

/* Prepared on first use and kept until ehr_store_free(): a login touches only a few. */
static inline sqlite3_stmt *stmt(struct ehr_store_backend *s, enum stmt id) {
        if (!s->stmts[id] &&
            sqlite3_prepare_v3(s->db, ehr_sqlite_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id],
                               NULL) != SQLITE_OK)
                return NULL;
        return s->stmts[id];
}

static inline void done(sqlite3_stmt *st) {
        if (st) {
                sqlite3_reset(st);
                sqlite3_clear_bindings(st);
        }
}
#define _cleanup_stmt_ _cleanup_(donep)
static inline void donep(sqlite3_stmt **st) {
        done(*st);
}

/* Run a statement that returns no rows; returns changes() or -errno. */
static inline int step_done(struct ehr_store_backend *s, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_DONE ? sqlite3_changes(s->db) : errno_from_sqlite(rc ?: SQLITE_ERROR);
        done(st);
        return r;
}

/* Step a statement expected to return one row: 0 (a row), -ENOENT (none) or -errno. */
static inline int step_row(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : errno_from_sqlite(rc);
}

/* Step through a result: 1 (a row), 0 (no more) or -errno. */
static inline int step_next(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : errno_from_sqlite(rc);
}

/* A statement's parameters, typed: each row function lists its binds in order,
 * as FreeBSD pkg's run_prstmt() does, and the compiler checks each value:
 *         return changed_or(sql_run(s, STMT_TOTP_DEL, b_int(user_id)), -ENOENT); */
struct bind {
        enum { BIND_NULL, BIND_INT, BIND_TEXT, BIND_BLOB } type;
        sqlite3_int64 i;
        const void *p; /* text (NULL binds NULL) or blob */
        int n;         /* blob bytes */
};
#define b_int(v) ((struct bind) { .type = BIND_INT, .i = (v) })
#define b_u64(v) b_int(to_i64(v)) /* times and counts; UINT64_MAX ("forever") is -1 */
#define b_text(v) ((struct bind) { .type = BIND_TEXT, .p = (v) })
#define b_blob(v, len) ((struct bind) { .type = BIND_BLOB, .p = (v), .n = (int) (len) })
#define b_hash(v) b_blob(v, EHR_HASH_BYTES)
#define b_null() ((struct bind) { .type = BIND_NULL })
#define BINDS(...) (const struct bind[]) { __VA_ARGS__ }, sizeof((const struct bind[]) { __VA_ARGS__ }) / sizeof(struct bind)

/* Text and blobs are bound SQLITE_STATIC: every caller steps and resets the
 * statement before its values go out of scope. */
static inline int bind_all(sqlite3_stmt *st, const struct bind *b, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int rc, col = (int) i + 1;
                switch (b[i].type) {
                case BIND_INT:
                        rc = sqlite3_bind_int64(st, col, b[i].i);
                        break;
                case BIND_TEXT:
                        rc = sqlite3_bind_text(st, col, b[i].p, -1, SQLITE_STATIC);
                        break;
                case BIND_BLOB:
                        rc = sqlite3_bind_blob(st, col, b[i].p, b[i].n, SQLITE_STATIC);
                        break;
                default:
                        rc = sqlite3_bind_null(st, col);
                }
                if (rc != SQLITE_OK)
                        return errno_from_sqlite(rc);
        }
        return 0;
}

/* The statement id, prepared (kept, see stmt()) with these binds in *ret; the
 * caller steps it and resets it (_cleanup_stmt_). Returns 0 or -errno. */
static inline int sql_prepare_binds(struct ehr_store_backend *s, enum stmt id, sqlite3_stmt **ret,
                                    const struct bind *b, size_t n) {
        sqlite3_stmt *st = stmt(s, id);
        if (!st)
                return -EIO;
        int r = bind_all(st, b, n);
        if (r < 0) {
                done(st);
                return r;
        }
        *ret = st;
        return 0;
}
#define sql_prepare(s, id, ret, ...) sql_prepare_binds(s, id, ret, BINDS(__VA_ARGS__))

/* Run a statement that returns no rows: the number of rows it changed, or -errno. */
static inline int sql_run_binds(struct ehr_store_backend *s, enum stmt id, const struct bind *b, size_t n) {
        sqlite3_stmt *st = NULL;
        int r = sql_prepare_binds(s, id, &st, b, n);
        return r < 0 ? r : step_done(s, st);
}
#define sql_run(s, id, ...) sql_run_binds(s, id, BINDS(__VA_ARGS__))

/* A statement that returns one row: 0 with *ret on the row (the caller's
 * _cleanup_stmt_ resets it), -ENOENT when there is none, or -errno. */
static inline int sql_row_binds(struct ehr_store_backend *s, enum stmt id, sqlite3_stmt **ret, const struct bind *b,
                                size_t n) {
        int r = sql_prepare_binds(s, id, ret, b, n);
        return r < 0 ? r : step_row(*ret);
}
#define sql_row(s, id, ret, ...) sql_row_binds(s, id, ret, BINDS(__VA_ARGS__))

/* Run the body once for each row of st while r stays >= 0 (the body sets r,
 * from the caller's callback say); r begins as the prepare's result and ends 0
 * after the last row, or the first negative errno:
 *         int r = sql_prepare(s, STMT_PERM_LIST, &st, b_int(user_id));
 *         each_row(st, r)
 *                 r = cb(col_text(st, 0), userdata);
 *         return r; */
#define each_row(st, r) while ((r) >= 0 && ((r) = step_next(st)) > 0)

/* What a write returns: 0 whatever it changed (no_count), or 0 when it changed
 * a row and `none` when it changed nothing (changed_or). */
static inline int no_count(int r) {
        return r < 0 ? r : 0;
}
static inline int changed_or(int r, int none) {
        return r < 0 ? r : r == 0 ? none : 0;
}

/* A row read through the neutral, checked reader (store-row.h): ROW(s, st) on
 * the statement's current row; bad values are named in s->bad_value. */
extern const struct ehr_row_ops ehr_sqlite_row_ops;
#define ROW(s, st) ((struct ehr_row) { &ehr_sqlite_row_ops, (st), (s)->bad_value, 0 })

static inline int exec(struct ehr_store_backend *s, const char *sql) {
        return errno_from_sqlite(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

static inline const char *col_text(sqlite3_stmt *st, int col) {
        const unsigned char *t = sqlite3_column_text(st, col);
        return t ? (const char *) t : "";
}

static inline sqlite3_int64 to_i64(uint64_t v) {
        /* SQLite integers are signed; "forever" (UINT64_MAX) is stored as -1 and read back by ehr_row_until(). */
        return v > INT64_MAX ? -1 : (sqlite3_int64) v;
}

/* The operations (ops.c puts them in the table), declared from store-backend.h's list. */
#define EHR_SQLITE_OP_DECLARE(type, op, params) type ehr_sqlite_##op params;
EHR_STORE_OPS(EHR_SQLITE_OP_DECLARE)
#undef EHR_SQLITE_OP_DECLARE
