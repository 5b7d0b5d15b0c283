/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The master key, the subkeys derived from it, sealing (AEAD) and keyed hashes.
 * All with libsodium; every key lives in sodium_malloc() memory. */

#include <stddef.h>
#include <stdint.h>
#include "sodium-load.h"

#include "util.h"

#define EHR_MASTER_KEY_BYTES 32U
#define EHR_SUBKEY_BYTES 32U
#define EHR_HASH_BYTES 32U
#define EHR_SEAL_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define EHR_SEAL_OVERHEAD (EHR_SEAL_NONCE_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)

/* Subkeys, one per purpose, so a key used to hash recovery codes can never
 * open a seed. Indices are stable: they are the crypto_kdf subkey ids. */
enum ehr_key_purpose {
        EHR_KEY_SEAL = 1,     /* TOTP seeds, Support PINs */
        EHR_KEY_RECOVERY = 2, /* recovery code hashes */
        EHR_KEY_AUDIT = 3,    /* the audit chain */
        EHR_KEY_TOKEN = 4,    /* SMS tokens, trusted devices, Unlock PINs */
        _EHR_KEY_MAX,
};

struct ehr_keys; /* opaque; read-only guarded memory once loaded */

/* Create a new random master key file at path (O_CREAT|O_EXCL, mode 0600).
 * Returns 0, -EEXIST, or -errno. */
int ehr_master_key_create(const char *path);

/* Read the 32-byte master key from fd (already checked by ehr_open_checked())
 * and derive the subkeys. Returns 0, -EBADMSG (wrong size) or -ENOMEM. */
int ehr_keys_load(int fd, struct ehr_keys **ret);

struct ehr_keys *ehr_keys_free(struct ehr_keys *k);

/* Seal plaintext with the seal key; the associated data binds it to its row
 * (user id and purpose). out must have n + EHR_SEAL_OVERHEAD bytes; layout is
 * nonce || ciphertext || tag. */
int ehr_seal(const struct ehr_keys *k, const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t n, uint8_t *out,
             size_t outlen);

/* Open what ehr_seal() made. out must have sealed_len - EHR_SEAL_OVERHEAD bytes.
 * Returns the plaintext length, or -EBADMSG if it does not open (tampered, or
 * the associated data differs: a row copied from another user). */
_warn_unused_result_ int ehr_unseal(const struct ehr_keys *k, const uint8_t *ad, size_t adlen, const uint8_t *sealed,
                                    size_t sealed_len, uint8_t *out, size_t outlen);

/* Feed one field to a BLAKE2b state as its 8-byte little-endian length, then its
 * bytes, so that no two sequences of fields hash alike (the keyed hash below and
 * the audit chain's MAC). */
void ehr_hash_field(crypto_generichash_state *st, const void *p, size_t n);

/* Keyed BLAKE2b-256 of (domain, user id, data) with the given subkey. Fields
 * are length-prefixed so no two inputs collide by concatenation. */
void ehr_keyed_hash(const struct ehr_keys *k, enum ehr_key_purpose purpose, const char *domain, int64_t user_id,
                    const uint8_t *data, size_t n, uint8_t out[EHR_HASH_BYTES]);

/* Raw access to a subkey (for the audit chain's incremental MAC). */
const uint8_t *ehr_keys_get(const struct ehr_keys *k, enum ehr_key_purpose purpose);

/* Guarded memory for a secret of n bytes (sodium_malloc); free with ehr_secret_free(). */
struct ehr_secret {
        size_t len;
        size_t cap; /* bytes usable in data */
        uint8_t data[];
};
struct ehr_secret *ehr_secret_new(size_t n);
struct ehr_secret *ehr_secret_free(struct ehr_secret *s);
/* For a long-lived, single-threaded process (ehr2fad): keep one freed block,
 * wiped, for the next small secret instead of a fresh sodium_malloc() (six
 * syscalls, and four more to free it) per code checked. Off by default; off
 * again frees the spare block. */
void ehr_secret_cache(bool on);
static inline void ehr_secret_freep(struct ehr_secret **s) {
        *s = ehr_secret_free(*s);
}

/* Uniform random integer in [0, upper). */
static inline uint32_t ehr_random_uniform(uint32_t upper) {
        return randombytes_uniform(upper);
}
