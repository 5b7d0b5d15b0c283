/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by mkstore.c (writes the three stores) and bench-pam.c (resets
 * replay state between timed checks): the one secret every benchmark user
 * has, and the file formats of pam_oath and pam_google_authenticator. */

#include <stdint.h>
#include <stdio.h>

#include "base32.h"

/* RFC 4226 Appendix D test key, "12345678901234567890": 20 bytes, SHA1. */
#define BENCH_SECRET "12345678901234567890"
#define BENCH_SECRET_BYTES 20U
#define BENCH_DIGITS 6U
#define BENCH_PERIOD 30U
#define BENCH_LOGIN_PREFIX "user"

static inline const uint8_t *bench_secret(void) {
        return (const uint8_t *) BENCH_SECRET;
}

/* One pam_oath usersfile line: TOTP, 30 s, 6 digits, no password ("-"). */
static inline int bench_oath_line(FILE *f, unsigned long idx) {
        char hex[BENCH_SECRET_BYTES * 2 + 1];
        for (size_t i = 0; i < BENCH_SECRET_BYTES; i++)
                snprintf(hex + 2 * i, 3, "%02x", bench_secret()[i]);
        return fprintf(f, "HOTP/T30/6\t" BENCH_LOGIN_PREFIX "%lu\t-\t%s\n", idx, hex) < 0 ? -1 : 0;
}

/* A google-authenticator secret file: TOTP, DISALLOW_REUSE (so that a used code
 * is recorded, as pam_oath and ehr2fa do), default WINDOW_SIZE 3 (= +-1 step,
 * the same as ehr2fa's window = 1 and pam_oath's window=1), no RATE_LIMIT. */
static inline int bench_ga_contents(char *buf, size_t len) {
        char b32[EHR_BASE32_ENCODED_SIZE(BENCH_SECRET_BYTES)];
        if (ehr_base32_encode(bench_secret(), BENCH_SECRET_BYTES, b32, sizeof b32) < 0)
                return -1;
        int n = snprintf(buf, len, "%s\n\" TOTP_AUTH\n\" DISALLOW_REUSE\n", b32);
        return n < 0 || (size_t) n >= len ? -1 : n;
}
