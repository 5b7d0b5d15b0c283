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

int ehr_sqlite_totp_get(struct ehr_store_backend *s, int64_t user_id, struct ehr_store_totp_row *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int found = sql_row(s, STMT_TOTP_GET, &st, b_int(user_id));
        if (found < 0)
                return found;
        /* Everything read from the store is checked: it may have been edited by hand. */
        return ehr_row_totp(&ROW(s, st), ret);
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
                bool used;
                r = ehr_row_recovery(&ROW(s, st), h, &used);
                r = r < 0 ? r : cb(h, used, userdata);
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
        return ehr_row_failures(&ROW(s, st), ret);
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
        return ehr_row_audit_head(&ROW(s, st), 0, ret_seq, ret_mac);
}

int ehr_sqlite_audit_head_put(struct ehr_store_backend *s, uint64_t seq, const uint8_t mac[EHR_HASH_BYTES]) {
        uint8_t b[EHR_AUDIT_HEAD_BYTES];
        ehr_audit_head_pack(seq, mac, b);
        return no_count(sql_run(s, STMT_META_PUT, b_text(AUDIT_HEAD_KEY), b_blob(b, sizeof b)));
}

int ehr_sqlite_audit_foreach(struct ehr_store_backend *s, uint64_t since_sec, uint64_t until_sec, const char *user,
                            int (*cb)(const struct ehr_audit_row *row, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, STMT_AUDIT_LIST, &st, b_u64(since_sec),
                            b_int(until_sec > INT64_MAX ? INT64_MAX : (sqlite3_int64) until_sec), b_text(user));
        each_row(st, r) {
                struct ehr_audit_row row;
                r = ehr_row_audit(&ROW(s, st), &row);
                r = r < 0 ? r : cb(&row, userdata);
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
        return ehr_row_sms_token(&ROW(s, st), ret);
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
        struct ehr_row rd = ROW(s, st);
        uint64_t t = ehr_row_time(&rd, 0, "sms_sends.time");
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
        return ehr_row_id(&ROW(s, st), "trusted_devices.id", ret_id);
}

int ehr_sqlite_device_touch(struct ehr_store_backend *s, int64_t id, uint64_t now_sec) {
        return no_count(sql_run(s, STMT_DEV_TOUCH, b_int(id), b_u64(now_sec)));
}

int ehr_sqlite_device_foreach(struct ehr_store_backend *s, int64_t user_id,
                             int (*cb)(const struct ehr_device *d, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, STMT_DEV_LIST, &st, b_int(user_id));
        each_row(st, r) {
                struct ehr_device d;
                r = ehr_row_device(&ROW(s, st), &d);
                r = r < 0 ? r : cb(&d, userdata);
        }
        return r;
}

int ehr_sqlite_device_del(struct ehr_store_backend *s, int64_t user_id, int64_t id) {
        if (id == 0)
                return sql_run(s, STMT_DEV_DEL_ALL, b_int(user_id));
        return sql_run(s, STMT_DEV_DEL, b_int(user_id), b_int(id));
}

/* PINs */

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
        return ehr_row_support_pin(&ROW(s, st), ret);
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
        return ehr_row_unlock_pin(&ROW(s, st), ret_hash, ret_state);
}

int ehr_sqlite_unlock_pin_set_state(struct ehr_store_backend *s, int64_t user_id, const struct ehr_pin_state *st) {
        return pin_set_state(s, STMT_UPIN_STATE, user_id, st);
}

