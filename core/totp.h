/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* HOTP (RFC 4226) and TOTP (RFC 6238). Time is always a parameter. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define EHR_OTP_DIGITS_MIN 6U
#define EHR_OTP_DIGITS_MAX 8U
#define EHR_TOTP_SECRET_BYTES 20U  /* 160 bits, RFC 4226's recommendation */
#define EHR_OTP_SECRET_MAX 64U     /* largest imported secret (SHA512 block) */
#define EHR_TOTP_PERIOD_DEFAULT 30U

enum ehr_otp_algorithm {
        EHR_OTP_SHA1,
        EHR_OTP_SHA256,
        EHR_OTP_SHA512,
};

struct ehr_otp_params {
        enum ehr_otp_algorithm algorithm;
        unsigned digits; /* 6..8 */
        unsigned period; /* seconds */
};

/* "SHA1" etc., case-insensitive. Returns 0 or -EINVAL. */
int ehr_otp_algorithm_from_string(const char *s, enum ehr_otp_algorithm *ret);
const char *ehr_otp_algorithm_to_string(enum ehr_otp_algorithm a);

/* Validate digits and period. Returns 0 or -EINVAL. */
int ehr_otp_params_check(const struct ehr_otp_params *p);

/* The HOTP value for counter, as `digits` decimal digits into out (NUL-terminated).
 * Returns 0, -EINVAL (digits out of range, empty key) or -ERANGE (out too small). */
int ehr_hotp(const uint8_t *key, size_t keylen, enum ehr_otp_algorithm alg, uint64_t counter, unsigned digits,
             char *out, size_t outlen);

/* The TOTP time step of now_sec. */
static inline uint64_t ehr_totp_step(uint64_t now_sec, unsigned period) {
        return now_sec / period;
}

/* Check `code` against steps now-window..now+window. Every candidate is computed
 * and compared in constant time, so timing tells nothing about which step matched.
 * Returns 0 and the matching step in *ret_step; -EALREADY if the code matches only
 * a step <= last_step (a replay); -EBADRQC if it matches nothing (or is not
 * `digits` digits long). */
_warn_unused_result_ int ehr_totp_verify(const uint8_t *key, size_t keylen, const struct ehr_otp_params *p,
                                         uint64_t now_sec, unsigned window, uint64_t last_step, bool have_last_step,
                                         const char *code, uint64_t *ret_step);
