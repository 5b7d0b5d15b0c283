/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by core/account*.c only. */

#include "account.h"

/* Append an admin audit row as op->actor. */
int account_audit(struct ehr_op *op, const char *user, const char *action, const char *details);

/* End the operation's transaction: commit when r >= 0, else roll back; then
 * publish when asked. Returns 0 or -errno (op->committed tells which step failed). */
int account_end(struct ehr_op *op, int r, bool publish);

/* Record the input at fault and return r. */
int account_fail(struct ehr_op *op, enum ehr_field field, int r);

/* want >= 0: that id if it is in [uid_min, uid_max] (-ERANGE if not) and free
 * (-EEXIST if not); else the first free one in [uid_min, uid_max] above the
 * store's high-water mark (-ENOSPC). Free: no user or group of the store or the system has it. */
int account_pick_id(struct ehr_op *op, int64_t want, int64_t *ret);

/* Raise the store's high-water mark to id, in the transaction that uses it. */
int account_take_id(struct ehr_op *op, int64_t id);
