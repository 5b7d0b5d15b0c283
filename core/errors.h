/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The error convention of core/: every function returns 0 (or a count) on
 * success and a negative errno on failure. Meanings shared across units:
 *
 *   -EACCES     wrong code, PIN or password
 *   -EALREADY   code replayed (its time step was already used)
 *   -EAGAIN     locked out
 *   -ENOENT     no such user / not enrolled / no such row
 *   -EEXIST     already exists
 *   -EBUSY      store locked past the busy timeout
 *   -EBADMSG    a sealed row failed to open (tampered or copied from another user)
 *   -EPROTO     schema newer (or older) than this binary understands
 *   -EINVAL     bad input or configuration
 *   -ERANGE     buffer too small
 *   -ETIMEDOUT  SMS gateway timed out
 *   -EROFS      the store cannot record a use (read-only, full disk)
 *
 * Foreign codes are converted once where they come in (errno_from_sqlite()
 * in store.c), and mapped back once on the way out (pam_status_from_errno()
 * in pam-glue.c, exit codes in admin/). PAM_* never appears in core/. */

#include <errno.h>
