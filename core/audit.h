/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The audit log: append-only rows, each chained to the one before by a keyed
 * hash (BLAKE2b with the audit subkey) over the previous MAC and every column,
 * so an edit, a deletion, an insertion or a reorder breaks the chain. The last
 * seq and MAC are also kept as the chain's head, so rows cut from the end are
 * noticed too. The audit log is data, not logging: every security decision is
 * written here, and never a code, seed, PIN or whole phone number. */

#include <stdint.h>

#include "store.h"

/* Type values, in the spirit of the seed's audit log. */
#define EHR_AUDIT_AUTH "auth"
#define EHR_AUDIT_ADMIN "admin"
#define EHR_AUDIT_LOCKOUT "lockout"
#define EHR_AUDIT_BREAK_GLASS "breakglass" /* emergency access: uses, refusals, notices, reviews */

/* Append one row. Joins the caller's transaction if there is one, else runs its
 * own. Returns 0 or a negative errno (-EROFS: cannot be recorded; -EILSEQ: the
 * chain is broken, its head record damaged or a row already where the next one
 * goes, such as a row inserted by hand: ehr_audit_verify() names it). */
int ehr_audit_append(struct ehr_store *s, uint64_t now_sec, const char *user, const char *actor, const char *type,
                     const char *action, const char *details, const char *source);

/* Walk the whole chain. Returns 0 and the row count; -EBADMSG with the seq of the
 * first bad row (or of the first missing one) in *ret_bad_seq. */
int ehr_audit_verify(struct ehr_store *s, uint64_t *ret_rows, uint64_t *ret_bad_seq);

/* The MAC of one row given the previous row's MAC (exposed for verifying exports). */
void ehr_audit_mac(const struct ehr_keys *k, const uint8_t prev[EHR_HASH_BYTES], const struct ehr_audit_row *row,
                   uint8_t out[EHR_HASH_BYTES]);
