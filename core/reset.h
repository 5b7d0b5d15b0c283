/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The forgotten-password reset, self-service only (seed 003: "only a user can
 * reset their password"): a single-use token, random (160 bits from libsodium),
 * expiring after reset_token_ttl, stored only as a keyed hash, mailed to the
 * address on file. Nothing here sets another person's password: a manager may
 * only have the mail sent (ehr_reset_issue()). Each call audits and returns a
 * negative errno; nothing prints or logs. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "account.h"
#include "field.h"

#define EHR_RESET_TOKEN_BYTES 20U
/* Shown as eight groups of four base32 letters: "abcd-efgh-...". */
#define EHR_RESET_TOKEN_CHARS 32U
#define EHR_RESET_TOKEN_SIZE (EHR_RESET_TOKEN_CHARS + EHR_RESET_TOKEN_CHARS / 4U)
/* Accounts that one address may belong to, each mailed its own token. */
#define EHR_RESET_MAILS_MAX 8U

/* A token to mail: who, where, and the token itself (wipe with ehr_reset_mail_wipe()). */
struct ehr_reset_mail {
        char login[EHR_LOGIN_MAX + 1];
        char email[EHR_FIELD_EMAIL_MAX + 1];
        char token[EHR_RESET_TOKEN_SIZE];
        uint64_t expires_sec;
};
void ehr_reset_mail_wipe(struct ehr_reset_mail *m, size_t n);

/* "password forgot": someone (uid on host) asks for a reset of the accounts with
 * this email address. First the rate limits, counted whatever the address (so
 * they say nothing about it): reset_max_per_hour per address,
 * reset_source_max_per_hour per uid on this host and per host. Then one token
 * for each managed account whose address it is (compared ignoring case; a
 * 2FA-only record's password is the host's, not ours), the user's earlier
 * tokens voided. Audited either way, an unknown address included.
 * Returns 0 with *ret_n tokens in ret (0: no such account; the caller answers
 * the same), -ETOOMANYREFS (rate limited, audited), -EOPNOTSUPP (this host
 * sends no mail: no mail_url), or -errno from the store. */
int ehr_reset_request(struct ehr_op *op, const char *email, uid_t uid, const char *host,
                      struct ehr_reset_mail ret[EHR_RESET_MAILS_MAX], size_t *ret_n);

/* "password send-reset LOGIN" (the caller checked Manage Accounts): one token for
 * u, earlier ones voided; audited. Returns 0, -EOPNOTSUPP (no mail_url, or u is
 * a 2FA-only record: op->field is then EHR_FIELD_LOGIN), -ENOENT (no address on
 * file, or one that cannot be mailed: op->field EHR_FIELD_EMAIL), or -errno. */
int ehr_reset_issue(struct ehr_op *op, const struct ehr_user *u, struct ehr_reset_mail *ret);

/* Mail m (by: the manager who had it sent, NULL when the user asked) and audit
 * what happened: "password reset mail sent", or "... failed" with the reason and
 * the SMTP status. Blocks at most mail_timeout_ms and a few seconds. Returns
 * what ehr_mail_send_config() returned (*ret_smtp_status too, may be NULL). */
int ehr_reset_mail_send(struct ehr_op *op, const struct ehr_reset_mail *m, const char *by, long *ret_smtp_status);

/* The token typed (case, spaces and dashes do not matter): whose it is, read
 * only, for the prompt's early answer. Returns 0 and the user (free it), -EINVAL
 * (not shaped like a token), -ENOENT (used, voided by a newer one or a reset, or
 * never issued), -ETIME (expired at *ret_expires_sec), or -errno. A refusal is
 * audited. */
int ehr_reset_token_check(struct ehr_op *op, const char *typed, struct ehr_user **ret_user, uint64_t *ret_expires_sec);

/* "password reset": the new password must pass the policy before anything else
 * (a refusal keeps the token). Then, in one transaction, the token is taken (one
 * conditional delete: used once, whoever races), and with it every other token
 * of the user and every trusted device; audited. Then the password is set
 * (ehr_account_password_set(), EHR_PASSWORD_BY_RESET: hashed, stored, audited,
 * the shadow snapshot published). ret_login (EHR_LOGIN_MAX + 1 bytes) gets the
 * account. Returns 0, -EINVAL (not a token; or the policy refused the password,
 * a rule or a breached-password list that cannot be read: reterr_msg says which), -ENOENT, -ETIME (as above, audited), -EOPNOTSUPP (not a managed
 * account), or -errno with reterr_msg (op->committed: the token was used). */
int ehr_reset_complete(struct ehr_op *op, const char *typed, const char *password, char *ret_login,
                       char *reterr_msg, size_t msglen);
