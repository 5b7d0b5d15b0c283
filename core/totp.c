/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "sodium-load.h"
#include <stdio.h>
#include <strings.h>

#include "sha1.h"
#include "totp.h"

#define HMAC_MAX_BYTES crypto_auth_hmacsha512_BYTES

static const char *const algorithm_names[] = {
        [EHR_OTP_SHA1] = "SHA1",
        [EHR_OTP_SHA256] = "SHA256",
        [EHR_OTP_SHA512] = "SHA512",
};

int ehr_otp_algorithm_from_string(const char *s, enum ehr_otp_algorithm *ret) {
        for (size_t i = 0; i < ELEMENTSOF(algorithm_names); i++)
                if (strcasecmp(s, algorithm_names[i]) == 0) {
                        *ret = (enum ehr_otp_algorithm) i;
                        return 0;
                }
        return -EINVAL;
}

const char *ehr_otp_algorithm_to_string(enum ehr_otp_algorithm a) {
        return (size_t) a < ELEMENTSOF(algorithm_names) ? algorithm_names[a] : "?";
}

int ehr_otp_params_check(const struct ehr_otp_params *p) {
        if (p->digits < EHR_OTP_DIGITS_MIN || p->digits > EHR_OTP_DIGITS_MAX)
                return -EINVAL;
        if (p->period < 10 || p->period > 300)
                return -EINVAL;
        if ((size_t) p->algorithm >= ELEMENTSOF(algorithm_names))
                return -EINVAL;
        return 0;
}

static size_t hmac(enum ehr_otp_algorithm alg, const uint8_t *key, size_t keylen, const uint8_t msg[8],
                   uint8_t out[HMAC_MAX_BYTES]) {
        switch (alg) {
        case EHR_OTP_SHA1:
                ehr_hmac_sha1(key, keylen, msg, 8, out);
                return EHR_SHA1_BYTES;
        case EHR_OTP_SHA256: {
                crypto_auth_hmacsha256_state st;
                crypto_auth_hmacsha256_init(&st, key, keylen);
                crypto_auth_hmacsha256_update(&st, msg, 8);
                crypto_auth_hmacsha256_final(&st, out);
                sodium_memzero(&st, sizeof st);
                return crypto_auth_hmacsha256_BYTES;
        }
        case EHR_OTP_SHA512: {
                crypto_auth_hmacsha512_state st;
                crypto_auth_hmacsha512_init(&st, key, keylen);
                crypto_auth_hmacsha512_update(&st, msg, 8);
                crypto_auth_hmacsha512_final(&st, out);
                sodium_memzero(&st, sizeof st);
                return crypto_auth_hmacsha512_BYTES;
        }
        }
        return 0;
}

int ehr_hotp(const uint8_t *key, size_t keylen, enum ehr_otp_algorithm alg, uint64_t counter, unsigned digits,
             char *out, size_t outlen) {
        static const uint32_t pow10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000 };
        if (digits < EHR_OTP_DIGITS_MIN || digits > EHR_OTP_DIGITS_MAX || keylen == 0 ||
            (size_t) alg >= ELEMENTSOF(algorithm_names))
                return -EINVAL;
        if (outlen < digits + 1)
                return -ERANGE;

        uint8_t msg[8], mac[HMAC_MAX_BYTES];
        for (unsigned i = 0; i < 8; i++)
                msg[i] = (uint8_t) (counter >> (56 - 8 * i));
        size_t n = hmac(alg, key, keylen, msg, mac);

        /* RFC 4226 5.3 dynamic truncation. */
        unsigned off = mac[n - 1] & 0x0fU;
        uint32_t bin = (uint32_t) (mac[off] & 0x7fU) << 24 | (uint32_t) mac[off + 1] << 16 |
                       (uint32_t) mac[off + 2] << 8 | mac[off + 3];
        uint32_t v = bin % pow10[digits];
        for (unsigned i = digits; i > 0; i--) {
                out[i - 1] = (char) ('0' + v % 10);
                v /= 10;
        }
        out[digits] = 0;
        sodium_memzero(mac, sizeof mac);
        bin = 0;
        return 0;
}

int ehr_totp_verify(const uint8_t *key, size_t keylen, const struct ehr_otp_params *p, uint64_t now_sec,
                    unsigned window, uint64_t last_step, bool have_last_step, const char *code, uint64_t *ret_step) {
        if (ehr_otp_params_check(p) < 0)
                return -EINVAL;
        size_t len = strlen(code);
        if (len != p->digits)
                return -EBADRQC;

        uint64_t now_step = ehr_totp_step(now_sec, p->period);
        bool found = false, replay = false;
        uint64_t found_step = 0;
        for (uint64_t d = 0; d <= 2ULL * window; d++) {
                /* Steps below zero do not exist. */
                if (now_step + d < window)
                        continue;
                uint64_t step = now_step + d - window;
                char expect[EHR_OTP_DIGITS_MAX + 1];
                int r = ehr_hotp(key, keylen, p->algorithm, step, p->digits, expect, sizeof expect);
                if (r < 0)
                        return r;
                bool match = sodium_memcmp(expect, code, p->digits) == 0;
                sodium_memzero(expect, sizeof expect);
                if (!match)
                        continue;
                if (have_last_step && step <= last_step)
                        replay = true;
                else if (!found) {
                        found = true;
                        found_step = step;
                }
        }
        if (found) {
                *ret_step = found_step;
                return 0;
        }
        return replay ? -EALREADY : -EBADRQC;
}
