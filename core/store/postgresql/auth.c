/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PostgreSQL backend: what a login reads and writes (TOTP, recovery codes,
 * failures, the audit chain's rows, SMS tokens, trusted devices, PINs), as
 * store/sqlite/auth.c, and the checked readers of its values. Every
 * read-modify-write of one user's state first locks the user's row
 * (ehr_pg_lock_user()), so that hosts acting at once take turns. */

#include "internal.h"

#define each_row(res, k, r) for ((res).row = 0; (r) >= 0 && (res).row < (k); (res).row++)

int64_t ehr_pg_read_int(struct reader *rd, int col, const char *what, int64_t min, int64_t max) {
        if (rd->r < 0)
                return 0;
        const char *t = col_null(rd->res, col) ? NULL : col_text(rd->res, col);
        char *end = NULL;
        errno = 0;
        long long v = t && *t ? strtoll(t, &end, 10) : 0;
        bool integer = t && *t && end && !*end && errno == 0;
        if (integer && v >= min && v <= max)
                return v;
        if (integer)
                snprintf(rd->b->bad_value, sizeof rd->b->bad_value, "%s = %lld (expected %lld..%lld)", what, v,
                         (long long) min, (long long) max);
        else
                snprintf(rd->b->bad_value, sizeof rd->b->bad_value, "%s is not an integer", what);
        rd->r = -EOVERFLOW;
        return 0;
}

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int ehr_pg_col_blob(const struct pg_res *r, int col, uint8_t *buf, size_t cap) {
        if (col_null(r, col))
                return -EBADMSG;
        const char *t = col_text(r, col);
        size_t n = strlen(t);
        if (n < 2 || t[0] != '\\' || t[1] != 'x' || n % 2 != 0 || (n - 2) / 2 > cap)
                return -EBADMSG;
        for (size_t i = 0; i < (n - 2) / 2; i++) {
                int hi = hexval(t[2 + 2 * i]), lo = hexval(t[3 + 2 * i]);
                if (hi < 0 || lo < 0)
                        return -EBADMSG;
                buf[i] = (uint8_t) (hi << 4 | lo);
        }
        return (int) ((n - 2) / 2);
}

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
        struct reader rd = { b, &res, 0 };
        ret->digits = (unsigned) read_uint(&rd, 2, "totp.digits", EHR_OTP_DIGITS_MAX);
        ret->period = (unsigned) read_uint(&rd, 3, "totp.period", UINT32_MAX);
        ret->have_last_step = !col_null(&res, 4);
        ret->last_step = ret->have_last_step ? read_time(&rd, 4, "totp.last_step") : 0;
        if (rd.r < 0)
                return rd.r;
        const char *alg = col_text(&res, 1);
        if (strlen(alg) >= sizeof ret->algorithm)
                return -EBADMSG;
        strcpy(ret->algorithm, alg);
        int n = ehr_pg_col_blob(&res, 0, ret->sealed, sizeof ret->sealed);
        if (n <= 0)
                return -EBADMSG;
        ret->sealed_len = (size_t) n;
        return 0;
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
                struct reader rd = { b, &res, 0 };
                bool used = read_bool(&rd, 1, "recovery_codes.used");
                r = rd.r < 0 ? rd.r : column_hash(&res, 0, h) < 0 ? -EBADMSG : cb(h, used, userdata);
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
        struct reader rd = { b, &res, 0 };
        struct ehr_failures f = {
                .count = read_uint(&rd, 0, "failures.count", EHR_STORE_COUNT_MAX),
                .first_sec = read_time(&rd, 1, "failures.first"),
                .last_sec = read_time(&rd, 2, "failures.last"),
                .consecutive = read_uint(&rd, 3, "failures.consecutive", EHR_STORE_COUNT_MAX),
                .locked_until_sec = read_until(&rd, 4, "failures.locked_until"),
        };
        if (rd.r < 0)
                return rd.r;
        *ret = f;
        return 0;
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

#define AUDIT_HEAD_BYTES (8U + EHR_HASH_BYTES)

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
        uint8_t h[AUDIT_HEAD_BYTES];
        if (ehr_pg_col_blob(&res, 0, h, sizeof h) != (int) sizeof h)
                return -EBADMSG;
        uint64_t seq = 0;
        for (unsigned i = 0; i < 8; i++)
                seq |= (uint64_t) h[i] << (8 * i);
        memcpy(ret_mac, h + 8, EHR_HASH_BYTES);
        *ret_seq = seq;
        return 0;
}

int ehr_pg_audit_head_put(struct ehr_store_backend *b, uint64_t seq, const uint8_t mac[EHR_HASH_BYTES]) {
        uint8_t h[AUDIT_HEAD_BYTES];
        for (unsigned i = 0; i < 8; i++)
                h[i] = (uint8_t) (seq >> (8 * i));
        memcpy(h + 8, mac, EHR_HASH_BYTES);
        return no_count(sql_run(b, PG_AUDIT_HEAD_PUT, b_blob(h, sizeof h)));
}

int ehr_pg_audit_foreach(struct ehr_store_backend *b, uint64_t since_sec, uint64_t until_sec, const char *user,
                         int (*cb)(const struct ehr_audit_row *row, void *userdata), void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows(b, PG_AUDIT_LIST, &res, b_u64(since_sec), b_int(until_sec > INT64_MAX ? INT64_MAX :
                         (int64_t) until_sec), b_text(user)), r = k;
        each_row(res, k, r) {
                struct reader rd = { b, &res, 0 };
                struct ehr_audit_row row = {
                        .seq = read_uint(&rd, 0, "audit.seq", ID_MAX),
                        .time_sec = read_time(&rd, 1, "audit.time"),
                        .user = col_text(&res, 2),
                        .actor = col_text(&res, 3),
                        .type = col_text(&res, 4),
                        .action = col_text(&res, 5),
                        .details = col_text(&res, 6),
                        .source = col_text(&res, 7),
                };
                (void) column_hash(&res, 8, row.mac); /* a damaged MAC stays zero: verify names the row */
                r = rd.r < 0 ? rd.r : cb(&row, userdata);
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
        if (column_hash(&res, 0, ret->hash) < 0)
                return -EBADMSG;
        struct reader rd = { b, &res, 0 };
        ret->created_sec = read_time(&rd, 1, "sms_tokens.created");
        ret->expires_sec = read_time(&rd, 2, "sms_tokens.expires");
        ret->tries = read_uint(&rd, 3, "sms_tokens.tries", EHR_STORE_COUNT_MAX);
        return rd.r;
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
        struct reader rd = { b, &res, 0 };
        uint64_t t = read_time(&rd, 0, "sms_sends.time");
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

static int one_id(struct ehr_store_backend *b, struct pg_res *res, const char *what, int64_t *ret_id) {
        struct reader rd = { b, res, 0 };
        int64_t id = read_int(&rd, 0, what, 1, ID_MAX);
        if (rd.r < 0)
                return rd.r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int ehr_pg_device_put(struct ehr_store_backend *b, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                      const char *label, uint64_t now_sec, uint64_t expires_sec, int64_t *ret_id) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_DEV_PUT, &res, b_int(user_id), b_hash(hash), b_text(label), b_u64(now_sec),
                        b_u64(expires_sec));
        return r < 0 ? (r == -ENOENT ? -EIO : r) : one_id(b, &res, "trusted_devices.id", ret_id);
}

int ehr_pg_device_find(struct ehr_store_backend *b, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                       uint64_t now_sec, int64_t *ret_id) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_row(b, PG_DEV_FIND, &res, b_int(user_id), b_hash(hash), b_u64(now_sec));
        return r < 0 ? r : one_id(b, &res, "trusted_devices.id", ret_id);
}

int ehr_pg_device_touch(struct ehr_store_backend *b, int64_t id, uint64_t now_sec) {
        return no_count(sql_run(b, PG_DEV_TOUCH, b_int(id), b_u64(now_sec)));
}

int ehr_pg_device_foreach(struct ehr_store_backend *b, int64_t user_id,
                          int (*cb)(const struct ehr_device *d, void *userdata), void *userdata) {
        _cleanup_res_ struct pg_res res = {};
        int k = sql_rows(b, PG_DEV_LIST, &res, b_int(user_id)), r = k;
        each_row(res, k, r) {
                struct reader rd = { b, &res, 0 };
                struct ehr_device d = {
                        .id = read_int(&rd, 0, "trusted_devices.id", 1, ID_MAX),
                        .label = col_text(&res, 1),
                        .created_sec = read_time(&rd, 2, "trusted_devices.created"),
                        .expires_sec = read_time(&rd, 3, "trusted_devices.expires"),
                        .last_used_sec = read_time(&rd, 4, "trusted_devices.last_used"),
                };
                if (rd.r >= 0 && column_hash(&res, 5, d.hash) < 0)
                        rd.r = -EBADMSG;
                r = rd.r < 0 ? rd.r : cb(&d, userdata);
        }
        return r < 0 ? r : 0;
}

int ehr_pg_device_del(struct ehr_store_backend *b, int64_t user_id, int64_t id) {
        if (id == 0)
                return sql_run(b, PG_DEV_DEL_ALL, b_int(user_id));
        return sql_run(b, PG_DEV_DEL, b_int(user_id), b_int(id));
}

static int pin_state_from(struct ehr_store_backend *b, const struct pg_res *res, int col, struct ehr_pin_state *ret) {
        struct reader rd = { b, res, 0 };
        struct ehr_pin_state ps = {
                .failures = read_uint(&rd, col, "PIN failures", EHR_STORE_COUNT_MAX),
                .locked_until_sec = read_until(&rd, col + 1, "PIN locked_until"),
        };
        if (rd.r < 0)
                return rd.r;
        *ret = ps;
        return 0;
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
        if (r >= 0)
                r = pin_state_from(b, &res, 1, &ret->state);
        if (r < 0)
                return r;
        int n = ehr_pg_col_blob(&res, 0, ret->sealed, sizeof ret->sealed);
        if (n <= 0)
                return -EBADMSG;
        ret->sealed_len = (size_t) n;
        return 0;
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
        struct ehr_pin_state ps;
        if (r >= 0)
                r = pin_state_from(b, &res, 1, &ps);
        if (r < 0)
                return r;
        if (column_hash(&res, 0, ret_hash) < 0)
                return -EBADMSG;
        *ret_state = ps;
        return 0;
}

int ehr_pg_unlock_pin_set_state(struct ehr_store_backend *b, int64_t user_id, const struct ehr_pin_state *st) {
        return pin_set_state(b, PG_UPIN_STATE, user_id, st);
}
