/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Policy: lockout and the second-factor check itself, shared by the PAM module
 * and the admin tool so they cannot drift apart. */

#include <stdint.h>

#include "config.h"
#include "store.h"

enum ehr_factor {
        EHR_FACTOR_NONE,
        EHR_FACTOR_TOTP,
        EHR_FACTOR_RECOVERY,
        EHR_FACTOR_SMS,
};

struct ehr_verdict {
        enum ehr_factor factor;    /* what the answer was taken for */
        uint64_t locked_until_sec; /* nonzero: the user is (now) locked until then; UINT64_MAX: until cleared */
        uint64_t failures;         /* failures in the current interval, after this attempt */
        unsigned recovery_left;    /* unused recovery codes after this attempt */
};

/* Is the user locked at now_sec, given their failure record? Returns the end of
 * the lock (UINT64_MAX: until an admin clears it), or 0 when not locked. */
uint64_t ehr_policy_locked_until(const struct ehr_failures *f, uint64_t now_sec);

/* Read the user's lock state. Returns 0, or -EAGAIN with the end in *ret_until. */
int ehr_policy_check_lock(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, uint64_t *ret_until);

/* Check a second-factor answer (a TOTP code, a pending SMS token or a recovery code) for an enrolled
 * user, in one transaction: lock state, verification, the used step or code,
 * the failure counter and the audit row are read and written together.
 * Returns 0 (accepted), -EBADRQC (wrong or empty), -EALREADY (TOTP replay),
 * -EAGAIN (already locked: nothing was checked), -EBADMSG (the seed does not
 * open), -ENOENT (not enrolled), or a store error; -EROFS when the use of a
 * correct code cannot be recorded, which is then refused. `verdict` is filled
 * in on every return. actor and source go into the audit row. */
_warn_unused_result_ int ehr_policy_verify(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u,
                                           const char *answer, uint64_t now_sec, const char *source,
                                           struct ehr_verdict *verdict);

/* The same for the code of a seed not stored yet (enrollment at login,
 * core/enroll.h): lock state, the check against seed, and a failure counted
 * and audited exactly as a wrong code is. On success nothing is written and
 * *ret_step is the code's time step, for the caller to record once the seed is
 * stored. Returns 0, -EBADRQC, -EAGAIN or a store error. */
_warn_unused_result_ int ehr_policy_verify_new_seed(struct ehr_store *s, const struct ehr_config *c,
                                                    const struct ehr_user *u, const struct ehr_secret *seed,
                                                    const struct ehr_otp_params *p, const char *answer,
                                                    uint64_t now_sec, const char *source, struct ehr_verdict *v,
                                                    uint64_t *ret_step);

/* Could the answer be a code at all: EHR_OTP_DIGITS_MIN to _MAX digits (a TOTP code or an
 * SMS token) or a recovery code? One that cannot is refused unchecked and not counted
 * (see pam_ehr2fa(8), "Answers that are not codes"). */
bool ehr_policy_answer_well_formed(const char *answer);

/* Format a lock end for people: "14:05" today, else "2026-11-24 14:05", or "an administrator clears it". */
const char *ehr_policy_format_until(uint64_t until_sec, uint64_t now_sec, char *buf, size_t len);
