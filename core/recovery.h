/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Single-use recovery codes: 10 characters (50 bits) from a 32-letter alphabet
 * without look-alikes, shown as "xxxxx-xxxxx". Stored only as keyed hashes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define EHR_RECOVERY_CODES 10U
#define EHR_RECOVERY_CHARS 10U
#define EHR_RECOVERY_DISPLAY_SIZE (EHR_RECOVERY_CHARS + 2U) /* with '-' and NUL */

/* Make n codes (display form) and their hashes for this user. */
void ehr_recovery_generate(const struct ehr_keys *k, int64_t user_id, size_t n,
                           char (*ret_codes)[EHR_RECOVERY_DISPLAY_SIZE], uint8_t (*ret_hashes)[EHR_HASH_BYTES]);

/* Normalise what a user typed (case, '-', spaces, O/0 and I/L/1 confusion) and hash
 * it. Returns 0, or -EINVAL when it cannot be a recovery code. */
int ehr_recovery_hash(const struct ehr_keys *k, int64_t user_id, const char *typed, uint8_t ret[EHR_HASH_BYTES]);

/* True when typed has the shape of a recovery code (so it is not taken for an OTP). */
bool ehr_recovery_looks_like(const char *typed);
