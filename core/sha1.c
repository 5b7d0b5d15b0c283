/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "sodium-load.h"
#include <string.h>

#include "sha1.h"

struct sha1 {
        uint32_t h[5];
        uint64_t len;
        uint8_t buf[EHR_SHA1_BLOCK_BYTES];
        size_t used;
};

static uint32_t rol(uint32_t x, unsigned n) {
        return (x << n) | (x >> (32 - n));
}

static void sha1_block(struct sha1 *s, const uint8_t *p) {
        uint32_t w[80];
        for (unsigned i = 0; i < 16; i++)
                w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 | (uint32_t) p[4 * i + 2] << 8 |
                       p[4 * i + 3];
        for (unsigned i = 16; i < 80; i++)
                w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
        for (unsigned i = 0; i < 80; i++) {
                uint32_t f, k;
                if (i < 20)
                        f = (b & c) | (~b & d), k = 0x5A827999;
                else if (i < 40)
                        f = b ^ c ^ d, k = 0x6ED9EBA1;
                else if (i < 60)
                        f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
                else
                        f = b ^ c ^ d, k = 0xCA62C1D6;
                uint32_t t = rol(a, 5) + f + e + k + w[i];
                e = d, d = c, c = rol(b, 30), b = a, a = t;
        }
        s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d, s->h[4] += e;
        sodium_memzero(w, sizeof w);
}

static void sha1_init(struct sha1 *s) {
        *s = (struct sha1) { .h = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0 } };
}

static void sha1_update(struct sha1 *s, const uint8_t *p, size_t n) {
        s->len += n;
        while (n > 0) {
                size_t take = EHR_SHA1_BLOCK_BYTES - s->used;
                if (take > n)
                        take = n;
                memcpy(s->buf + s->used, p, take);
                s->used += take, p += take, n -= take;
                if (s->used == EHR_SHA1_BLOCK_BYTES) {
                        sha1_block(s, s->buf);
                        s->used = 0;
                }
        }
}

static void sha1_final(struct sha1 *s, uint8_t out[EHR_SHA1_BYTES]) {
        uint64_t bits = s->len * 8;
        uint8_t pad = 0x80, zero = 0, lenbuf[8];
        sha1_update(s, &pad, 1);
        while (s->used != 56)
                sha1_update(s, &zero, 1);
        for (unsigned i = 0; i < 8; i++)
                lenbuf[i] = (uint8_t) (bits >> (56 - 8 * i));
        sha1_update(s, lenbuf, 8);
        for (unsigned i = 0; i < 5; i++) {
                out[4 * i] = (uint8_t) (s->h[i] >> 24);
                out[4 * i + 1] = (uint8_t) (s->h[i] >> 16);
                out[4 * i + 2] = (uint8_t) (s->h[i] >> 8);
                out[4 * i + 3] = (uint8_t) s->h[i];
        }
        sodium_memzero(s, sizeof *s);
}

void ehr_hmac_sha1(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen,
                   uint8_t out[EHR_SHA1_BYTES]) {
        uint8_t k[EHR_SHA1_BLOCK_BYTES] = {}, pad[EHR_SHA1_BLOCK_BYTES], inner[EHR_SHA1_BYTES];
        struct sha1 s;
        if (keylen > EHR_SHA1_BLOCK_BYTES) {
                sha1_init(&s);
                sha1_update(&s, key, keylen);
                sha1_final(&s, k);
        } else
                memcpy(k, key, keylen);

        for (unsigned i = 0; i < EHR_SHA1_BLOCK_BYTES; i++)
                pad[i] = k[i] ^ 0x36;
        sha1_init(&s);
        sha1_update(&s, pad, sizeof pad);
        sha1_update(&s, msg, msglen);
        sha1_final(&s, inner);

        for (unsigned i = 0; i < EHR_SHA1_BLOCK_BYTES; i++)
                pad[i] = k[i] ^ 0x5c;
        sha1_init(&s);
        sha1_update(&s, pad, sizeof pad);
        sha1_update(&s, inner, sizeof inner);
        sha1_final(&s, out);

        sodium_memzero(k, sizeof k);
        sodium_memzero(pad, sizeof pad);
        sodium_memzero(inner, sizeof inner);
}
