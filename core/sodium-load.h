/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* libsodium, loaded with dlopen() when first needed. core/ includes this instead
 * of <sodium.h>: each libsodium call below, by the same name, goes to a function
 * of sodium-load.c that loads libsodium.so.23 (and runs sodium_init()) on first
 * use, then calls it.
 *
 * Why: libpam loads pam_ehr2fa.so afresh in every login process, with every
 * library it needs. A login that ehr2fad answers does no cryptography in the
 * module, and loading libsodium cost it 0.08 ms, more than the rest of the
 * module. A login checked in-process loads it at ehr_store_open(), which says
 * plainly when it cannot.
 *
 * If libsodium cannot be loaded, a call fails as libsodium's own would (-1,
 * NULL; sodium_memcmp: "different"), except randombytes_buf() and
 * randombytes_uniform(), which cannot fail and abort() rather than return bytes
 * that are not random. Nothing reaches them without a store or a front end that
 * links libsodium, so this does not happen in practice. sodium_memzero() is
 * explicit_bzero() and loads nothing. */

#include <sodium.h>

#define EHR_SODIUM_SONAME "libsodium.so.23"

/* Load libsodium once (thread-safe) and initialise it. Returns 0, or -ELIBACC
 * (not installed), -ELIBBAD (a function is missing: older than this build
 * needs) or -EIO (sodium_init() failed); *ret_why then says which. */
int ehr_sodium_load(const char **ret_why);

#define EHR_SODIUM_FUNCS(X)                                 \
        X(crypto_aead_xchacha20poly1305_ietf_decrypt)       \
        X(crypto_aead_xchacha20poly1305_ietf_encrypt)       \
        X(crypto_auth_hmacsha256_final)                     \
        X(crypto_auth_hmacsha256_init)                      \
        X(crypto_auth_hmacsha256_update)                    \
        X(crypto_auth_hmacsha512_final)                     \
        X(crypto_auth_hmacsha512_init)                      \
        X(crypto_auth_hmacsha512_update)                    \
        X(crypto_generichash_final)                         \
        X(crypto_generichash_init)                          \
        X(crypto_generichash_update)                        \
        X(crypto_kdf_derive_from_key)                       \
        X(randombytes_buf)                                  \
        X(randombytes_uniform)                              \
        X(sodium_free)                                      \
        X(sodium_init)                                      \
        X(sodium_malloc)                                    \
        X(sodium_memcmp)                                    \
        X(sodium_mprotect_readonly)

/* ehr_lazy_<name>: the same type as libsodium's <name>. */
#define EHR_SODIUM_DECLARE(f) extern __typeof__(f) ehr_lazy_##f;
EHR_SODIUM_FUNCS(EHR_SODIUM_DECLARE)
#undef EHR_SODIUM_DECLARE

void ehr_lazy_sodium_memzero(void *const p, const size_t len);

#ifndef EHR_SODIUM_LOAD_IMPL
#define crypto_aead_xchacha20poly1305_ietf_decrypt ehr_lazy_crypto_aead_xchacha20poly1305_ietf_decrypt
#define crypto_aead_xchacha20poly1305_ietf_encrypt ehr_lazy_crypto_aead_xchacha20poly1305_ietf_encrypt
#define crypto_auth_hmacsha256_final ehr_lazy_crypto_auth_hmacsha256_final
#define crypto_auth_hmacsha256_init ehr_lazy_crypto_auth_hmacsha256_init
#define crypto_auth_hmacsha256_update ehr_lazy_crypto_auth_hmacsha256_update
#define crypto_auth_hmacsha512_final ehr_lazy_crypto_auth_hmacsha512_final
#define crypto_auth_hmacsha512_init ehr_lazy_crypto_auth_hmacsha512_init
#define crypto_auth_hmacsha512_update ehr_lazy_crypto_auth_hmacsha512_update
#define crypto_generichash_final ehr_lazy_crypto_generichash_final
#define crypto_generichash_init ehr_lazy_crypto_generichash_init
#define crypto_generichash_update ehr_lazy_crypto_generichash_update
#define crypto_kdf_derive_from_key ehr_lazy_crypto_kdf_derive_from_key
#define randombytes_buf ehr_lazy_randombytes_buf
#define randombytes_uniform ehr_lazy_randombytes_uniform
#define sodium_free ehr_lazy_sodium_free
#define sodium_init ehr_lazy_sodium_init
#define sodium_malloc ehr_lazy_sodium_malloc
#define sodium_memcmp ehr_lazy_sodium_memcmp
#define sodium_memzero ehr_lazy_sodium_memzero
#define sodium_mprotect_readonly ehr_lazy_sodium_mprotect_readonly
#endif
