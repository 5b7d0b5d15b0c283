/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The help desk: the four-digit Support PIN a caller proves themselves with
 * (it rotates after each successful validation), the Unlock PIN for locked
 * screens, and support requests made on someone else's behalf. Every step is
 * audited with the seed's wording ("Support PIN viewed", "Generated New PIN",
 * "Successful validation of Support PIN for user X", ...). */

#include <stdint.h>

#include "config.h"
#include "store.h"

#define EHR_SUPPORT_PIN_MAX_FAILURES 5U /* 4 digits are only 10,000 guesses */
#define EHR_UNLOCK_PIN_MAX_FAILURES 5U

/* Exit codes of "ehr2fa-helper unlock", the privileged path a screen locker
 * (running as the user) checks the Unlock PIN through. */
enum {
        EHR_HELPER_OK = 0,
        EHR_HELPER_WRONG = 1,
        EHR_HELPER_LOCKED = 2,
        EHR_HELPER_UNAVAILABLE = 3,
        EHR_HELPER_NO_PIN = 4,
        EHR_HELPER_DENIED = 5,
};

/* Give the user a new random Support PIN, different from their Unlock PIN.
 * Audited "Generated New PIN" by actor. Writes it into ret_pin when non-NULL. */
int ehr_support_pin_new(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, const char *actor,
                        const char *source, char ret_pin[EHR_PIN_DIGITS + 1]);

/* Show the PIN to its owner: audited "Support PIN viewed". Creates one if the
 * user has none yet. Returns 0, -EBADMSG. */
int ehr_support_pin_view(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, const char *source,
                         char ret_pin[EHR_PIN_DIGITS + 1]);

/* The help desk checks what a caller said. On success the PIN rotates at once.
 * Returns 0, -EBADRQC (wrong; counted), -EAGAIN (validation locked after
 * EHR_SUPPORT_PIN_MAX_FAILURES failures until a manager clears it). */
_warn_unused_result_ int ehr_support_pin_validate(struct ehr_store *s, const struct ehr_user *u, const char *pin,
                                                  uint64_t now_sec, const char *actor, const char *source);

/* Clear a Support PIN validation lock (Manage Accounts). */
int ehr_support_pin_unlock(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, const char *actor,
                           const char *source);

/* Set the Unlock PIN: four digits, not equal to the Support PIN (-EEXIST), stored
 * as a keyed hash. Returns 0, -EINVAL, -EEXIST. */
int ehr_unlock_pin_set(struct ehr_store *s, const struct ehr_user *u, const char *pin, uint64_t now_sec,
                       const char *actor, const char *source);

/* Check an Unlock PIN (screen lockers). Failures are counted; after
 * EHR_UNLOCK_PIN_MAX_FAILURES the PIN is locked for unlock_time. Returns 0,
 * -EBADRQC, -EAGAIN (locked; *ret_until), -ENOENT (no Unlock PIN set). */
_warn_unused_result_ int ehr_unlock_pin_verify(struct ehr_store *s, const struct ehr_config *c,
                                               const struct ehr_user *u, const char *pin, uint64_t now_sec,
                                               const char *source, uint64_t *ret_until);

/* True for exactly four ASCII digits. */
bool ehr_pin_valid(const char *pin);

/* A support request by `by` on behalf of `target`, following the seed's table:
 * provider for staff -> approved (support can assist); staff for a provider, or
 * staff for staff -> open until the provider (the target, or the target's
 * primary provider) approves. Returns 0 and the id and whether it needs approval;
 * -ENOENT when a staff target has no primary provider to approve, -EINVAL when the
 * note breaks the free-text rule (EHR_FIELD_TEXT). */
int ehr_support_request_create(struct ehr_store *s, const struct ehr_user *target, const struct ehr_user *by,
                               const char *note, uint64_t now_sec, const char *actor, const char *source,
                               int64_t *ret_id, bool *ret_needs_approval);

/* Approve an open request: `how` is "approved by <provider>" or "provider's
 * Support PIN validated". The caller checks who may approve. Returns 0 or
 * -EALREADY (not open). */
int ehr_support_request_approve(struct ehr_store *s, int64_t id, const char *for_login, const char *how,
                                uint64_t now_sec, const char *actor, const char *source);
