/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Part of the SQLite backend (core/store/sqlite/): its files include this instead
 * of <sqlite3.h> and call SQLite through a table that ehr_sqlite_load() fills
 * from libsqlite3.so.0 with dlopen(), on the first ehr_store_open().
 *
 * Why: libpam loads pam_ehr2fa.so afresh in every login process, and loading
 * libsqlite3 (relocating it) cost about 0.44 ms there, more than all of
 * pam_oath.so; a login answered by ehr2fad never touches the store, so it no
 * longer pays for it. The library stays loaded once loaded (it is never
 * closed: a host that logs in again must not load it again). Each use below
 * is the same call, by the same name, as with <sqlite3.h> alone. */

#include <sqlite3.h>

#define EHR_SQLITE_SONAME "libsqlite3.so.0"

#define EHR_SQLITE_FUNCS(X) \
        X(bind_blob) \
        X(bind_int) \
        X(bind_int64) \
        X(bind_null) \
        X(bind_text) \
        X(busy_timeout) \
        X(changes) \
        X(clear_bindings) \
        X(close_v2) \
        X(config) \
        X(column_blob) \
        X(column_bytes) \
        X(column_int) \
        X(column_int64) \
        X(column_text) \
        X(column_type) \
        X(db_config) \
        X(errmsg) \
        X(exec) \
        X(extended_result_codes) \
        X(file_control) \
        X(finalize) \
        X(get_autocommit) \
        X(last_insert_rowid) \
        X(next_stmt) \
        X(open_v2) \
        X(prepare_v2) \
        X(prepare_v3) \
        X(reset) \
        X(step) \
        X(stmt_busy) \
        X(vfs_find) \
        X(vfs_register) \
        X(vfs_unregister) \
        X(wal_checkpoint_v2) \
        X(wal_hook)

struct ehr_sqlite_api {
#define EHR_SQLITE_FIELD(f) __typeof__(&sqlite3_##f) f;
        EHR_SQLITE_FUNCS(EHR_SQLITE_FIELD)
#undef EHR_SQLITE_FIELD
};
extern struct ehr_sqlite_api ehr_sqlite;

/* Load libsqlite3 once (thread-safe). Returns 0, or -ELIBACC (not installed),
 * -ELIBBAD (a function is missing: older than this build needs); *ret_why
 * then says which, for the caller's message. */
int ehr_sqlite_load(const char **ret_why);

#ifndef EHR_SQLITE_LOAD_IMPL
#define sqlite3_bind_blob ehr_sqlite.bind_blob
#define sqlite3_bind_int ehr_sqlite.bind_int
#define sqlite3_bind_int64 ehr_sqlite.bind_int64
#define sqlite3_bind_null ehr_sqlite.bind_null
#define sqlite3_bind_text ehr_sqlite.bind_text
#define sqlite3_busy_timeout ehr_sqlite.busy_timeout
#define sqlite3_changes ehr_sqlite.changes
#define sqlite3_clear_bindings ehr_sqlite.clear_bindings
#define sqlite3_close_v2 ehr_sqlite.close_v2
#define sqlite3_config ehr_sqlite.config
#define sqlite3_column_blob ehr_sqlite.column_blob
#define sqlite3_column_bytes ehr_sqlite.column_bytes
#define sqlite3_column_int ehr_sqlite.column_int
#define sqlite3_column_int64 ehr_sqlite.column_int64
#define sqlite3_column_text ehr_sqlite.column_text
#define sqlite3_column_type ehr_sqlite.column_type
#define sqlite3_db_config ehr_sqlite.db_config
#define sqlite3_errmsg ehr_sqlite.errmsg
#define sqlite3_exec ehr_sqlite.exec
#define sqlite3_extended_result_codes ehr_sqlite.extended_result_codes
#define sqlite3_file_control ehr_sqlite.file_control
#define sqlite3_finalize ehr_sqlite.finalize
#define sqlite3_get_autocommit ehr_sqlite.get_autocommit
#define sqlite3_last_insert_rowid ehr_sqlite.last_insert_rowid
#define sqlite3_next_stmt ehr_sqlite.next_stmt
#define sqlite3_open_v2 ehr_sqlite.open_v2
#define sqlite3_prepare_v2 ehr_sqlite.prepare_v2
#define sqlite3_prepare_v3 ehr_sqlite.prepare_v3
#define sqlite3_reset ehr_sqlite.reset
#define sqlite3_step ehr_sqlite.step
#define sqlite3_stmt_busy ehr_sqlite.stmt_busy
#define sqlite3_vfs_find ehr_sqlite.vfs_find
#define sqlite3_vfs_register ehr_sqlite.vfs_register
#define sqlite3_vfs_unregister ehr_sqlite.vfs_unregister
#define sqlite3_wal_checkpoint_v2 ehr_sqlite.wal_checkpoint_v2
#define sqlite3_wal_hook ehr_sqlite.wal_hook
#endif
