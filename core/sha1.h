/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* HMAC-SHA1, which TOTP apps still default to and libsodium does not offer.
 * SHA-1's collision weakness does not touch HMAC-SHA1 as a PRF (RFC 6194). */

#include <stddef.h>
#include <stdint.h>

#define EHR_SHA1_BYTES 20U
#define EHR_SHA1_BLOCK_BYTES 64U

void ehr_hmac_sha1(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen,
                   uint8_t out[EHR_SHA1_BYTES]);
