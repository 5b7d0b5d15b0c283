/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite backend's table of operations, what core/store.c calls, and its
 * cursor for the neutral row reader (store-row.h). */

#include "internal.h"

const struct ehr_store_ops ehr_store_sqlite_ops = {
        .name = "sqlite",
        .open = ehr_sqlite_open,
        .free = ehr_sqlite_free,
        .location = ehr_sqlite_location,
        .changed = ehr_sqlite_changed,
        .bad_value = ehr_sqlite_bad_value,
        .begin = ehr_sqlite_begin,
        .sync = ehr_sqlite_sync,
        .commit = ehr_sqlite_commit,
        .rollback = ehr_sqlite_rollback,
        .reserve = ehr_sqlite_reserve,
        .release = ehr_sqlite_release,
        .idle = ehr_sqlite_idle,
        .in_transaction = ehr_sqlite_in_transaction,
        .user_add = ehr_sqlite_user_add,
        .user_get = ehr_sqlite_user_get,
        .user_del = ehr_sqlite_user_del,
        .user_foreach = ehr_sqlite_user_foreach,
        .user_set_provider = ehr_sqlite_user_set_provider,
        .user_set_sms_2fa = ehr_sqlite_user_set_sms_2fa,
        .perm_grant = ehr_sqlite_perm_grant,
        .perm_revoke = ehr_sqlite_perm_revoke,
        .perm_has = ehr_sqlite_perm_has,
        .perm_foreach = ehr_sqlite_perm_foreach,
        .request_add = ehr_sqlite_request_add,
        .request_get = ehr_sqlite_request_get,
        .request_foreach = ehr_sqlite_request_foreach,
        .request_decide = ehr_sqlite_request_decide,
        .user_set_account = ehr_sqlite_user_set_account,
        .user_set_locked = ehr_sqlite_user_set_locked,
        .id_used = ehr_sqlite_id_used,
        .password_put = ehr_sqlite_password_put,
        .password_get = ehr_sqlite_password_get,
        .id_high = ehr_sqlite_id_high,
        .id_high_raise = ehr_sqlite_id_high_raise,
        .group_add = ehr_sqlite_group_add,
        .group_del = ehr_sqlite_group_del,
        .group_get = ehr_sqlite_group_get,
        .group_member = ehr_sqlite_group_member,
        .group_foreach = ehr_sqlite_group_foreach,
        .group_members = ehr_sqlite_group_members,
        .totp_put = ehr_sqlite_totp_put,
        .totp_get = ehr_sqlite_totp_get,
        .totp_use_step = ehr_sqlite_totp_use_step,
        .totp_del = ehr_sqlite_totp_del,
        .recovery_del = ehr_sqlite_recovery_del,
        .recovery_replace = ehr_sqlite_recovery_replace,
        .recovery_use = ehr_sqlite_recovery_use,
        .failures_get = ehr_sqlite_failures_get,
        .failures_put = ehr_sqlite_failures_put,
        .failures_clear = ehr_sqlite_failures_clear,
        .audit_insert = ehr_sqlite_audit_insert,
        .audit_head_get = ehr_sqlite_audit_head_get,
        .audit_head_put = ehr_sqlite_audit_head_put,
        .audit_foreach = ehr_sqlite_audit_foreach,
        .sms_token_put = ehr_sqlite_sms_token_put,
        .sms_token_get = ehr_sqlite_sms_token_get,
        .sms_token_del = ehr_sqlite_sms_token_del,
        .sms_token_set_tries = ehr_sqlite_sms_token_set_tries,
        .sms_send_nth = ehr_sqlite_sms_send_nth,
        .sms_send_add = ehr_sqlite_sms_send_add,
        .grace_use = ehr_sqlite_grace_use,
        .grace_get = ehr_sqlite_grace_get,
        .device_put = ehr_sqlite_device_put,
        .device_find = ehr_sqlite_device_find,
        .device_touch = ehr_sqlite_device_touch,
        .device_foreach = ehr_sqlite_device_foreach,
        .device_del = ehr_sqlite_device_del,
        .reset_token_put = ehr_sqlite_reset_token_put,
        .reset_token_find = ehr_sqlite_reset_token_find,
        .reset_token_take = ehr_sqlite_reset_token_take,
        .reset_token_void = ehr_sqlite_reset_token_void,
        .reset_request_add = ehr_sqlite_reset_request_add,
        .support_pin_put = ehr_sqlite_support_pin_put,
        .support_pin_get = ehr_sqlite_support_pin_get,
        .support_pin_set_state = ehr_sqlite_support_pin_set_state,
        .unlock_pin_put = ehr_sqlite_unlock_pin_put,
        .unlock_pin_get = ehr_sqlite_unlock_pin_get,
        .unlock_pin_set_state = ehr_sqlite_unlock_pin_set_state,
        .user_put = ehr_sqlite_user_put,
        .recovery_foreach = ehr_sqlite_recovery_foreach,
        .break_glass_add = ehr_sqlite_break_glass_add,
        .break_glass_review = ehr_sqlite_break_glass_review,
        .break_glass_get = ehr_sqlite_break_glass_get,
        .break_glass_foreach = ehr_sqlite_break_glass_foreach,
};

/* The cursor of store-row.h: a statement on its current row. */

static bool row_null(const void *at, int col) {
        return sqlite3_column_type((sqlite3_stmt *) at, col) == SQLITE_NULL;
}

static bool row_integer(const void *at, int col, int64_t *ret) {
        sqlite3_stmt *st = (sqlite3_stmt *) at;
        if (sqlite3_column_type(st, col) != SQLITE_INTEGER) /* before any conversion */
                return false;
        *ret = sqlite3_column_int64(st, col);
        return true;
}

static const char *row_text(const void *at, int col) {
        return col_text((sqlite3_stmt *) at, col);
}

static int row_blob(const void *at, int col, uint8_t *buf, size_t cap) {
        sqlite3_stmt *st = (sqlite3_stmt *) at;
        const void *b = sqlite3_column_blob(st, col);
        int n = sqlite3_column_bytes(st, col);
        if (!b || n < 0 || (size_t) n > cap)
                return -EBADMSG;
        memcpy(buf, b, (size_t) n);
        return n;
}

const struct ehr_row_ops ehr_sqlite_row_ops = {
        .null = row_null,
        .integer = row_integer,
        .text = row_text,
        .blob = row_blob,
};
