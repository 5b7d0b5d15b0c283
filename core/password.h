/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Passwords of managed accounts: the policy every new password must meet, and
 * hashing by libxcrypt (yescrypt, "$y$", by default), never a hash of our own.
 * Written once for every way a password is set (passwd through pam_ehr2fa's
 * password phase, the reset by email in ehr2fa-admin): each calls
 * ehr_account_password_set(), which applies the policy before anything is
 * stored. Nothing here logs, and no password is ever kept past the call. */

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "store.h"

/* The longest password accepted, in bytes: a bound on what one hashing costs. */
#define EHR_PASSWORD_MAX 512U
/* Room for any message of ehr_password_policy_check(). */
#define EHR_PASSWORD_MSG_MAX 512U
/* The list shipped in conf/breached-passwords.txt, installed here. */
#define EHR_PASSWORD_BREACHED_DEFAULT EHR2FA_DATADIR "/breached-passwords.txt"
/* libxcrypt's prefix for yescrypt, its default and Debian's since 11. */
#define EHR_PASSWORD_HASH_PREFIX "$y$"

/* Where the list of breached passwords is: password_breached_list, or the default. */
const char *ehr_password_breached_path(const struct ehr_config *c);

/* Does password meet the policy for login? The rules, in the order checked:
 * valid UTF-8 without control characters; at least password_min_length
 * characters (a multi-byte character counts once) and at most EHR_PASSWORD_MAX
 * bytes; not the login and not containing it (ignoring case); not in the list
 * of known breached passwords (one a line, '#' lines skipped, compared ignoring
 * ASCII case). Returns 0, -EINVAL (a rule is broken: reterr_msg says which, in
 * words for the user), or -errno when the list cannot be read (reterr_msg names
 * the file: the password is refused, never let through unchecked). */
int ehr_password_policy_check(const struct ehr_config *c, const char *login, const char *password, char *reterr_msg,
                              size_t msglen) __attribute__((warn_unused_result));

/* Hash password with a fresh salt from the kernel (crypt_gensalt_ra(), then
 * crypt_rn()). Returns 0, -EINVAL (longer than EHR_PASSWORD_MAX), -ENOSYS (the
 * method is not available in this libcrypt), -ELIBACC/-ELIBBAD (libcrypt.so.1,
 * dlopen()ed at the first call, is missing or too old) or -errno. ret_hash is
 * written only on success. */
int ehr_password_hash(const char *password, char ret_hash[EHR_PASSWORD_HASH_MAX + 1])
        __attribute__((warn_unused_result));

/* Does password match hash (any method libcrypt knows)? Compared in constant
 * time. Returns 0, -EBADRQC (it does not), -EINVAL (hash is not a usable
 * crypt string: "!", "*", a locked one) or -ELIBACC/-ELIBBAD (as above). */
int ehr_password_verify(const char *hash, const char *password) __attribute__((warn_unused_result));
