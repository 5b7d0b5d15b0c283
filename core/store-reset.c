/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's neutral part for password reset codes and their request counts
 * (core/reset.c): the public wrappers over the backend's operations. */

#include "store-internal.h"

int ehr_store_reset_token_put(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                              uint64_t now_sec, uint64_t expires_sec) {
        return s->ops->reset_token_put(s->b, user_id, hash, now_sec, expires_sec);
}

int ehr_store_reset_token_find(struct ehr_store *s, const uint8_t hash[EHR_HASH_BYTES], int64_t *ret_user_id,
                               uint64_t *ret_expires_sec) {
        return s->ops->reset_token_find(s->b, hash, ret_user_id, ret_expires_sec);
}

int ehr_store_reset_token_take(struct ehr_store *s, const uint8_t hash[EHR_HASH_BYTES], int64_t *ret_user_id,
                               uint64_t *ret_expires_sec) {
        return s->ops->reset_token_take(s->b, hash, ret_user_id, ret_expires_sec);
}

int ehr_store_reset_token_void(struct ehr_store *s, int64_t user_id, uint64_t now_sec) {
        return s->ops->reset_token_void(s->b, user_id, now_sec);
}

int ehr_store_reset_request_add(struct ehr_store *s, const uint8_t key[EHR_HASH_BYTES], uint64_t now_sec,
                                uint64_t since_sec, uint64_t max) {
        return s->ops->reset_request_add(s->b, key, now_sec, since_sec, max);
}
