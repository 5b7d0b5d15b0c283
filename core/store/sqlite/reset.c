/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite backend's rows of the forgotten-password reset: tokens (keyed hashes)
 * and the requests counted for its rate limits. Contracts: store-backend.h. */

#include "internal.h"

int ehr_sqlite_reset_token_put(struct ehr_store_backend *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                               uint64_t now_sec, uint64_t expires_sec) {
        return no_count(sql_run(s, STMT_RESET_PUT, b_hash(hash), b_int(user_id), b_u64(now_sec), b_u64(expires_sec)));
}

/* A row of (user_id, expires), read through the checked reader. */
static int token_row(struct ehr_store_backend *s, sqlite3_stmt *st, int64_t *ret_user_id, uint64_t *ret_expires_sec) {
        return ehr_row_reset_token(&ROW(s, st), ret_user_id, ret_expires_sec);
}

int ehr_sqlite_reset_token_find(struct ehr_store_backend *s, const uint8_t hash[EHR_HASH_BYTES], int64_t *ret_user_id,
                                uint64_t *ret_expires_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_row(s, STMT_RESET_FIND, &st, b_hash(hash));
        return r < 0 ? r : token_row(s, st, ret_user_id, ret_expires_sec);
}

int ehr_sqlite_reset_token_take(struct ehr_store_backend *s, const uint8_t hash[EHR_HASH_BYTES], int64_t *ret_user_id,
                                uint64_t *ret_expires_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        /* DELETE ... RETURNING: the delete is done by the first step; the row it returns
         * is the one it deleted (none: used, voided, or never made). */
        int r = sql_row(s, STMT_RESET_TAKE, &st, b_hash(hash));
        if (r < 0)
                return r;
        r = token_row(s, st, ret_user_id, ret_expires_sec);
        /* Run it to its end, so the statement is complete before the transaction goes on. */
        while (r >= 0 && (r = step_next(st)) > 0)
                ;
        return r;
}

int ehr_sqlite_reset_token_void(struct ehr_store_backend *s, int64_t user_id, uint64_t now_sec) {
        return no_count(sql_run(s, STMT_RESET_VOID, b_int(user_id), b_u64(now_sec)));
}

int ehr_sqlite_reset_request_add(struct ehr_store_backend *s, const uint8_t key[EHR_HASH_BYTES], uint64_t now_sec,
                                 uint64_t since_sec, uint64_t max) {
        int r = sql_run(s, STMT_RESET_REQ_FORGET, b_u64(since_sec));
        if (r >= 0)
                r = sql_run(s, STMT_RESET_REQ_ADD, b_hash(key), b_u64(now_sec), b_u64(since_sec), b_u64(max));
        return changed_or(r, -ETOOMANYREFS);
}
