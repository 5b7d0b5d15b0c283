/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base32.h"
#include "util.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int ehr_base32_encode(const uint8_t *in, size_t n, char *out, size_t outlen) {
        if (outlen < EHR_BASE32_ENCODED_SIZE(n))
                return -ERANGE;
        size_t o = 0;
        uint32_t buf = 0;
        unsigned bits = 0;
        for (size_t i = 0; i < n; i++) {
                buf = (buf << 8) | in[i];
                bits += 8;
                while (bits >= 5) {
                        out[o++] = alphabet[(buf >> (bits - 5)) & 31U];
                        bits -= 5;
                }
        }
        if (bits > 0)
                out[o++] = alphabet[(buf << (5 - bits)) & 31U];
        out[o] = 0;
        return 0;
}

int ehr_base32_decode(const char *in, uint8_t *out, size_t outlen) {
        size_t o = 0;
        uint32_t buf = 0;
        unsigned bits = 0, chars = 0;
        bool padding = false;
        for (const char *p = in; *p; p++) {
                char c = *p;
                if (c == ' ' || c == '-' || c == '\t')
                        continue;
                if (c == '=') {
                        padding = true;
                        continue;
                }
                if (padding)
                        return -EINVAL; /* data after padding */
                unsigned v;
                if (c >= 'a' && c <= 'z')
                        v = (unsigned) (c - 'a');
                else if (c >= 'A' && c <= 'Z')
                        v = (unsigned) (c - 'A');
                else if (c >= '2' && c <= '7')
                        v = (unsigned) (c - '2') + 26U;
                else
                        return -EINVAL;
                buf = (buf << 5) | v;
                bits += 5;
                chars++;
                if (bits >= 8) {
                        if (o >= outlen)
                                return -ERANGE;
                        out[o++] = (uint8_t) (buf >> (bits - 8));
                        bits -= 8;
                }
        }
        /* Lengths 1, 3 and 6 (mod 8) cannot come from whole bytes. */
        unsigned rem = chars % 8U;
        if (rem == 1 || rem == 3 || rem == 6)
                return -EINVAL;
        if (o > INT32_MAX)
                return -ERANGE;
        return (int) o;
}
