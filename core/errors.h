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
 *   -EILSEQ     the audit chain is broken: its head and its rows disagree
 *   -EOVERFLOW  an impossible value in the store (ehr_store_bad_value() names it)
 *   -ENOPKG     the store's locator names a backend this build does not have
 *
 * Foreign codes are converted once where they come in (errno_from_sqlite()
 * in store.c), and mapped back once on the way out (pam_status_from_errno()
 * in pam-glue.c, exit codes in admin/). PAM_* never appears in core/.
 *
 * One errno, one meaning: ehr_strerror() turns a code into words without
 * knowing where it came from, so a code that two units use for two things
 * puts one unit's words on the other's failure (an SMS gateway's HTTP 500 was
 * once logged as "store schema version not supported"). The text gateway
 * (sms.c) therefore has codes of its own that nothing else in core returns:
 *
 *   -EREMOTEIO     the SMS gateway answered, with a status other than 2xx
 *   -EBADE         the SMS gateway's (or its proxy's) answer is not HTTP
 *   -EKEYREJECTED  TLS with the SMS gateway failed (handshake or certificate)
 *
 * and -EPROTO is the store's schema version only. Before giving an errno a
 * meaning here, grep the tree for it.
 *
 * Some codes above are also what the kernel returns, so ehr_strerror() words
 * them to be true of both: -EACCES is "permission denied" (a directory this
 * uid may not create is not a "wrong code"; a wrong code is worded where it
 * is checked). wire.c returns -EAGAIN for a daemon whose queue is full and
 * -EBADMSG for a malformed datagram; their callers word those themselves. */

#include <errno.h>
