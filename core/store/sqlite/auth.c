/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite backend: what a login reads and writes (TOTP, recovery codes,
 * failures, the audit chain's rows, SMS tokens, trusted devices, PINs). It sees
 * sealed blobs and keyed hashes only: sealing is the neutral part's (core/store.c). */

#include "internal.h"

/* TOTP */

int ehr_sqlite_totp_put(struct ehr_store_backend *s, int64_t user_id, const uint8_t *sealed, size_t n,
                        const char *algorithm, unsigned digits, unsigned period, uint64_t now_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_TOTP_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, sealed, (int) n, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, algorithm, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, (int) digits);
        sqlite3_bind_int(st, 5, (int) period);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) now_sec);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
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
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_TOTP_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int found = step_row(st);
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
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_TOTP_USE);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) step);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -EALREADY : 0;
}

int ehr_sqlite_totp_del(struct ehr_store_backend *s, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_TOTP_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

/* Recovery codes */

int ehr_sqlite_recovery_del(struct ehr_store_backend *s, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_RECOVERY_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_sqlite_recovery_replace(struct ehr_store_backend *s, int64_t user_id, const uint8_t (*hashes)[EHR_HASH_BYTES],
                               size_t n) {
        int r = ehr_sqlite_recovery_del(s, user_id);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_RECOVERY_ADD);
                if (!st)
                        return -EIO;
                sqlite3_bind_int64(st, 1, user_id);
                sqlite3_bind_blob(st, 2, hashes[i], EHR_HASH_BYTES, SQLITE_STATIC);
                r = step_done(s, st);
                if (r < 0)
                        return r;
        }
        return 0;
}

int ehr_sqlite_recovery_use(struct ehr_store_backend *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                           uint64_t now_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_RECOVERY_USE);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, hash, EHR_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) now_sec);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -EACCES : 0;
}

/* Failures */

int ehr_sqlite_failures_get(struct ehr_store_backend *s, int64_t user_id, struct ehr_failures *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_FAIL_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int found = step_row(st);
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
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_FAIL_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, to_i64(f->count));
        sqlite3_bind_int64(st, 3, to_i64(f->first_sec));
        sqlite3_bind_int64(st, 4, to_i64(f->last_sec));
        sqlite3_bind_int64(st, 5, to_i64(f->consecutive));
        sqlite3_bind_int64(st, 6, to_i64(f->locked_until_sec));
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_sqlite_failures_clear(struct ehr_store_backend *s, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_FAIL_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

/* Audit */

int ehr_sqlite_audit_insert(struct ehr_store_backend *s, const struct ehr_audit_row *row) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_AUDIT_INSERT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, to_i64(row->seq));
        sqlite3_bind_int64(st, 2, to_i64(row->time_sec));
        sqlite3_bind_text(st, 3, row->user, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, row->actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, row->type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, row->action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, row->details, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, row->source, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 9, row->mac, EHR_HASH_BYTES, SQLITE_STATIC);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

#define AUDIT_HEAD_KEY "audit_head"
#define AUDIT_HEAD_BYTES (8U + EHR_HASH_BYTES)

int ehr_sqlite_audit_head_get(struct ehr_store_backend *s, uint64_t *ret_seq, uint8_t ret_mac[EHR_HASH_BYTES]) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_META_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, AUDIT_HEAD_KEY, -1, SQLITE_STATIC);
        int found = step_row(st);
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
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_META_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, AUDIT_HEAD_KEY, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, b, sizeof b, SQLITE_TRANSIENT);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_sqlite_audit_foreach(struct ehr_store_backend *s, uint64_t since_sec, uint64_t until_sec, const char *user,
                            int (*cb)(const struct ehr_audit_row *row, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_AUDIT_LIST);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, to_i64(since_sec));
        sqlite3_bind_int64(st, 2, until_sec > INT64_MAX ? INT64_MAX : (sqlite3_int64) until_sec);
        if (user)
                sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
        for (;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more;
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
                if (rd.r < 0)
                        return rd.r;
                const void *mac = sqlite3_column_blob(st, 8);
                if (mac && sqlite3_column_bytes(st, 8) == (int) EHR_HASH_BYTES)
                        memcpy(row.mac, mac, EHR_HASH_BYTES);
                int r = cb(&row, userdata);
                if (r < 0)
                        return r;
        }
}

/* SMS tokens */

int ehr_sqlite_sms_token_put(struct ehr_store_backend *s, int64_t user_id, const struct ehr_sms_token *t) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SMS_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, t->hash, EHR_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, to_i64(t->created_sec));
        sqlite3_bind_int64(st, 4, to_i64(t->expires_sec));
        sqlite3_bind_int64(st, 5, to_i64(t->tries));
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_sqlite_sms_token_get(struct ehr_store_backend *s, int64_t user_id, struct ehr_sms_token *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SMS_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int found = step_row(st);
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

static int exec_user(struct ehr_store_backend *s, enum stmt id, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, id);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        return step_done(s, st);
}

int ehr_sqlite_sms_token_del(struct ehr_store_backend *s, int64_t user_id) {
        int r = exec_user(s, STMT_SMS_DEL, user_id);
        return r < 0 ? r : 0;
}

int ehr_sqlite_sms_token_set_tries(struct ehr_store_backend *s, int64_t user_id, uint64_t tries) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SMS_TRIES);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, to_i64(tries));
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_sqlite_sms_send_nth(struct ehr_store_backend *s, int64_t user_id, uint64_t n, uint64_t *ret_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SMS_SENDS);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, to_i64(n));
        int found = step_row(st);
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
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SMS_SEND_FORGET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, to_i64(forget_before_sec));
        int r = step_done(s, st);
        if (r < 0)
                return r;
        _cleanup_stmt_ sqlite3_stmt *add = stmt(s, STMT_SMS_SEND_ADD);
        if (!add)
                return -EIO;
        sqlite3_bind_int64(add, 1, user_id);
        sqlite3_bind_int64(add, 2, to_i64(now_sec));
        r = step_done(s, add);
        return r < 0 ? r : 0;
}

/* Trusted devices */

int ehr_sqlite_device_put(struct ehr_store_backend *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                          const char *label,
                         uint64_t now_sec, uint64_t expires_sec, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_DEV_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, hash, EHR_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, to_i64(now_sec));
        sqlite3_bind_int64(st, 5, to_i64(expires_sec));
        int r = step_done(s, st);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

int ehr_sqlite_device_find(struct ehr_store_backend *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                           uint64_t now_sec,
                          int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_DEV_FIND);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, hash, EHR_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, to_i64(now_sec));
        int found = step_row(st);
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
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_DEV_TOUCH);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, to_i64(now_sec));
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_sqlite_device_foreach(struct ehr_store_backend *s, int64_t user_id,
                             int (*cb)(const struct ehr_device *d, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_DEV_LIST);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        for (;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more;
                struct reader rd = { s, st, 0 };
                struct ehr_device d = {
                        .id = read_int(&rd, 0, "trusted_devices.id", 1, ID_MAX),
                        .label = col_text(st, 1),
                        .created_sec = read_time(&rd, 2, "trusted_devices.created"),
                        .expires_sec = read_time(&rd, 3, "trusted_devices.expires"),
                        .last_used_sec = read_time(&rd, 4, "trusted_devices.last_used"),
                };
                int r = rd.r < 0 ? rd.r : cb(&d, userdata);
                if (r < 0)
                        return r;
        }
}

int ehr_sqlite_device_del(struct ehr_store_backend *s, int64_t user_id, int64_t id) {
        if (id == 0)
                return exec_user(s, STMT_DEV_DEL_ALL, user_id);
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_DEV_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, id);
        return step_done(s, st);
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
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, id);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, to_i64(ps->failures));
        sqlite3_bind_int64(st, 3, to_i64(ps->locked_until_sec));
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_sqlite_support_pin_put(struct ehr_store_backend *s, int64_t user_id, const uint8_t *sealed, size_t n,
                               uint64_t now_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SPIN_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, sealed, (int) n, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, to_i64(now_sec));
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_sqlite_support_pin_get(struct ehr_store_backend *s, int64_t user_id, struct ehr_store_pin_row *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SPIN_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int found = step_row(st);
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
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_UPIN_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, hash, EHR_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, to_i64(now_sec));
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_sqlite_unlock_pin_get(struct ehr_store_backend *s, int64_t user_id, uint8_t ret_hash[EHR_HASH_BYTES],
                             struct ehr_pin_state *ret_state) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_UPIN_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int found = step_row(st);
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

