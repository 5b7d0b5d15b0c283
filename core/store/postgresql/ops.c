/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PostgreSQL backend's table of operations, what core/store.c calls, and
 * its cursor for the neutral row reader (store-row.h). */

#include "internal.h"

const struct ehr_store_ops ehr_store_postgresql_ops = {
        .name = "postgresql",
        .open = ehr_pg_open,
        .free = ehr_pg_free,
        .location = ehr_pg_location,
        .changed = ehr_pg_changed,
        .bad_value = ehr_pg_bad_value,
        .begin = ehr_pg_begin,
        .sync = ehr_pg_sync,
        .commit = ehr_pg_commit,
        .rollback = ehr_pg_rollback,
        .reserve = ehr_pg_reserve,
        .release = ehr_pg_release,
        .idle = ehr_pg_idle,
        .in_transaction = ehr_pg_in_transaction,
        .user_add = ehr_pg_user_add,
        .user_get = ehr_pg_user_get,
        .user_del = ehr_pg_user_del,
        .user_foreach = ehr_pg_user_foreach,
        .user_set_provider = ehr_pg_user_set_provider,
        .user_set_sms_2fa = ehr_pg_user_set_sms_2fa,
        .perm_grant = ehr_pg_perm_grant,
        .perm_revoke = ehr_pg_perm_revoke,
        .perm_has = ehr_pg_perm_has,
        .perm_foreach = ehr_pg_perm_foreach,
        .request_add = ehr_pg_request_add,
        .request_get = ehr_pg_request_get,
        .request_foreach = ehr_pg_request_foreach,
        .request_decide = ehr_pg_request_decide,
        .user_set_account = ehr_pg_user_set_account,
        .user_set_locked = ehr_pg_user_set_locked,
        .id_used = ehr_pg_id_used,
        .id_high = ehr_pg_id_high,
        .id_high_raise = ehr_pg_id_high_raise,
        .group_add = ehr_pg_group_add,
        .group_del = ehr_pg_group_del,
        .group_get = ehr_pg_group_get,
        .group_member = ehr_pg_group_member,
        .group_foreach = ehr_pg_group_foreach,
        .group_members = ehr_pg_group_members,
        .totp_put = ehr_pg_totp_put,
        .totp_get = ehr_pg_totp_get,
        .totp_use_step = ehr_pg_totp_use_step,
        .totp_del = ehr_pg_totp_del,
        .recovery_del = ehr_pg_recovery_del,
        .recovery_replace = ehr_pg_recovery_replace,
        .recovery_use = ehr_pg_recovery_use,
        .failures_get = ehr_pg_failures_get,
        .failures_put = ehr_pg_failures_put,
        .failures_clear = ehr_pg_failures_clear,
        .audit_insert = ehr_pg_audit_insert,
        .audit_head_get = ehr_pg_audit_head_get,
        .audit_head_put = ehr_pg_audit_head_put,
        .audit_foreach = ehr_pg_audit_foreach,
        .sms_token_put = ehr_pg_sms_token_put,
        .sms_token_get = ehr_pg_sms_token_get,
        .sms_token_del = ehr_pg_sms_token_del,
        .sms_token_set_tries = ehr_pg_sms_token_set_tries,
        .sms_send_nth = ehr_pg_sms_send_nth,
        .sms_send_add = ehr_pg_sms_send_add,
        .device_put = ehr_pg_device_put,
        .device_find = ehr_pg_device_find,
        .device_touch = ehr_pg_device_touch,
        .device_foreach = ehr_pg_device_foreach,
        .device_del = ehr_pg_device_del,
        .reset_token_put = ehr_pg_reset_token_put,
        .reset_token_find = ehr_pg_reset_token_find,
        .reset_token_take = ehr_pg_reset_token_take,
        .reset_token_void = ehr_pg_reset_token_void,
        .reset_request_add = ehr_pg_reset_request_add,
        .support_pin_put = ehr_pg_support_pin_put,
        .support_pin_get = ehr_pg_support_pin_get,
        .support_pin_set_state = ehr_pg_support_pin_set_state,
        .unlock_pin_put = ehr_pg_unlock_pin_put,
        .unlock_pin_get = ehr_pg_unlock_pin_get,
        .unlock_pin_set_state = ehr_pg_unlock_pin_set_state,
        .user_put = ehr_pg_user_put,
        .password_put = ehr_pg_password_put,
        .password_get = ehr_pg_password_get,
        .grace_use = ehr_pg_grace_use,
        .grace_get = ehr_pg_grace_get,
        .recovery_foreach = ehr_pg_recovery_foreach,
        .break_glass_add = ehr_pg_break_glass_add,
        .break_glass_review = ehr_pg_break_glass_review,
        .break_glass_get = ehr_pg_break_glass_get,
        .break_glass_foreach = ehr_pg_break_glass_foreach,
};

/* The cursor of store-row.h: a result and its current row, in text format. */

static bool row_null(const void *at, int col) {
        return col_null(at, col);
}

static bool row_integer(const void *at, int col, int64_t *ret) {
        if (col_null(at, col))
                return false;
        const char *t = col_text(at, col);
        char *end = NULL;
        errno = 0;
        long long v = *t ? strtoll(t, &end, 10) : 0;
        if (!*t || !end || *end || errno != 0)
                return false;
        *ret = v;
        return true;
}

static const char *row_text(const void *at, int col) {
        return col_text(at, col);
}

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* bytea in text format: \x and hex digits. */
static int row_blob(const void *at, int col, uint8_t *buf, size_t cap) {
        if (col_null(at, col))
                return -EBADMSG;
        const char *t = col_text(at, col);
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

const struct ehr_row_ops ehr_pg_row_ops = {
        .null = row_null,
        .integer = row_integer,
        .text = row_text,
        .blob = row_blob,
};
