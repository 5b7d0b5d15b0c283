/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The error convention of core/: every function returns 0 (or a count) on
 * success and a negative errno on failure.
 *
 * One errno, one meaning. ehr_strerror() turns a code into words without
 * knowing where it came from, and callers decide by the code alone (is this the
 * user's failure, to count, or the store's, for fail_mode?). A code that two
 * units use for two things puts one unit's words, or one unit's verdict, on the
 * other's failure: an SMS gateway's HTTP 500 was logged as "store schema
 * version not supported"; a store file refused in the middle of a check (then
 * -EACCES) was logged as a wrong code, and SQLite's CANTOPEN (then -ENOENT) was
 * counted as "not enrolled". Before giving an errno a meaning here, grep the tree
 * for it. The meanings, across core/ and the ehr2fad wire protocol (its replies
 * carry these numbers in "r"):
 *
 *   The user's answer (counted and audited by policy.c; PAM_AUTH_ERR):
 *   -EBADRQC       wrong code, PIN or password (errno's "invalid request code")
 *   -EALREADY      code replayed (its time step was already used)
 *   -EAGAIN        locked out (too many failures), and only that
 *   -EBADMSG       a sealed row fails to open (tampered with, or copied from
 *                  another user), and only that
 *
 *   Lookups and requests:
 *   -ENOENT        no such user / not enrolled / no such row
 *   -EEXIST        already exists (SQLite's UNIQUE or PRIMARY KEY constraint)
 *   -EINVAL        bad input or configuration
 *   -ERANGE        buffer too small, or a number out of range
 *   -ETOOMANYREFS  rate limited: an SMS text sent too recently (retry_after_sec),
 *                  or too many password reset requests (reset.c)
 *   -ETIME         a password reset code that has expired
 *   -EUSERS        break-glass limit reached: this user's or this host's uses in
 *                  their interval (break_glass_user_max, break_glass_host_max)
 *   -EBADR         a break-glass use reviewed by the user who made it
 *   -EDQUOT        no grace login left: past enroll_by, every grace login used
 *
 *   The store (never the user's failure: nothing counted, fail_mode decides):
 *   -EACCES        permission denied, by the kernel (not root?) or SQLite
 *                  (SQLITE_PERM, SQLITE_AUTH); never "wrong code"
 *   -EPERM         a file owned by another user
 *   -ENOTUNIQ      a file accessible by group or others: its mode is too open
 *                  (ehr_stat_check(); the snapshot reader keeps -EACCES, the
 *                  errno NSS callers expect)
 *   -ENOMEDIUM     SQLITE_CANTOPEN: a store file cannot be opened; a PostgreSQL
 *                  server that cannot be reached, or stopped answering,
 *                  within store_timeout_ms
 *   -EDOM          a row breaks a schema rule other than uniqueness (CHECK,
 *                  NOT NULL, FOREIGN KEY)
 *   -EBUSY         store locked past the busy timeout
 *   -EROFS         the store cannot record a use (read-only, full disk)
 *   -EPROTO        schema newer (or older) than this binary understands
 *   -EUCLEAN       not an ehr2fa store, or corrupt
 *   -EILSEQ        the audit chain is broken: its head and its rows disagree
 *   -EOVERFLOW     an impossible value in the store (ehr_store_bad_value() names it)
 *   -ENOPKG        the store's locator names a backend this build does not have
 *   -ENOTEMPTY     a store copy's target already holds users or audit rows
 *
 *   Peers:
 *   -ETIMEDOUT     a peer did not answer in time (the SMS gateway, or ehr2fad
 *                  after taking a request); the log line names which
 *
 *   The text gateway (sms.c) and the mail server (mail.c), codes nothing else
 *   in core returns:
 *   -EREMOTEIO     the SMS gateway answered, with a status other than 2xx; the
 *                  mail server answered 4xx or 5xx (sender, recipient, message
 *                  or credentials refused)
 *   -EBADE         the SMS gateway's (or its proxy's) answer is not HTTP; the
 *                  mail server's is not SMTP
 *   -EKEYREJECTED  TLS with the SMS gateway or mail server failed (handshake,
 *                  certificate, or a mail server that offers no STARTTLS)
 *
 *   ehr2fad and its clients (wire.c, login-remote.c):
 *   -ECONNREFUSED  no ehr2fad there (no socket, or nobody listening)
 *   -ENOBUFS       ehr2fad's queue is full: the request was not delivered
 *   -ECONNABORTED  ehr2fad closed the connection without answering
 *   -ENOMSG        a malformed datagram (request or reply)
 *   -EMSGSIZE      a message too large for one datagram
 *
 *   The PAM module:
 *   -ENOLINK       the conversation with the user failed or was cancelled
 *                  (PAM_R_CONV, PAM_CONV_ERR)
 *
 * Foreign codes are converted once where they come in (errno_from_sqlite()
 * in store/sqlite/internal.h, ehr_curl_errno() in curl-lib.c), and mapped back once
 * on the way out (pam_status_from_errno() in pam-glue.c, admin_exit_from_errno()
 * and helper_exit_from_errno() in admin/common.c). PAM_* never appears in core/.
 * A kernel errno passed through unchanged keeps the kernel's meaning, so a code
 * above is only given a meaning the kernel's own use of it cannot contradict. */

#include <errno.h>
