/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "crypto.h"

#define KDF_CONTEXT "ehr2fa__"

struct ehr_keys {
        uint8_t sub[_EHR_KEY_MAX][EHR_SUBKEY_BYTES];
        uint8_t master[EHR_MASTER_KEY_BYTES + 1]; /* only while loading; zero after */
};

int ehr_master_key_create(const char *path) {
        uint8_t key[EHR_MASTER_KEY_BYTES];
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        randombytes_buf(key, sizeof key);
        ssize_t n = write(fd, key, sizeof key);
        int r = n < 0 ? negative_errno() : (size_t) n != sizeof key ? -EIO : 0;
        sodium_memzero(key, sizeof key);
        if (r == 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlink(path);
        return r;
}

int ehr_keys_load(int fd, struct ehr_keys **ret) {
        /* One guarded allocation holds the master key just long enough to derive
         * the subkeys from it; each sodium_malloc() costs a login several syscalls. */
        struct ehr_keys *k = sodium_malloc(sizeof *k);
        if (!k)
                return -ENOMEM;
        sodium_memzero(k, sizeof *k);
        uint8_t *master = k->master;
        size_t got = 0;
        int r = 0;
        /* Read one byte more than the key: a longer file is not our key. */
        while (got < EHR_MASTER_KEY_BYTES + 1) {
                ssize_t n = read(fd, master + got, EHR_MASTER_KEY_BYTES + 1 - got);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        break;
                }
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        if (r == 0 && got != EHR_MASTER_KEY_BYTES)
                r = -EBADMSG;
        if (r < 0) {
                sodium_free(k);
                return r;
        }
        for (unsigned i = 1; i < _EHR_KEY_MAX; i++)
                crypto_kdf_derive_from_key(k->sub[i], EHR_SUBKEY_BYTES, i, KDF_CONTEXT, master);
        sodium_memzero(k->master, sizeof k->master);
        /* Nothing writes the keys after this: a stray write faults instead of corrupting them. */
        sodium_mprotect_readonly(k);
        *ret = k;
        return 0;
}

struct ehr_keys *ehr_keys_free(struct ehr_keys *k) {
        if (k)
                sodium_free(k);
        return NULL;
}

const uint8_t *ehr_keys_get(const struct ehr_keys *k, enum ehr_key_purpose purpose) {
        return k->sub[purpose];
}

int ehr_seal(const struct ehr_keys *k, const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t n, uint8_t *out,
             size_t outlen) {
        if (outlen < n + EHR_SEAL_OVERHEAD)
                return -ERANGE;
        randombytes_buf(out, EHR_SEAL_NONCE_BYTES);
        unsigned long long clen;
        if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + EHR_SEAL_NONCE_BYTES, &clen, pt, n, ad, adlen, NULL, out,
                                                       k->sub[EHR_KEY_SEAL]) != 0)
                return -EIO;
        return 0;
}

int ehr_unseal(const struct ehr_keys *k, const uint8_t *ad, size_t adlen, const uint8_t *sealed, size_t sealed_len,
               uint8_t *out, size_t outlen) {
        if (sealed_len < EHR_SEAL_OVERHEAD || outlen < sealed_len - EHR_SEAL_OVERHEAD)
                return -EBADMSG;
        unsigned long long plen;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plen, NULL, sealed + EHR_SEAL_NONCE_BYTES,
                                                       sealed_len - EHR_SEAL_NONCE_BYTES, ad, adlen, sealed,
                                                       k->sub[EHR_KEY_SEAL]) != 0)
                return -EBADMSG;
        return (int) plen;
}

void ehr_hash_field(crypto_generichash_state *st, const void *p, size_t n) {
        uint8_t len[8];
        for (unsigned i = 0; i < 8; i++)
                len[i] = (uint8_t) ((uint64_t) n >> (8 * i));
        crypto_generichash_update(st, len, sizeof len);
        crypto_generichash_update(st, p, n);
}

void ehr_keyed_hash(const struct ehr_keys *k, enum ehr_key_purpose purpose, const char *domain, int64_t user_id,
                    const uint8_t *data, size_t n, uint8_t out[EHR_HASH_BYTES]) {
        crypto_generichash_state st;
        uint8_t uid[8];
        for (unsigned i = 0; i < 8; i++)
                uid[i] = (uint8_t) ((uint64_t) user_id >> (8 * i));
        crypto_generichash_init(&st, k->sub[purpose], EHR_SUBKEY_BYTES, EHR_HASH_BYTES);
        ehr_hash_field(&st, domain, strlen(domain));
        ehr_hash_field(&st, uid, sizeof uid);
        ehr_hash_field(&st, data, n);
        crypto_generichash_final(&st, out, EHR_HASH_BYTES);
        sodium_memzero(&st, sizeof st);
}

#define SECRET_CACHE_BYTES 256U
static bool secret_cache_on;
static struct ehr_secret *secret_spare;

struct ehr_secret *ehr_secret_new(size_t n) {
        size_t cap = n;
        if (secret_cache_on && n <= SECRET_CACHE_BYTES) {
                if (secret_spare) {
                        struct ehr_secret *s = secret_spare;
                        secret_spare = NULL;
                        s->len = n;
                        return s;
                }
                cap = SECRET_CACHE_BYTES;
        }
        /* sodium_malloc() places the block at the end of a page: only a size that is a
         * multiple of the alignment gives an aligned pointer. */
        size_t align = _Alignof(struct ehr_secret), size = (sizeof(struct ehr_secret) + cap + align - 1) & ~(align - 1);
        struct ehr_secret *s = sodium_malloc(size);
        if (!s)
                return NULL;
        s->len = n;
        s->cap = cap;
        return s;
}

struct ehr_secret *ehr_secret_free(struct ehr_secret *s) {
        if (!s)
                return NULL;
        if (secret_cache_on && !secret_spare && s->cap == SECRET_CACHE_BYTES) {
                sodium_memzero(s->data, s->cap);
                s->len = 0;
                secret_spare = s;
                return NULL;
        }
        sodium_free(s);
        return NULL;
}

void ehr_secret_cache(bool on) {
        secret_cache_on = on;
        if (!on && secret_spare) {
                sodium_free(secret_spare);
                secret_spare = NULL;
        }
}
