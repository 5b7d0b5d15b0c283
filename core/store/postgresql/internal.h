/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The PostgreSQL backend's own header: its connection, its statements and the
 * helpers its files share. Only core/store/postgresql/ includes it (and with
 * it <libpq-fe.h>, through load.h). */

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#include "load.h"
#include "store-backend.h"
#include "store-row.h"

enum pg_stmt {
        PG_USER_ADD, PG_USER_GET, PG_USER_DEL, PG_USER_LIST, PG_USER_LOCK,
        PG_TOTP_PUT, PG_TOTP_GET, PG_TOTP_USE, PG_TOTP_DEL,
        PG_RECOVERY_DEL, PG_RECOVERY_ADD, PG_RECOVERY_USE,
        PG_FAIL_GET, PG_FAIL_PUT, PG_FAIL_DEL,
        PG_AUDIT_INSERT, PG_AUDIT_LIST, PG_AUDIT_HEAD_GET, PG_AUDIT_HEAD_PUT,
        PG_SMS_PUT, PG_SMS_GET, PG_SMS_DEL, PG_SMS_TRIES, PG_SMS_SENDS, PG_SMS_SEND_ADD, PG_SMS_SEND_FORGET,
        PG_DEV_PUT, PG_DEV_FIND, PG_DEV_TOUCH, PG_DEV_LIST, PG_DEV_DEL, PG_DEV_DEL_ALL,
        PG_USER_SET_PROVIDER, PG_USER_SET_SMS2FA,
        PG_PERM_GRANT, PG_PERM_REVOKE, PG_PERM_HAS, PG_PERM_LIST,
        PG_SPIN_PUT, PG_SPIN_GET, PG_SPIN_STATE, PG_UPIN_PUT, PG_UPIN_GET, PG_UPIN_STATE,
        PG_REQ_ADD, PG_REQ_GET, PG_REQ_LIST, PG_REQ_DECIDE,
        PG_USER_SET_ACCOUNT, PG_USER_SET_LOCKED, PG_ID_USED, PG_ID_HIGH, PG_ID_HIGH_RAISE,
        PG_GROUP_ADD, PG_GROUP_DEL, PG_GROUP_GET, PG_GROUP_MEMBER_ADD, PG_GROUP_MEMBER_DEL, PG_GROUP_LIST,
        PG_GROUP_MEMBERS,
        PG_USER_PUT, PG_RECOVERY_LIST, PG_PASSWORD_PUT, PG_PASSWORD_GET, PG_GRACE_USE, PG_GRACE_GET,
        PG_RESET_PUT, PG_RESET_FIND, PG_RESET_TAKE, PG_RESET_VOID, PG_RESET_REQ_FORGET, PG_RESET_REQ_ADD,
        PG_BG_LOCK, PG_BG_ADD, PG_BG_COUNTS, PG_BG_REVIEW, PG_BG_GET, PG_BG_LIST,
        PG_SCHEMA_HAS_META, PG_SCHEMA_TABLES, PG_VERSION_GET, PG_VERSION_PUT,
        _PG_STMT_MAX,
};

extern const char *const ehr_pg_stmt_sql[_PG_STMT_MAX];
struct ehr_pg_migration {
        int version;
        const char *sql;
};
extern const struct ehr_pg_migration ehr_pg_migrations[];
extern const size_t ehr_pg_migrations_n;
/* Taken by each migration's transaction (db.c). */
extern const char ehr_pg_sql_migrate_lock[];

#define EHR_PG_KEYWORDS_MAX 8U

struct ehr_store_backend {
        PGconn *conn;
        pid_t pid;                    /* the process that made conn: a child never uses it */
        bool prepared[_PG_STMT_MAX];  /* on this connection */
        bool opened;                  /* open() is done: a reconnect checks the schema again */
        bool in_tx, tx_lost;          /* a transaction is open; its connection was lost */
        int64_t locked_user;          /* the user whose row this transaction holds locked, 0 if none */
        uint64_t timeout_ms;
        uint64_t retry_at_ms, backoff_ms; /* after a failed connect: fail at once until then */
        const char *kw[EHR_PG_KEYWORDS_MAX + 1], *val[EHR_PG_KEYWORDS_MAX + 1];
        char *locator, *password, *options, *connect_timeout;
        char location[200];           /* host and database, never a password */
        char last_error[160];         /* the server's message for the last failed statement */
        char err[512];                /* why the connection was lost, for the next open's message */
        char bad_value[EHR_STORE_BAD_VALUE_MAX];
};

/* The result of one statement: rows (PGRES_TUPLES_OK) or a command's count. */
struct pg_res {
        PGresult *res;
        int row;
};

/* A statement's parameters, typed, as in the SQLite backend: integers and text
 * are sent as text, blobs as binary. */
struct bind {
        enum { BIND_NULL, BIND_INT, BIND_TEXT, BIND_BLOB } type;
        int64_t i;
        const void *p;
        size_t n;
};
#define b_int(v) ((struct bind) { .type = BIND_INT, .i = (v) })
#define b_u64(v) b_int(to_i64(v))
#define b_text(v) ((struct bind) { .type = (v) ? BIND_TEXT : BIND_NULL, .p = (v) })
#define b_blob(v, len) ((struct bind) { .type = BIND_BLOB, .p = (v), .n = (len) })
#define b_hash(v) b_blob(v, EHR_HASH_BYTES)
#define b_null() ((struct bind) { .type = BIND_NULL })
#define BINDS(...) (const struct bind[]) { __VA_ARGS__ }, sizeof((const struct bind[]) { __VA_ARGS__ }) / sizeof(struct bind)

static inline int64_t to_i64(uint64_t v) {
        return v > INT64_MAX ? -1 : (int64_t) v; /* "forever" (UINT64_MAX) is stored as -1 */
}

/* conn.c: run statement id with its binds; on success *ret holds the result
 * (free with pg_done()). Returns the rows changed or returned, or -errno. */
int ehr_pg_run(struct ehr_store_backend *b, enum pg_stmt id, const struct bind *bv, size_t n, struct pg_res *ret);
void ehr_pg_done(struct pg_res *r);
#define _cleanup_res_ _cleanup_(ehr_pg_done)
/* A statement without a name (BEGIN, a migration) with at most one text
 * parameter: the rows it changed, or -errno. */
int ehr_pg_exec(struct ehr_store_backend *b, const char *sql, const char *param);
/* Connect now if not connected (0 or -errno); drop the connection; why it was lost. */
int ehr_pg_connect(struct ehr_store_backend *b);
void ehr_pg_close(struct ehr_store_backend *b);
const char *ehr_pg_lost_reason(const struct ehr_store_backend *b);
/* The schema is this build's (db.c): 0, or -EPROTO with the reason in b->err. */
int ehr_pg_version_check(struct ehr_store_backend *b);
/* Prepare statement id on this connection now (ehr2fad's reserve). */
int ehr_pg_prepare(struct ehr_store_backend *b, enum pg_stmt id);
/* Lock the user's row for the rest of the transaction (no-op outside one). */
int ehr_pg_lock_user(struct ehr_store_backend *b, int64_t user_id);

/* A statement's result, without rows: the count, or -errno. */
static inline int sql_run_binds(struct ehr_store_backend *b, enum pg_stmt id, const struct bind *bv, size_t n) {
        struct pg_res r = {};
        int k = ehr_pg_run(b, id, bv, n, &r);
        ehr_pg_done(&r);
        return k;
}
#define sql_run(b, id, ...) sql_run_binds(b, id, BINDS(__VA_ARGS__))
/* Rows into *res: 0 and the first row (-ENOENT when none), or -errno. */
static inline int sql_row_binds(struct ehr_store_backend *b, enum pg_stmt id, struct pg_res *res,
                                const struct bind *bv, size_t n) {
        int k = ehr_pg_run(b, id, bv, n, res);
        return k < 0 ? k : k == 0 ? -ENOENT : 0;
}
#define sql_row(b, id, res, ...) sql_row_binds(b, id, res, BINDS(__VA_ARGS__))
#define sql_rows(b, id, res, ...) ehr_pg_run(b, id, BINDS(__VA_ARGS__), res)
#define sql_rows0(b, id, res) ehr_pg_run(b, id, NULL, 0, res)

static inline int no_count(int r) {
        return r < 0 ? r : 0;
}
static inline int changed_or(int r, int none) {
        return r < 0 ? r : r == 0 ? none : 0;
}

static inline const char *col_text(const struct pg_res *r, int col) {
        const char *v = col < PQnfields(r->res) ? PQgetvalue(r->res, r->row, col) : NULL;
        return v ? v : ""; /* a column that is not there reads as empty, never as NULL */
}
static inline bool col_null(const struct pg_res *r, int col) {
        return col >= PQnfields(r->res) || PQgetisnull(r->res, r->row, col);
}

/* A row read through the neutral, checked reader (store-row.h): ROW(b, res) on
 * res's current row; bad values are named in b->bad_value. */
extern const struct ehr_row_ops ehr_pg_row_ops;
#define ROW(b, res) ((struct ehr_row) { &ehr_pg_row_ops, (res), (b)->bad_value, 0 })

/* The operations (ops.c puts them in the table), declared from store-backend.h's list. */
#define EHR_PG_OP_DECLARE(type, op, params) type ehr_pg_##op params;
EHR_STORE_OPS(EHR_PG_OP_DECLARE)
#undef EHR_PG_OP_DECLARE
