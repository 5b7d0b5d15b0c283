/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite backend: what a login reads and writes (TOTP, recovery codes,
 * failures, the audit chain's rows, SMS tokens, trusted devices, PINs). It sees
 * sealed blobs and keyed hashes only: sealing is the neutral part's (core/store.c). */

#include "internal.h"

/* TOTP */

int ehr_sqlite_totp_put(struct ehr_store_backend *s, int64_t user_id, const uint8_t *sealed, size_t n,
                        const char *algorithm, unsigned digits, unsigned period, uint64_t now_sec) {
        return no_count(sql_run(s, STMT_TOTP_PUT, b_int(user_id), b_blob(sealed, n), b_text(algorithm), b_int(digits),
                                b_int(period), b_int((sqlite3_int64) now_sec)));
}

/* Copy a sealed column into buf; a blob larger than buf is a damaged row. */
static int column_sealed(sqlite3_stmt *st, int col, uint8_t *buf, size_t cap, size_t *ret_len) {
        const void *blob = sqlite3_column_blob(st, col);
        int n = sqlite3_column_bytes(st, col);
        if (!blob || n <= 0 || (size_t) n > cap)
                return -EBADMSG;
        memcpy(buf, blob, (size_t) n);
        *ret_len = (size_t) n;
        return 0;
}

int ehr_sqlite_totp_get(struct ehr_store_backend *s, int64_t user_id, struct ehr_store_totp_row *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int found = sql_row(s, STMT_TOTP_GET, &st, b_int(user_id));
        if (found < 0)
                return found;
        /* Everything read from the store is checked: it may have been edited by hand. */
        struct reader rd = { s, st, 0 };
        ret->digits = (unsigned) read_uint(&rd, 2, "totp.digits", EHR_OTP_DIGITS_MAX);
        ret->period = (unsigned) read_uint(&rd, 3, "totp.period", UINT32_MAX);
        ret->have_last_step = sqlite3_column_type(st, 4) != SQLITE_NULL;
        ret->last_step = ret->have_last_step ? read_time(&rd, 4, "totp.last_step") : 0;
        if (rd.r < 0)
                return rd.r;
        const char *alg = (const char *) sqlite3_column_text(st, 1);
        if (!alg || strlen(alg) >= sizeof ret->algorithm)
                return -EBADMSG;
        strcpy(ret->algorithm, alg);
        return column_sealed(st, 0, ret->sealed, sizeof ret->sealed, &ret->sealed_len);
}

int ehr_sqlite_totp_use_step(struct ehr_store_backend *s, int64_t user_id, uint64_t step) {
        return changed_or(sql_run(s, STMT_TOTP_USE, b_int(user_id), b_int((sqlite3_int64) step)), -EALREADY);
}

int ehr_sqlite_totp_del(struct ehr_store_backend *s, int64_t user_id) {
        return changed_or(sql_run(s, STMT_TOTP_DEL, b_int(user_id)), -ENOENT);
}

/* Recovery codes */

int ehr_sqlite_recovery_del(struct ehr_store_backend *s, int64_t user_id) {
        return no_count(sql_run(s, STMT_RECOVERY_DEL, b_int(user_id)));
}

int ehr_sqlite_recovery_replace(struct ehr_store_backend *s, int64_t user_id, const uint8_t (*hashes)[EHR_HASH_BYTES],
                                size_t n) {
        int r = ehr_sqlite_recovery_del(s, user_id);
        for (size_t i = 0; i < n && r >= 0; i++)
                r = sql_run(s, STMT_RECOVERY_ADD, b_int(user_id), b_hash(hashes[i]));
        return no_count(r);
}

int ehr_sqlite_recovery_use(struct ehr_store_backend *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                            uint64_t now_sec) {
        return changed_or(sql_run(s, STMT_RECOVERY_USE, b_int(user_id), b_hash(hash), b_int((sqlite3_int64) now_sec)),
                          -EBADRQC);
}

int ehr_sqlite_recovery_foreach(struct ehr_store_backend *s, int64_t user_id,
                                int (*cb)(const uint8_t hash[EHR_HASH_BYTES], bool used, void *userdata),
                                void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, STMT_RECOVERY_LIST, &st, b_int(user_id));
        each_row(st, r) {
                uint8_t h[EHR_HASH_BYTES];
                struct reader rd = { s, st, 0 };
                bool used = read_bool(&rd, 1, "recovery_codes.used");
                r = rd.r < 0 ? rd.r : column_hash(st, 0, h) < 0 ? -EBADMSG : cb(h, used, userdata);
        }
        return r;
}

/* Failures */

int ehr_sqlite_failures_get(struct ehr_store_backend *s, int64_t user_id, struct ehr_failures *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int found = sql_row(s, STMT_FAIL_GET, &st, b_int(user_id));
        if (found == -ENOENT) {
                *ret = (struct ehr_failures) {};
                return 0;
        }
        if (found < 0)
                return found;
        struct reader rd = { s, st, 0 };
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

int ehr_sqlite_failures_put(struct ehr_store_backend *s, int64_t user_id, const struct ehr_failures *f) {
        return no_count(sql_run(s, STMT_FAIL_PUT, b_int(user_id), b_u64(f->count), b_u64(f->first_sec),
                                b_u64(f->last_sec), b_u64(f->consecutive), b_u64(f->locked_until_sec)));
}

int ehr_sqlite_failures_clear(struct ehr_store_backend *s, int64_t user_id) {
        return no_count(sql_run(s, STMT_FAIL_DEL, b_int(user_id)));
}

/* Audit */

int ehr_sqlite_audit_insert(struct ehr_store_backend *s, const struct ehr_audit_row *row) {
        return no_count(sql_run(s, STMT_AUDIT_INSERT, b_u64(row->seq), b_u64(row->time_sec), b_text(row->user),
                                b_text(row->actor), b_text(row->type), b_text(row->action), b_text(row->details),
                                b_text(row->source), b_hash(row->mac)));
}

#define AUDIT_HEAD_KEY "audit_head"
#define AUDIT_HEAD_BYTES (8U + EHR_HASH_BYTES)

int ehr_sqlite_audit_head_get(struct ehr_store_backend *s, uint64_t *ret_seq, uint8_t ret_mac[EHR_HASH_BYTES]) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int found = sql_row(s, STMT_META_GET, &st, b_text(AUDIT_HEAD_KEY));
        if (found == -ENOENT) {
                *ret_seq = 0;
                memset(ret_mac, 0, EHR_HASH_BYTES);
                return 0;
        }
        if (found < 0)
                return found;
        const uint8_t *b = sqlite3_column_blob(st, 0);
        if (!b || sqlite3_column_bytes(st, 0) != (int) AUDIT_HEAD_BYTES)
                return -EBADMSG;
        uint64_t seq = 0;
        for (unsigned i = 0; i < 8; i++)
                seq |= (uint64_t) b[i] << (8 * i);
        memcpy(ret_mac, b + 8, EHR_HASH_BYTES);
        *ret_seq = seq;
        return 0;
}

int ehr_sqlite_audit_head_put(struct ehr_store_backend *s, uint64_t seq, const uint8_t mac[EHR_HASH_BYTES]) {
        uint8_t b[AUDIT_HEAD_BYTES];
        for (unsigned i = 0; i < 8; i++)
                b[i] = (uint8_t) (seq >> (8 * i));
        memcpy(b + 8, mac, EHR_HASH_BYTES);
        return no_count(sql_run(s, STMT_META_PUT, b_text(AUDIT_HEAD_KEY), b_blob(b, sizeof b)));
}

int ehr_sqlite_audit_foreach(struct ehr_store_backend *s, uint64_t since_sec, uint64_t until_sec, const char *user,
                            int (*cb)(const struct ehr_audit_row *row, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, STMT_AUDIT_LIST, &st, b_u64(since_sec),
                            b_int(until_sec > INT64_MAX ? INT64_MAX : (sqlite3_int64) until_sec), b_text(user));
        each_row(st, r) {
                struct reader rd = { s, st, 0 };
                struct ehr_audit_row row = {
                        .seq = read_uint(&rd, 0, "audit.seq", ID_MAX),
                        .time_sec = read_time(&rd, 1, "audit.time"),
                        .user = col_text(st, 2),
                        .actor = col_text(st, 3),
                        .type = col_text(st, 4),
                        .action = col_text(st, 5),
                        .details = col_text(st, 6),
                        .source = col_text(st, 7),
                };
                const void *mac = sqlite3_column_blob(st, 8);
                if (mac && sqlite3_column_bytes(st, 8) == (int) EHR_HASH_BYTES)
                        memcpy(row.mac, mac, EHR_HASH_BYTES);
                r = rd.r < 0 ? rd.r : cb(&row, userdata);
        }
        return r;
}

/* SMS tokens */

int ehr_sqlite_sms_token_put(struct ehr_store_backend *s, int64_t user_id, const struct ehr_sms_token *t) {
        return no_count(sql_run(s, STMT_SMS_PUT, b_int(user_id), b_hash(t->hash), b_u64(t->created_sec),
                                b_u64(t->expires_sec), b_u64(t->tries)));
}

int ehr_sqlite_sms_token_get(struct ehr_store_backend *s, int64_t user_id, struct ehr_sms_token *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int found = sql_row(s, STMT_SMS_GET, &st, b_int(user_id));
        if (found < 0)
                return found;
        if (column_hash(st, 0, ret->hash) < 0)
                return -EBADMSG;
        struct reader rd = { s, st, 0 };
        ret->created_sec = read_time(&rd, 1, "sms_tokens.created");
        ret->expires_sec = read_time(&rd, 2, "sms_tokens.expires");
        ret->tries = read_uint(&rd, 3, "sms_tokens.tries", EHR_STORE_COUNT_MAX);
        return rd.r;
}

int ehr_sqlite_sms_token_del(struct ehr_store_backend *s, int64_t user_id) {
        return no_count(sql_run(s, STMT_SMS_DEL, b_int(user_id)));
}

int ehr_sqlite_sms_token_set_tries(struct ehr_store_backend *s, int64_t user_id, uint64_t tries) {
        return no_count(sql_run(s, STMT_SMS_TRIES, b_int(user_id), b_u64(tries)));
}

int ehr_sqlite_sms_send_nth(struct ehr_store_backend *s, int64_t user_id, uint64_t n, uint64_t *ret_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int found = sql_row(s, STMT_SMS_SENDS, &st, b_int(user_id), b_u64(n));
        if (found < 0)
                return found;
        struct reader rd = { s, st, 0 };
        uint64_t t = read_time(&rd, 0, "sms_sends.time");
        if (rd.r < 0)
                return rd.r;
        *ret_sec = t;
        return 0;
}

int ehr_sqlite_sms_send_add(struct ehr_store_backend *s, int64_t user_id, uint64_t now_sec,
                            uint64_t forget_before_sec) {
        int r = sql_run(s, STMT_SMS_SEND_FORGET, b_int(user_id), b_u64(forget_before_sec));
        if (r >= 0)
                r = sql_run(s, STMT_SMS_SEND_ADD, b_int(user_id), b_u64(now_sec));
        return no_count(r);
}

/* Trusted devices */

int ehr_sqlite_device_put(struct ehr_store_backend *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                          const char *label, uint64_t now_sec, uint64_t expires_sec, int64_t *ret_id) {
        int r = sql_run(s, STMT_DEV_PUT, b_int(user_id), b_hash(hash), b_text(label), b_u64(now_sec),
                        b_u64(expires_sec));
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

int ehr_sqlite_device_find(struct ehr_store_backend *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                           uint64_t now_sec, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int found = sql_row(s, STMT_DEV_FIND, &st, b_int(user_id), b_hash(hash), b_u64(now_sec));
        if (found < 0)
                return found;
        struct reader rd = { s, st, 0 };
        int64_t id = read_int(&rd, 0, "trusted_devices.id", 1, ID_MAX);
        if (rd.r < 0)
                return rd.r;
        *ret_id = id;
        return 0;
}

int ehr_sqlite_device_touch(struct ehr_store_backend *s, int64_t id, uint64_t now_sec) {
        return no_count(sql_run(s, STMT_DEV_TOUCH, b_int(id), b_u64(now_sec)));
}

int ehr_sqlite_device_foreach(struct ehr_store_backend *s, int64_t user_id,
                             int (*cb)(const struct ehr_device *d, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, STMT_DEV_LIST, &st, b_int(user_id));
        each_row(st, r) {
                struct reader rd = { s, st, 0 };
                struct ehr_device d = {
                        .id = read_int(&rd, 0, "trusted_devices.id", 1, ID_MAX),
                        .label = col_text(st, 1),
                        .created_sec = read_time(&rd, 2, "trusted_devices.created"),
                        .expires_sec = read_time(&rd, 3, "trusted_devices.expires"),
                        .last_used_sec = read_time(&rd, 4, "trusted_devices.last_used"),
                };
                if (rd.r >= 0 && column_hash(st, 5, d.hash) < 0)
                        rd.r = -EBADMSG;
                r = rd.r < 0 ? rd.r : cb(&d, userdata);
        }
        return r;
}

int ehr_sqlite_device_del(struct ehr_store_backend *s, int64_t user_id, int64_t id) {
        if (id == 0)
                return sql_run(s, STMT_DEV_DEL_ALL, b_int(user_id));
        return sql_run(s, STMT_DEV_DEL, b_int(user_id), b_int(id));
}

/* PINs */

static int pin_state_from(struct ehr_store_backend *s, sqlite3_stmt *st, int col, struct ehr_pin_state *ret) {
        struct reader rd = { s, st, 0 };
        struct ehr_pin_state ps = {
                .failures = read_uint(&rd, col, "PIN failures", EHR_STORE_COUNT_MAX),
                .locked_until_sec = read_until(&rd, col + 1, "PIN locked_until"),
        };
        if (rd.r < 0)
                return rd.r;
        *ret = ps;
        return 0;
}

static int pin_set_state(struct ehr_store_backend *s, enum stmt id, int64_t user_id, const struct ehr_pin_state *ps) {
        return changed_or(sql_run(s, id, b_int(user_id), b_u64(ps->failures), b_u64(ps->locked_until_sec)), -ENOENT);
}

int ehr_sqlite_support_pin_put(struct ehr_store_backend *s, int64_t user_id, const uint8_t *sealed, size_t n,
                               uint64_t now_sec) {
        return no_count(sql_run(s, STMT_SPIN_PUT, b_int(user_id), b_blob(sealed, n), b_u64(now_sec)));
}

int ehr_sqlite_support_pin_get(struct ehr_store_backend *s, int64_t user_id, struct ehr_store_pin_row *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int found = sql_row(s, STMT_SPIN_GET, &st, b_int(user_id));
        if (found < 0)
                return found;
        int r = pin_state_from(s, st, 1, &ret->state);
        if (r < 0)
                return r;
        return column_sealed(st, 0, ret->sealed, sizeof ret->sealed, &ret->sealed_len);
}

int ehr_sqlite_support_pin_set_state(struct ehr_store_backend *s, int64_t user_id, const struct ehr_pin_state *st) {
        return pin_set_state(s, STMT_SPIN_STATE, user_id, st);
}

int ehr_sqlite_unlock_pin_put(struct ehr_store_backend *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                              uint64_t now_sec) {
        return no_count(sql_run(s, STMT_UPIN_PUT, b_int(user_id), b_hash(hash), b_u64(now_sec)));
}

int ehr_sqlite_unlock_pin_get(struct ehr_store_backend *s, int64_t user_id, uint8_t ret_hash[EHR_HASH_BYTES],
                              struct ehr_pin_state *ret_state) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int found = sql_row(s, STMT_UPIN_GET, &st, b_int(user_id));
        if (found < 0)
                return found;
        struct ehr_pin_state ps;
        int r = pin_state_from(s, st, 1, &ps);
        if (r < 0)
                return r;
        if (column_hash(st, 0, ret_hash) < 0)
                return -EBADMSG;
        *ret_state = ps;
        return 0;
}

int ehr_sqlite_unlock_pin_set_state(struct ehr_store_backend *s, int64_t user_id, const struct ehr_pin_state *st) {
        return pin_set_state(s, STMT_UPIN_STATE, user_id, st);
}

