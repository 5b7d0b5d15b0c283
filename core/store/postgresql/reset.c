/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PostgreSQL backend's rows of the forgotten-password reset: tokens (keyed
 * hashes) and the requests counted for its rate limits. Contracts: store-backend.h. */

#include "internal.h"

int ehr_pg_reset_token_put(struct ehr_store_backend *b, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                           uint64_t now_sec, uint64_t expires_sec) {
        return no_count(sql_run(b, PG_RESET_PUT, b_hash(hash), b_int(user_id), b_u64(now_sec), b_u64(expires_sec)));
}

static int token_row(struct ehr_store_backend *b, const struct pg_res *res, int64_t *ret_user_id,
                     uint64_t *ret_expires_sec) {
        return ehr_row_reset_token(&ROW(b, res), ret_user_id, ret_expires_sec);
}

int ehr_pg_reset_token_find(struct ehr_store_backend *b, const uint8_t hash[EHR_HASH_BYTES], int64_t *ret_user_id,
                            uint64_t *ret_expires_sec) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_RESET_FIND, &res, b_hash(hash));
        return r < 0 ? r : token_row(b, &res, ret_user_id, ret_expires_sec);
}

int ehr_pg_reset_token_take(struct ehr_store_backend *b, const uint8_t hash[EHR_HASH_BYTES], int64_t *ret_user_id,
                            uint64_t *ret_expires_sec) {
        _cleanup_res_ struct pg_res res = {};
        /* DELETE ... RETURNING: the row it returns is the one this statement deleted. */
        int r = sql_row(b, PG_RESET_TAKE, &res, b_hash(hash));
        return r < 0 ? r : token_row(b, &res, ret_user_id, ret_expires_sec);
}

int ehr_pg_reset_token_void(struct ehr_store_backend *b, int64_t user_id, uint64_t now_sec) {
        return no_count(sql_run(b, PG_RESET_VOID, b_int(user_id), b_u64(now_sec)));
}

int ehr_pg_reset_request_add(struct ehr_store_backend *b, const uint8_t key[EHR_HASH_BYTES], uint64_t now_sec,
                             uint64_t since_sec, uint64_t max) {
        int r = sql_run(b, PG_RESET_REQ_FORGET, b_u64(since_sec));
        if (r >= 0)
                r = sql_run(b, PG_RESET_REQ_ADD, b_hash(key), b_u64(now_sec), b_u64(since_sec), b_u64(max));
        return changed_or(r, -ETOOMANYREFS);
}
