/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Enrolling an app: the seed and its otpauth:// URI (for ehr2fa-admin totp
 * enroll and for enrollment at first login), and the first-login enrollment
 * itself: a code from the new app confirms it (checked, counted and audited
 * as any code), then the seed is stored with ehr_account_totp_enroll() and ten
 * recovery codes made with ehr_account_recovery_new(), the same operations as
 * the admin tool's. Nothing here logs or prompts. */

#include <stdint.h>

#include "account.h"
#include "base32.h"
#include "policy.h"
#include "recovery.h"
#include "totp.h"

#define EHR_ENROLL_KEY_SIZE EHR_BASE32_ENCODED_SIZE(EHR_OTP_SECRET_MAX)

struct ehr_enrollment {
        struct ehr_secret *seed;       /* sodium_malloc'd */
        struct ehr_otp_params p;
        char *uri;                     /* otpauth://totp/ISSUER:LOGIN?secret=...: holds the seed */
        size_t uri_len;
        char key[EHR_ENROLL_KEY_SIZE]; /* the seed in base32, to type in */
};

/* The otpauth:// URI of seed for login, as phone apps read it, and the key in
 * base32. *ret_uri is malloc'd (the caller wipes it: it holds the seed).
 * Returns 0 or -ENOMEM. */
int ehr_enroll_uri(const struct ehr_config *c, const char *login, const struct ehr_secret *seed,
                   const struct ehr_otp_params *p, char **ret_uri, size_t *ret_len, char key[EHR_ENROLL_KEY_SIZE]);

/* A new random seed (EHR_TOTP_SECRET_BYTES) with the config's parameters, and its URI. */
int ehr_enroll_new(const struct ehr_config *c, const char *login, struct ehr_enrollment **ret);
/* Wipes everything; NULL is fine. */
struct ehr_enrollment *ehr_enroll_free(struct ehr_enrollment *e);
static inline void ehr_enroll_freep(struct ehr_enrollment **e) {
        *e = ehr_enroll_free(*e);
}

/* Enrollment at login, for op->actor (u, not enrolled): answer must be a code of
 * e's seed (ehr_policy_verify_new_seed(): a wrong one is counted and audited, a
 * locked user is refused). Then the seed is stored (ehr_account_totp_enroll()),
 * the code's step recorded so it cannot be replayed, the success audited, and
 * ten recovery codes made into ret_codes (shown once, then wiped by the caller).
 * Returns 0, -EBADRQC, -EAGAIN (v says until when), -EEXIST (an app was enrolled
 * for u in the meantime: nothing stored), or a store error. */
_warn_unused_result_ int ehr_enroll_confirm(struct ehr_op *op, const struct ehr_user *u,
                                            const struct ehr_enrollment *e, const char *answer,
                                            struct ehr_verdict *v,
                                            char (*ret_codes)[EHR_RECOVERY_DISPLAY_SIZE]);
