/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Account operations on the second factor: enrollment, the 2FA reset, recovery
 * codes, lockouts, permissions, and SMS 2FA set up by a manager for staff. */

#include "sodium-load.h"
#include <stdio.h>

#include "account.h"
#include "accounts-internal.h"
#include "trust.h"

int ehr_account_totp_enroll(struct ehr_op *op, const struct ehr_user *u, const struct ehr_secret *seed,
                            const struct ehr_otp_params *p, bool imported) {
        char details[128];
        snprintf(details, sizeof details, "%s, %s, %u digits, %u s%s", imported ? "imported" : "generated",
                 ehr_otp_algorithm_to_string(p->algorithm), p->digits, p->period, u->totp_enrolled ? ", replaced" : "");
        int r = ehr_store_begin(op->store);
        if (r >= 0)
                r = ehr_store_totp_put(op->store, u, seed->data, seed->len, p, op->now_sec);
        /* A new seed makes the old recovery codes meaningless only if they leaked with the
         * phone; keep them, as they are renewed on their own ("recovery new"). */
        if (r >= 0)
                r = account_audit(op, u->login, "TOTP enrolled", details);
        return account_end(op, r, false);
}

int ehr_account_totp_reset(struct ehr_op *op, const struct ehr_user *u) {
        int r = ehr_store_begin(op->store);
        if (r >= 0)
                r = ehr_store_totp_del(op->store, u->id);
        if (r >= 0)
                r = ehr_store_recovery_del(op->store, u->id);
        if (r >= 0)
                r = ehr_store_failures_clear(op->store, u->id);
        if (r >= 0)
                r = ehr_store_sms_token_del(op->store, u->id);
        if (r >= 0)
                r = ehr_trust_revoke(op->store, u, 0, op->now_sec, op->actor, "2FA reset", op->source);
        if (r >= 0)
                r = account_audit(op, u->login, "2FA reset",
                                  "TOTP seed, recovery codes, pending SMS token and trusted devices removed; failures cleared");
        return account_end(op, r, false);
}

int ehr_account_recovery_new(struct ehr_op *op, const struct ehr_user *u,
                             char (*ret_codes)[EHR_RECOVERY_DISPLAY_SIZE]) {
        if (!u->totp_enrolled)
                return -ENOENT;
        char codes[EHR_RECOVERY_CODES][EHR_RECOVERY_DISPLAY_SIZE], details[64];
        uint8_t hashes[EHR_RECOVERY_CODES][EHR_HASH_BYTES];
        ehr_recovery_generate(ehr_store_keys(op->store), u->id, EHR_RECOVERY_CODES, codes, hashes);
        snprintf(details, sizeof details, "%u new codes; earlier codes void", EHR_RECOVERY_CODES);
        int r = ehr_store_begin(op->store);
        if (r >= 0)
                r = ehr_store_recovery_replace(op->store, u->id, (const uint8_t(*)[EHR_HASH_BYTES]) hashes,
                                               EHR_RECOVERY_CODES);
        if (r >= 0)
                r = account_audit(op, u->login, "recovery codes generated", details);
        r = account_end(op, r, false);
        if (r >= 0)
                memcpy(ret_codes, codes, sizeof codes);
        sodium_memzero(codes, sizeof codes);
        sodium_memzero(hashes, sizeof hashes);
        return r;
}

int ehr_account_lockout_clear(struct ehr_op *op, const struct ehr_user *u) {
        int r = ehr_store_begin(op->store);
        if (r >= 0)
                r = ehr_store_failures_clear(op->store, u->id);
        if (r >= 0)
                r = account_audit(op, u->login, "lockout cleared", "failure count reset");
        return account_end(op, r, false);
}

int ehr_account_perm_set(struct ehr_op *op, const struct ehr_user *u, bool grant, char *const *perms, size_t n,
                         size_t *reterr_index) {
        for (size_t i = 0; i < n; i++)
                if (!ehr_perm_valid(perms[i])) {
                        *reterr_index = i;
                        return -EINVAL;
                }
        int r = ehr_store_begin(op->store);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = grant ? ehr_store_perm_grant(op->store, u->id, perms[i], op->now_sec, op->actor)
                          : ehr_store_perm_revoke(op->store, u->id, perms[i]);
                if (r >= 0)
                        r = account_audit(op, u->login, grant ? "permission granted" : "permission revoked", perms[i]);
        }
        return account_end(op, r, false);
}

int ehr_account_staff_sms_check(const struct ehr_op *op, const struct ehr_user *u) {
        if (!streq(u->role, "staff"))
                return -EINVAL;
        if (!*u->phone)
                return -ENOENT;
        if (*u->sms_2fa_id)
                return -EALREADY;
        /* The code of SMS 2FA comes only by text message: without a gateway the staff
         * member could not log in at all. */
        if (op->cfg->sms_mode == EHR_SMS_OFF)
                return -EOPNOTSUPP;
        return 0;
}

int ehr_account_staff_sms_setup(struct ehr_op *op, const struct ehr_user *u, char ret_id[EHR_SMS_2FA_ID_BYTES]) {
        char id[EHR_SMS_2FA_ID_BYTES], details[256];
        int r = ehr_account_staff_sms_check(op, u);
        if (r < 0)
                return r;
        snprintf(id, sizeof id, "%09u", (unsigned) randombytes_uniform(1000000000));
        snprintf(details, sizeof details, "2FA set up for staff by %s: id %s, SMS to the phone ending in %s", op->actor,
                 id, u->phone + (strlen(u->phone) > 2 ? strlen(u->phone) - 2 : 0));
        r = ehr_store_begin(op->store);
        if (r >= 0)
                r = ehr_store_user_set_sms_2fa(op->store, u->id, id);
        if (r >= 0)
                r = account_audit(op, u->login, "Two-Factor Authentication set", details);
        if ((r = account_end(op, r, false)) < 0)
                return r;
        memcpy(ret_id, id, sizeof id);
        return 0;
}
