/* SPDX-License-Identifier: GPL-2.0-or-later */
#define EHR_SODIUM_LOAD_IMPL 1
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dl.h"
#include "sodium-load.h"

static struct {
#define EHR_SODIUM_FIELD(f) __typeof__(&f) f;
        EHR_SODIUM_FUNCS(EHR_SODIUM_FIELD)
#undef EHR_SODIUM_FIELD
} real;

static const struct ehr_dl_sym syms[] = {
#define EHR_SODIUM_SYM(f) { #f, offsetof(__typeof__(real), f) },
        EHR_SODIUM_FUNCS(EHR_SODIUM_SYM)
#undef EHR_SODIUM_SYM
};

static int init(const struct ehr_dl_lib *l) {
        (void) l;
        return real.sodium_init();
}

static struct ehr_dl_lib lib = EHR_DL_LIB(EHR_SODIUM_SONAME, "libsodium23", syms, &real, init);

int ehr_sodium_load(const char **ret_why) {
        return ehr_dl_load_once(&lib, ret_why);
}

static bool ready(void) {
        const char *why;
        return ehr_sodium_load(&why) >= 0;
}

int ehr_lazy_crypto_aead_xchacha20poly1305_ietf_decrypt(unsigned char *m, unsigned long long *mlen_p,
                                                        unsigned char *nsec, const unsigned char *c,
                                                        unsigned long long clen, const unsigned char *ad,
                                                        unsigned long long adlen, const unsigned char *npub,
                                                        const unsigned char *k) {
        return ready() ? real.crypto_aead_xchacha20poly1305_ietf_decrypt(m, mlen_p, nsec, c, clen, ad, adlen, npub, k)
                       : -1;
}

int ehr_lazy_crypto_aead_xchacha20poly1305_ietf_encrypt(unsigned char *c, unsigned long long *clen_p,
                                                        const unsigned char *m, unsigned long long mlen,
                                                        const unsigned char *ad, unsigned long long adlen,
                                                        const unsigned char *nsec, const unsigned char *npub,
                                                        const unsigned char *k) {
        return ready() ? real.crypto_aead_xchacha20poly1305_ietf_encrypt(c, clen_p, m, mlen, ad, adlen, nsec, npub, k)
                       : -1;
}

int ehr_lazy_crypto_auth_hmacsha256_final(crypto_auth_hmacsha256_state *state, unsigned char *out) {
        return ready() ? real.crypto_auth_hmacsha256_final(state, out) : -1;
}

int ehr_lazy_crypto_auth_hmacsha256_init(crypto_auth_hmacsha256_state *state, const unsigned char *key,
                                         size_t keylen) {
        return ready() ? real.crypto_auth_hmacsha256_init(state, key, keylen) : -1;
}

int ehr_lazy_crypto_auth_hmacsha256_update(crypto_auth_hmacsha256_state *state, const unsigned char *in,
                                           unsigned long long inlen) {
        return ready() ? real.crypto_auth_hmacsha256_update(state, in, inlen) : -1;
}

int ehr_lazy_crypto_auth_hmacsha512_final(crypto_auth_hmacsha512_state *state, unsigned char *out) {
        return ready() ? real.crypto_auth_hmacsha512_final(state, out) : -1;
}

int ehr_lazy_crypto_auth_hmacsha512_init(crypto_auth_hmacsha512_state *state, const unsigned char *key,
                                         size_t keylen) {
        return ready() ? real.crypto_auth_hmacsha512_init(state, key, keylen) : -1;
}

int ehr_lazy_crypto_auth_hmacsha512_update(crypto_auth_hmacsha512_state *state, const unsigned char *in,
                                           unsigned long long inlen) {
        return ready() ? real.crypto_auth_hmacsha512_update(state, in, inlen) : -1;
}

int ehr_lazy_crypto_generichash_final(crypto_generichash_state *state, unsigned char *out, const size_t outlen) {
        return ready() ? real.crypto_generichash_final(state, out, outlen) : -1;
}

int ehr_lazy_crypto_generichash_init(crypto_generichash_state *state, const unsigned char *key, const size_t keylen,
                                     const size_t outlen) {
        return ready() ? real.crypto_generichash_init(state, key, keylen, outlen) : -1;
}

int ehr_lazy_crypto_generichash_update(crypto_generichash_state *state, const unsigned char *in,
                                       unsigned long long inlen) {
        return ready() ? real.crypto_generichash_update(state, in, inlen) : -1;
}

int ehr_lazy_crypto_kdf_derive_from_key(unsigned char *subkey, size_t subkey_len, uint64_t subkey_id,
                                        const char ctx[crypto_kdf_CONTEXTBYTES],
                                        const unsigned char key[crypto_kdf_KEYBYTES]) {
        return ready() ? real.crypto_kdf_derive_from_key(subkey, subkey_len, subkey_id, ctx, key) : -1;
}

/* These cannot report failure: never hand out bytes that are not random. */
void ehr_lazy_randombytes_buf(void *const buf, const size_t size) {
        if (!ready())
                abort();
        real.randombytes_buf(buf, size);
}

uint32_t ehr_lazy_randombytes_uniform(const uint32_t upper_bound) {
        if (!ready())
                abort();
        return real.randombytes_uniform(upper_bound);
}

void ehr_lazy_sodium_free(void *ptr) {
        /* Without libsodium nothing was allocated by it: ptr is NULL. */
        if (ptr && ready())
                real.sodium_free(ptr);
}

int ehr_lazy_sodium_init(void) {
        /* The load ran sodium_init(); once more only for its result (1: already done). */
        return ready() ? real.sodium_init() : -1;
}

void *ehr_lazy_sodium_malloc(const size_t size) {
        return ready() ? real.sodium_malloc(size) : NULL;
}

int ehr_lazy_sodium_memcmp(const void *const b1, const void *const b2, size_t len) {
        return ready() ? real.sodium_memcmp(b1, b2, len) : -1;
}

int ehr_lazy_sodium_mprotect_readonly(void *ptr) {
        return ready() ? real.sodium_mprotect_readonly(ptr) : -1;
}

/* The same as libsodium's, which needs no library for it. */
void ehr_lazy_sodium_memzero(void *const p, const size_t len) {
        explicit_bzero(p, len);
}
