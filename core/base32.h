/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* RFC 4648 base32 without padding, as otpauth:// URIs carry TOTP secrets. */

/* Bytes needed to encode n bytes, including the terminating NUL. */
#define EHR_BASE32_ENCODED_SIZE(n) (((n) * 8U + 4U) / 5U + 1U)

/* Encode; returns 0 or -ERANGE if out is too small. */
int ehr_base32_encode(const uint8_t *in, size_t n, char *out, size_t outlen);

/* Decode, case-insensitive, ignoring spaces, '-' and trailing '=' padding.
 * Returns the number of bytes written, -EINVAL on a bad character or
 * impossible length, -ERANGE if out is too small. */
int ehr_base32_decode(const char *in, uint8_t *out, size_t outlen);
