/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PostgreSQL backend: what a login reads and writes (TOTP, recovery codes,
 * failures, the audit chain's rows, SMS tokens, trusted devices, PINs), as
 * store/sqlite/auth.c. Every read-modify-write of one user's state first locks
 * the user's row (ehr_pg_lock_user()), so that hosts acting at once take turns. */

#include "internal.h"

#define each_row(res, k, r) for ((res).row = 0; (r) >= 0 && (res).row < (k); (res).row++)

int ehr_pg_totp_put(struct ehr_store_backend *b, int64_t user_id, const uint8_t *sealed, size_t n,
                    const char *algorithm, unsigned digits, unsigned period, uint64_t now_sec) {
        return no_count(sql_run(b, PG_TOTP_PUT, b_int(user_id), b_blob(sealed, n), b_text(algorithm), b_int(digits),
                                b_int(period), b_u64(now_sec)));
}

int ehr_pg_totp_get(struct ehr_store_backend *b, int64_t user_id, struct ehr_store_totp_row *ret) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_TOTP_GET, &res, b_int(user_id));
        if (r < 0)
                return r;
        return ehr_row_totp(&ROW(b, &res), ret);
}

int ehr_pg_totp_use_step(struct ehr_store_backend *b, int64_t user_id, uint64_t step) {
        return changed_or(sql_run(b, PG_TOTP_USE, b_int(user_id), b_u64(step)), -EALREADY);
}

int ehr_pg_totp_del(struct ehr_store_backend *b, int64_t user_id) {
        return changed_or(sql_run(b, PG_TOTP_DEL, b_int(user_id)), -ENOENT);
}

int ehr_pg_recovery_del(struct ehr_store_backend *b, int64_t user_id) {
        return no_count(sql_run(b, PG_RECOVERY_DEL, b_int(user_id)));
}

int ehr_pg_recovery_replace(struct ehr_store_backend *b, int64_t user_id, const uint8_t (*hashes)[EHR_HASH_BYTES],
                            size_t n) {
        int r = ehr_pg_recovery_del(b, user_id);
        for (size_t i = 0; i < n && r >= 0; i++)
                r = sql_run(b, PG_RECOVERY_ADD, b_int(user_id), b_hash(hashes[i]));
        return no_count(r);
}

/* Single use: one conditional update, whoever presents the code at once. */
int ehr_pg_recovery_use(struct ehr_store_backend *b, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                        uint64_t now_sec) {
        return changed_or(sql_run(b, PG_RECOVERY_USE, b_int(user_id), b_hash(hash), b_u64(now_sec)), -EBADRQC);
}

int ehr_pg_recovery_foreach(struct ehr_store_backend *b, int64_t user_id,
                            int (*cb)(const uint8_t hash[EHR_HASH_BYTES], bool used, void *userdata), void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows(b, PG_RECOVERY_LIST, &res, b_int(user_id)), r = k;
        each_row(res, k, r) {
                uint8_t h[EHR_HASH_BYTES];
                bool used;
                r = ehr_row_recovery(&ROW(b, &res), h, &used);
                r = r < 0 ? r : cb(h, used, userdata);
        }
        return r < 0 ? r : 0;
}

int ehr_pg_failures_get(struct ehr_store_backend *b, int64_t user_id, struct ehr_failures *ret) {
        int r = ehr_pg_lock_user(b, user_id);
        _cleanup_res_ struct pg_res res = {};
        if (r >= 0)
                r = sql_row(b, PG_FAIL_GET, &res, b_int(user_id));
        if (r == -ENOENT) {
                *ret = (struct ehr_failures) {};
                return 0;
        }
        if (r < 0)
                return r;
        return ehr_row_failures(&ROW(b, &res), ret);
}

int ehr_pg_failures_put(struct ehr_store_backend *b, int64_t user_id, const struct ehr_failures *f) {
        return no_count(sql_run(b, PG_FAIL_PUT, b_int(user_id), b_u64(f->count), b_u64(f->first_sec),
                                b_u64(f->last_sec), b_u64(f->consecutive), b_u64(f->locked_until_sec)));
}

int ehr_pg_failures_clear(struct ehr_store_backend *b, int64_t user_id) {
        return no_count(sql_run(b, PG_FAIL_DEL, b_int(user_id)));
}

int ehr_pg_audit_insert(struct ehr_store_backend *b, const struct ehr_audit_row *row) {
        return no_count(sql_run(b, PG_AUDIT_INSERT, b_u64(row->seq), b_u64(row->time_sec), b_text(row->user),
                                b_text(row->actor), b_text(row->type), b_text(row->action), b_text(row->details),
                                b_text(row->source), b_hash(row->mac)));
}

/* Inside a transaction, the head stays locked until it ends: one chain, its
 * appends serialised by the database whichever host makes them. */
int ehr_pg_audit_head_get(struct ehr_store_backend *b, uint64_t *ret_seq, uint8_t ret_mac[EHR_HASH_BYTES]) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows0(b, PG_AUDIT_HEAD_GET, &res), r = k < 0 ? k : k == 0 ? -ENOENT : 0;
        if (r == -ENOENT) {
                *ret_seq = 0;
                memset(ret_mac, 0, EHR_HASH_BYTES);
                return 0;
        }
        if (r < 0)
                return r;
        return ehr_row_audit_head(&ROW(b, &res), 0, ret_seq, ret_mac);
}

int ehr_pg_audit_head_put(struct ehr_store_backend *b, uint64_t seq, const uint8_t mac[EHR_HASH_BYTES]) {
        uint8_t h[EHR_AUDIT_HEAD_BYTES];
        ehr_audit_head_pack(seq, mac, h);
        return no_count(sql_run(b, PG_AUDIT_HEAD_PUT, b_blob(h, sizeof h)));
}

int ehr_pg_audit_foreach(struct ehr_store_backend *b, uint64_t since_sec, uint64_t until_sec, const char *user,
                         int (*cb)(const struct ehr_audit_row *row, void *userdata), void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows(b, PG_AUDIT_LIST, &res, b_u64(since_sec), b_int(until_sec > INT64_MAX ? INT64_MAX :
                         (int64_t) until_sec), b_text(user)), r = k;
        each_row(res, k, r) {
                struct ehr_audit_row row;
                r = ehr_row_audit(&ROW(b, &res), &row);
                r = r < 0 ? r : cb(&row, userdata);
        }
        return r < 0 ? r : 0;
}

int ehr_pg_sms_token_put(struct ehr_store_backend *b, int64_t user_id, const struct ehr_sms_token *t) {
        return no_count(sql_run(b, PG_SMS_PUT, b_int(user_id), b_hash(t->hash), b_u64(t->created_sec),
                                b_u64(t->expires_sec), b_u64(t->tries)));
}

int ehr_pg_sms_token_get(struct ehr_store_backend *b, int64_t user_id, struct ehr_sms_token *ret) {
        int r = ehr_pg_lock_user(b, user_id);
        _cleanup_res_ struct pg_res res = {};
        if (r >= 0)
                r = sql_row(b, PG_SMS_GET, &res, b_int(user_id));
        if (r < 0)
                return r;
        return ehr_row_sms_token(&ROW(b, &res), ret);
}

int ehr_pg_sms_token_del(struct ehr_store_backend *b, int64_t user_id) {
        return no_count(sql_run(b, PG_SMS_DEL, b_int(user_id)));
}

int ehr_pg_sms_token_set_tries(struct ehr_store_backend *b, int64_t user_id, uint64_t tries) {
        return no_count(sql_run(b, PG_SMS_TRIES, b_int(user_id), b_u64(tries)));
}

int ehr_pg_sms_send_nth(struct ehr_store_backend *b, int64_t user_id, uint64_t n, uint64_t *ret_sec) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_SMS_SENDS, &res, b_int(user_id), b_u64(n));
        if (r < 0)
                return r;
        struct ehr_row rd = ROW(b, &res);
        uint64_t t = ehr_row_time(&rd, 0, "sms_sends.time");
        if (rd.r < 0)
                return rd.r;
        *ret_sec = t;
        return 0;
}

int ehr_pg_sms_send_add(struct ehr_store_backend *b, int64_t user_id, uint64_t now_sec, uint64_t forget_before_sec) {
        int r = sql_run(b, PG_SMS_SEND_FORGET, b_int(user_id), b_u64(forget_before_sec));
        if (r >= 0)
                r = sql_run(b, PG_SMS_SEND_ADD, b_int(user_id), b_u64(now_sec));
        return no_count(r);
}

int ehr_pg_device_put(struct ehr_store_backend *b, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                      const char *label, uint64_t now_sec, uint64_t expires_sec, int64_t *ret_id) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_DEV_PUT, &res, b_int(user_id), b_hash(hash), b_text(label), b_u64(now_sec),
                        b_u64(expires_sec));
        return r < 0 ? (r == -ENOENT ? -EIO : r) : ehr_row_id(&ROW(b, &res), "trusted_devices.id", ret_id);
}

int ehr_pg_device_find(struct ehr_store_backend *b, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                       uint64_t now_sec, int64_t *ret_id) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_DEV_FIND, &res, b_int(user_id), b_hash(hash), b_u64(now_sec));
        return r < 0 ? r : ehr_row_id(&ROW(b, &res), "trusted_devices.id", ret_id);
}

int ehr_pg_device_touch(struct ehr_store_backend *b, int64_t id, uint64_t now_sec) {
        return no_count(sql_run(b, PG_DEV_TOUCH, b_int(id), b_u64(now_sec)));
}

int ehr_pg_device_foreach(struct ehr_store_backend *b, int64_t user_id,
                          int (*cb)(const struct ehr_device *d, void *userdata), void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows(b, PG_DEV_LIST, &res, b_int(user_id)), r = k;
        each_row(res, k, r) {
                struct ehr_device d;
                r = ehr_row_device(&ROW(b, &res), &d);
                r = r < 0 ? r : cb(&d, userdata);
        }
        return r < 0 ? r : 0;
}

int ehr_pg_device_del(struct ehr_store_backend *b, int64_t user_id, int64_t id) {
        if (id == 0)
                return sql_run(b, PG_DEV_DEL_ALL, b_int(user_id));
        return sql_run(b, PG_DEV_DEL, b_int(user_id), b_int(id));
}

static int pin_set_state(struct ehr_store_backend *b, enum pg_stmt id, int64_t user_id, const struct ehr_pin_state *ps) {
        return changed_or(sql_run(b, id, b_int(user_id), b_u64(ps->failures), b_u64(ps->locked_until_sec)), -ENOENT);
}

int ehr_pg_support_pin_put(struct ehr_store_backend *b, int64_t user_id, const uint8_t *sealed, size_t n,
                           uint64_t now_sec) {
        return no_count(sql_run(b, PG_SPIN_PUT, b_int(user_id), b_blob(sealed, n), b_u64(now_sec)));
}

int ehr_pg_support_pin_get(struct ehr_store_backend *b, int64_t user_id, struct ehr_store_pin_row *ret) {
        int r = ehr_pg_lock_user(b, user_id);
        _cleanup_res_ struct pg_res res = {};
        if (r >= 0)
                r = sql_row(b, PG_SPIN_GET, &res, b_int(user_id));
        return r < 0 ? r : ehr_row_support_pin(&ROW(b, &res), ret);
}

int ehr_pg_support_pin_set_state(struct ehr_store_backend *b, int64_t user_id, const struct ehr_pin_state *st) {
        return pin_set_state(b, PG_SPIN_STATE, user_id, st);
}

int ehr_pg_unlock_pin_put(struct ehr_store_backend *b, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                          uint64_t now_sec) {
        return no_count(sql_run(b, PG_UPIN_PUT, b_int(user_id), b_hash(hash), b_u64(now_sec)));
}

int ehr_pg_unlock_pin_get(struct ehr_store_backend *b, int64_t user_id, uint8_t ret_hash[EHR_HASH_BYTES],
                          struct ehr_pin_state *ret_state) {
        int r = ehr_pg_lock_user(b, user_id);
        _cleanup_res_ struct pg_res res = {};
        if (r >= 0)
                r = sql_row(b, PG_UPIN_GET, &res, b_int(user_id));
        return r < 0 ? r : ehr_row_unlock_pin(&ROW(b, &res), ret_hash, ret_state);
}

int ehr_pg_unlock_pin_set_state(struct ehr_store_backend *b, int64_t user_id, const struct ehr_pin_state *st) {
        return pin_set_state(b, PG_UPIN_STATE, user_id, st);
}
