/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Passwords of managed accounts: set one (the policy, a fresh libxcrypt hash,
 * the store, the audit log, the shadow snapshot) and check one. */

#include <stdio.h>

#include "account.h"
#include "accounts-internal.h"
#include "password.h"

int ehr_account_password_set(struct ehr_op *op, const struct ehr_user *u, const char *password,
                             enum ehr_password_how how, char *reterr_msg, size_t msglen) {
        static const char *const what[] = {
                [EHR_PASSWORD_BY_USER] = "changed by the user",
                [EHR_PASSWORD_BY_ROOT] = "set by root",
                [EHR_PASSWORD_BY_RESET] = "set with a reset token",
        };
        /* A 2FA-only record: the password is the host's (files, LDAP, AD), never ours. */
        if (u->uid < 0) {
                snprintf(reterr_msg, msglen, "%s is not a managed account: its password is the host's.", u->login);
                return account_fail(op, EHR_FIELD_LOGIN, -EOPNOTSUPP);
        }
        if ((unsigned) how >= ELEMENTSOF(what)) {
                snprintf(reterr_msg, msglen, "Unknown kind of password change.");
                return -EINVAL;
        }
        int r = ehr_password_policy_check(op->cfg, u->login, password, reterr_msg, msglen);
        if (r < 0)
                return r;
        char hash[EHR_PASSWORD_HASH_MAX + 1];
        r = ehr_password_hash(password, hash);
        if (r < 0) {
                snprintf(reterr_msg, msglen, "Cannot hash the password: %s", ehr_strerror(r));
                return r;
        }
        r = ehr_store_begin(op->store);
        if (r >= 0)
                r = ehr_store_password_put(op->store, u->id, hash, op->now_sec);
        if (r >= 0)
                r = account_audit(op, u->login, "password set", what[how]);
        explicit_bzero(hash, sizeof hash);
        r = account_end(op, r, true);
        if (r < 0)
                snprintf(reterr_msg, msglen, "%s: %s",
                         op->committed ? "The password was stored but not published" : "Cannot store the password",
                         ehr_strerror(r));
        return r;
}

int ehr_account_password_verify(struct ehr_op *op, const struct ehr_user *u, const char *password) {
        if (u->uid < 0)
                return -EOPNOTSUPP;
        char hash[EHR_PASSWORD_HASH_MAX + 1];
        uint64_t changed;
        int r = ehr_store_password_get(op->store, u->id, hash, &changed);
        if (r >= 0)
                r = ehr_password_verify(hash, password);
        explicit_bzero(hash, sizeof hash);
        if (r != -EBADRQC)
                return r;
        int a = ehr_store_begin(op->store);
        if (a >= 0)
                a = account_audit(op, u->login, "password change refused", "wrong current password");
        a = account_end(op, a, false);
        return a < 0 ? a : r;
}
