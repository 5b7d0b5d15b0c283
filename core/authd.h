/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What ehr2fad answers: the store operations of one login, done on a store the
 * daemon keeps open, so that a login costs no SQLite open, schema parse, WAL
 * setup or checkpoint. The policy is the caller's: the module sends its whole
 * effective config (cfg.KEY fields) with each request and the daemon applies
 * exactly that, with the same core functions the module runs in-process.
 *
 * Requests ("v" = 1, "op", "user", "now", "source", "cfg.*"):
 *   begin   user lookup, enrollment, lock state and, with trust=1 and dev.*,
 *           the trusted-device check. Reply: r (user lookup), login, enrolled,
 *           lock_r, until, trust_r.
 *   verify  answer: ehr_policy_verify(). Reply: r, factor, locked_until,
 *           failures, recovery_left.
 *   trust   dev.*: ehr_trust_add(). Reply: r.
 *   audit   action, details: one audit row (type auth). Reply: r.
 * r is 0 or a negative errno as in errors.h; -EXDEV means "not my store"
 * (cfg.store_dir differs from the daemon's), after which the caller works
 * in-process. */

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct ehr_authd;

/* A daemon state for the store in store_dir (opened on first use). */
int ehr_authd_new(const char *store_dir, uint64_t store_timeout_ms, struct ehr_authd **ret);
struct ehr_authd *ehr_authd_free(struct ehr_authd *d);
static inline void ehr_authd_freep(struct ehr_authd **d) {
        *d = ehr_authd_free(*d);
}

/* Answer one request into reply (a fresh message). Returns 0 when a reply was
 * built (its r says how the operation went), or a negative errno when the
 * request itself was unusable (the reply then holds just r). summary gets one
 * line for the daemon's log: op, user (when a valid login) and r, never a secret. */
int ehr_authd_handle(struct ehr_authd *d, const struct ehr_wire *req, struct ehr_wire *reply, char *summary,
                     size_t summary_len);

/* Open the store now (at startup: to fail early with a message). */
int ehr_authd_open(struct ehr_authd *d, char *err, size_t errlen);
