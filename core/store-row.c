/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The checked reads of a backend's row and the decoders of the store's rows
 * (store-row.h): one copy, over whichever backend's cursor. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-row.h"
#include "util.h"

static void fail(struct ehr_row *rd, int r) {
        if (rd->r >= 0)
                rd->r = r;
}

int64_t ehr_row_int(struct ehr_row *rd, int col, const char *what, int64_t min, int64_t max) {
        if (rd->r < 0)
                return 0;
        int64_t v = 0;
        bool integer = rd->ops->integer(rd->at, col, &v);
        if (integer && v >= min && v <= max)
                return v;
        if (integer)
                snprintf(rd->bad_value, EHR_STORE_BAD_VALUE_MAX, "%s = %lld (expected %lld..%lld)", what, (long long) v,
                         (long long) min, (long long) max);
        else
                snprintf(rd->bad_value, EHR_STORE_BAD_VALUE_MAX, "%s is not an integer", what);
        rd->r = -EOVERFLOW;
        return 0;
}

uint64_t ehr_row_uint(struct ehr_row *rd, int col, const char *what, uint64_t max) {
        return (uint64_t) ehr_row_int(rd, col, what, 0, max > INT64_MAX ? INT64_MAX : (int64_t) max);
}

uint64_t ehr_row_time(struct ehr_row *rd, int col, const char *what) {
        return ehr_row_uint(rd, col, what, EHR_STORE_TIME_MAX);
}

uint64_t ehr_row_until(struct ehr_row *rd, int col, const char *what) {
        int64_t v = ehr_row_int(rd, col, what, -1, (int64_t) EHR_STORE_TIME_MAX);
        return v < 0 ? UINT64_MAX : (uint64_t) v;
}

bool ehr_row_bool(struct ehr_row *rd, int col, const char *what) {
        return ehr_row_int(rd, col, what, 0, 1) != 0;
}

bool ehr_row_null(struct ehr_row *rd, int col) {
        return rd->ops->null(rd->at, col);
}

const char *ehr_row_text(struct ehr_row *rd, int col) {
        return rd->r < 0 ? "" : rd->ops->text(rd->at, col);
}

char *ehr_row_strdup(struct ehr_row *rd, int col) {
        char *t = strdup(rd->ops->text(rd->at, col));
        if (!t)
                fail(rd, -ENOMEM);
        return t;
}

void ehr_row_hash(struct ehr_row *rd, int col, uint8_t out[EHR_HASH_BYTES]) {
        uint8_t h[EHR_HASH_BYTES];
        if (rd->r < 0)
                return;
        if (rd->ops->blob(rd->at, col, h, sizeof h) != (int) sizeof h)
                fail(rd, -EBADMSG);
        else
                memcpy(out, h, sizeof h);
}

size_t ehr_row_sealed(struct ehr_row *rd, int col, uint8_t *buf, size_t cap) {
        if (rd->r < 0)
                return 0;
        int n = rd->ops->blob(rd->at, col, buf, cap);
        if (n > 0)
                return (size_t) n;
        fail(rd, -EBADMSG);
        return 0;
}

/* Rows */

int ehr_row_user(struct ehr_row *rd, struct ehr_user **ret) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = calloc(1, sizeof *u);
        if (!u)
                return -ENOMEM;
        u->id = ehr_row_int(rd, 0, "users.id", 1, EHR_ROW_ID_MAX);
        u->login = ehr_row_strdup(rd, 1);
        u->name = ehr_row_strdup(rd, 2);
        u->email = ehr_row_strdup(rd, 3);
        u->phone = ehr_row_strdup(rd, 4);
        u->role = ehr_row_strdup(rd, 5);
        u->created_sec = ehr_row_time(rd, 6, "users.created");
        u->totp_enrolled = ehr_row_bool(rd, 7, "totp enrolled");
        u->recovery_left = (unsigned) ehr_row_uint(rd, 8, "recovery codes left", EHR_STORE_COUNT_MAX);
        u->provider = ehr_row_strdup(rd, 9);
        u->sms_2fa_id = ehr_row_strdup(rd, 10);
        u->uid = ehr_row_int(rd, 11, "users.uid", -1, EHR_ROW_UID_MAX);
        u->gid = ehr_row_int(rd, 12, "users.gid", -1, EHR_ROW_UID_MAX);
        u->home = ehr_row_strdup(rd, 13);
        u->shell = ehr_row_strdup(rd, 14);
        u->locked = ehr_row_bool(rd, 15, "users.locked");
        if (rd->r < 0)
                return rd->r;
        *ret = TAKE_PTR(u);
        return 0;
}

int ehr_row_failures(struct ehr_row *rd, struct ehr_failures *ret) {
        struct ehr_failures f = {
                .count = ehr_row_uint(rd, 0, "failures.count", EHR_STORE_COUNT_MAX),
                .first_sec = ehr_row_time(rd, 1, "failures.first"),
                .last_sec = ehr_row_time(rd, 2, "failures.last"),
                .consecutive = ehr_row_uint(rd, 3, "failures.consecutive", EHR_STORE_COUNT_MAX),
                .locked_until_sec = ehr_row_until(rd, 4, "failures.locked_until"),
        };
        if (rd->r < 0)
                return rd->r;
        *ret = f;
        return 0;
}

int ehr_row_audit(struct ehr_row *rd, struct ehr_audit_row *ret) {
        *ret = (struct ehr_audit_row) {
                .seq = ehr_row_uint(rd, 0, "audit.seq", EHR_ROW_ID_MAX),
                .time_sec = ehr_row_time(rd, 1, "audit.time"),
                .user = ehr_row_text(rd, 2),
                .actor = ehr_row_text(rd, 3),
                .type = ehr_row_text(rd, 4),
                .action = ehr_row_text(rd, 5),
                .details = ehr_row_text(rd, 6),
                .source = ehr_row_text(rd, 7),
        };
        /* A damaged MAC stays zero: the chain's verify then names the row. */
        uint8_t mac[EHR_HASH_BYTES];
        if (rd->r >= 0 && rd->ops->blob(rd->at, 8, mac, sizeof mac) == (int) sizeof mac)
                memcpy(ret->mac, mac, sizeof mac);
        return rd->r;
}

/* (sealed, algorithm, digits, period, last_step or NULL) */
int ehr_row_totp(struct ehr_row *rd, struct ehr_store_totp_row *ret) {
        ret->digits = (unsigned) ehr_row_uint(rd, 2, "totp.digits", EHR_OTP_DIGITS_MAX);
        ret->period = (unsigned) ehr_row_uint(rd, 3, "totp.period", UINT32_MAX);
        ret->have_last_step = !ehr_row_null(rd, 4);
        ret->last_step = ret->have_last_step ? ehr_row_time(rd, 4, "totp.last_step") : 0;
        const char *alg = ehr_row_text(rd, 1);
        if (strlen(alg) >= sizeof ret->algorithm)
                fail(rd, -EBADMSG);
        else
                strcpy(ret->algorithm, alg);
        ret->sealed_len = ehr_row_sealed(rd, 0, ret->sealed, sizeof ret->sealed);
        return rd->r;
}

/* (hash, created, expires, tries) */
int ehr_row_sms_token(struct ehr_row *rd, struct ehr_sms_token *ret) {
        ehr_row_hash(rd, 0, ret->hash);
        ret->created_sec = ehr_row_time(rd, 1, "sms_tokens.created");
        ret->expires_sec = ehr_row_time(rd, 2, "sms_tokens.expires");
        ret->tries = ehr_row_uint(rd, 3, "sms_tokens.tries", EHR_STORE_COUNT_MAX);
        return rd->r;
}

/* (id, label, created, expires, last_used, hash) */
int ehr_row_device(struct ehr_row *rd, struct ehr_device *ret) {
        *ret = (struct ehr_device) {
                .id = ehr_row_int(rd, 0, "trusted_devices.id", 1, EHR_ROW_ID_MAX),
                .label = ehr_row_text(rd, 1),
                .created_sec = ehr_row_time(rd, 2, "trusted_devices.created"),
                .expires_sec = ehr_row_time(rd, 3, "trusted_devices.expires"),
                .last_used_sec = ehr_row_time(rd, 4, "trusted_devices.last_used"),
        };
        ehr_row_hash(rd, 5, ret->hash);
        return rd->r;
}

/* (id, for, by, approver, state, how, note, created, decided) */
int ehr_row_request(struct ehr_row *rd, struct ehr_support_request *ret) {
        *ret = (struct ehr_support_request) {
                .id = ehr_row_int(rd, 0, "support_requests.id", 1, EHR_ROW_ID_MAX),
                .for_login = ehr_row_text(rd, 1),
                .by_login = ehr_row_text(rd, 2),
                .approver_login = ehr_row_text(rd, 3),
                .state = ehr_row_text(rd, 4),
                .how = ehr_row_text(rd, 5),
                .note = ehr_row_text(rd, 6),
                .created_sec = ehr_row_time(rd, 7, "support_requests.created"),
                .decided_sec = ehr_row_time(rd, 8, "support_requests.decided"),
        };
        return rd->r;
}

/* (id, gid, name) */
int ehr_row_group(struct ehr_row *rd, struct ehr_group *ret) {
        *ret = (struct ehr_group) {
                .id = ehr_row_int(rd, 0, "groups.id", 1, EHR_ROW_ID_MAX),
                .gid = ehr_row_int(rd, 1, "groups.gid", 0, EHR_ROW_UID_MAX),
                .name = ehr_row_text(rd, 2),
        };
        return rd->r;
}

/* (id, login, host, service, source, reason, time, reviewed, reviewer, note) */
int ehr_row_break_glass(struct ehr_row *rd, struct ehr_break_glass *ret) {
        *ret = (struct ehr_break_glass) {
                .id = ehr_row_int(rd, 0, "break_glass.id", 1, EHR_ROW_ID_MAX),
                .login = ehr_row_text(rd, 1),
                .host = ehr_row_text(rd, 2),
                .service = ehr_row_text(rd, 3),
                .source = ehr_row_text(rd, 4),
                .reason = ehr_row_text(rd, 5),
                .time_sec = ehr_row_time(rd, 6, "break_glass.time"),
                .reviewed_sec = ehr_row_time(rd, 7, "break_glass.reviewed"),
                .reviewer = ehr_row_text(rd, 8),
                .note = ehr_row_text(rd, 9),
        };
        return rd->r;
}

static struct ehr_pin_state pin_state(struct ehr_row *rd) {
        return (struct ehr_pin_state) {
                .failures = ehr_row_uint(rd, 1, "PIN failures", EHR_STORE_COUNT_MAX),
                .locked_until_sec = ehr_row_until(rd, 2, "PIN locked_until"),
        };
}

int ehr_row_support_pin(struct ehr_row *rd, struct ehr_store_pin_row *ret) {
        ret->state = pin_state(rd);
        ret->sealed_len = ehr_row_sealed(rd, 0, ret->sealed, sizeof ret->sealed);
        return rd->r;
}

int ehr_row_unlock_pin(struct ehr_row *rd, uint8_t ret_hash[EHR_HASH_BYTES], struct ehr_pin_state *ret_state) {
        struct ehr_pin_state ps = pin_state(rd);
        ehr_row_hash(rd, 0, ret_hash);
        if (rd->r >= 0)
                *ret_state = ps;
        return rd->r;
}

int ehr_row_recovery(struct ehr_row *rd, uint8_t ret_hash[EHR_HASH_BYTES], bool *ret_used) {
        *ret_used = ehr_row_bool(rd, 1, "recovery_codes.used");
        ehr_row_hash(rd, 0, ret_hash);
        return rd->r;
}

int ehr_row_reset_token(struct ehr_row *rd, int64_t *ret_user_id, uint64_t *ret_expires_sec) {
        int64_t id = ehr_row_int(rd, 0, "reset_tokens.user_id", 1, EHR_ROW_ID_MAX);
        uint64_t expires = ehr_row_time(rd, 1, "reset_tokens.expires");
        if (rd->r < 0)
                return rd->r;
        *ret_user_id = id;
        *ret_expires_sec = expires;
        return 0;
}

int ehr_row_id(struct ehr_row *rd, const char *what, int64_t *ret_id) {
        int64_t id = ehr_row_int(rd, 0, what, 1, EHR_ROW_ID_MAX);
        if (rd->r < 0)
                return rd->r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

void ehr_audit_head_pack(uint64_t seq, const uint8_t mac[EHR_HASH_BYTES], uint8_t out[EHR_AUDIT_HEAD_BYTES]) {
        for (unsigned i = 0; i < 8; i++)
                out[i] = (uint8_t) (seq >> (8 * i));
        memcpy(out + 8, mac, EHR_HASH_BYTES);
}

int ehr_row_audit_head(struct ehr_row *rd, int col, uint64_t *ret_seq, uint8_t ret_mac[EHR_HASH_BYTES]) {
        uint8_t b[EHR_AUDIT_HEAD_BYTES];
        if (rd->r < 0)
                return rd->r;
        if (rd->ops->blob(rd->at, col, b, sizeof b) != (int) sizeof b)
                return rd->r = -EBADMSG;
        uint64_t seq = 0;
        for (unsigned i = 0; i < 8; i++)
                seq |= (uint64_t) b[i] << (8 * i);
        memcpy(ret_mac, b + 8, EHR_HASH_BYTES);
        *ret_seq = seq;
        return 0;
}
