/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>

#include "recovery.h"

/* Crockford's base32: no i, l, o, u. */
static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

static int normalize(const char *typed, char out[EHR_RECOVERY_CHARS + 1]) {
        size_t n = 0;
        for (const char *p = typed; *p; p++) {
                char c = (char) tolower((unsigned char) *p);
                if (c == '-' || c == ' ')
                        continue;
                if (c == 'o')
                        c = '0';
                else if (c == 'i' || c == 'l')
                        c = '1';
                if (!strchr(alphabet, c) || c == 0)
                        return -EINVAL;
                if (n >= EHR_RECOVERY_CHARS)
                        return -EINVAL;
                out[n++] = c;
        }
        if (n != EHR_RECOVERY_CHARS)
                return -EINVAL;
        out[n] = 0;
        return 0;
}

bool ehr_recovery_looks_like(const char *typed) {
        char buf[EHR_RECOVERY_CHARS + 1];
        bool ok = normalize(typed, buf) == 0;
        sodium_memzero(buf, sizeof buf);
        return ok;
}

int ehr_recovery_hash(const struct ehr_keys *k, int64_t user_id, const char *typed, uint8_t ret[EHR_HASH_BYTES]) {
        char buf[EHR_RECOVERY_CHARS + 1];
        int r = normalize(typed, buf);
        if (r == 0)
                ehr_keyed_hash(k, EHR_KEY_RECOVERY, "recovery", user_id, (const uint8_t *) buf, EHR_RECOVERY_CHARS, ret);
        sodium_memzero(buf, sizeof buf);
        return r;
}

void ehr_recovery_generate(const struct ehr_keys *k, int64_t user_id, size_t n,
                           char (*ret_codes)[EHR_RECOVERY_DISPLAY_SIZE], uint8_t (*ret_hashes)[EHR_HASH_BYTES]) {
        for (size_t i = 0; i < n; i++) {
                char raw[EHR_RECOVERY_CHARS + 1];
                for (size_t j = 0; j < EHR_RECOVERY_CHARS; j++)
                        raw[j] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
                raw[EHR_RECOVERY_CHARS] = 0;
                ehr_keyed_hash(k, EHR_KEY_RECOVERY, "recovery", user_id, (const uint8_t *) raw, EHR_RECOVERY_CHARS,
                               ret_hashes[i]);
                memcpy(ret_codes[i], raw, 5);
                ret_codes[i][5] = '-';
                memcpy(ret_codes[i] + 6, raw + 5, 5);
                ret_codes[i][11] = 0;
                sodium_memzero(raw, sizeof raw);
        }
}
