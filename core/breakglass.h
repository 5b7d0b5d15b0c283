/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Break the glass (HIPAA 164.312(a)(2)(ii), emergency access): on a host with
 * break_glass = yes, a user who passed the password but cannot give a second
 * factor types EHR_BREAK_GLASS_KEYWORD at the code prompt, gives a reason, and
 * is let in once. Each use is a row in the store, within a per-user and a
 * per-host limit, and an audit row of type "breakglass" marked unreviewed; the
 * reviewers are told at once (mail, and the front end's syslog at LOG_ALERT), and
 * a holder of the Break the Glass Review permission reviews it later.
 * Nothing here logs or prompts. */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

/* Is break-glass offered at this service: break_glass = yes, and the service is
 * not a step-up (sudo, su: emergency access is to a workstation, not to root)? */
bool ehr_break_glass_allowed(const struct ehr_config *c, const char *service);

/* Is the answer the keyword (any case)? */
bool ehr_break_glass_is_keyword(const char *answer);

/* Check a reason as typed: at least break_glass_reason_min characters (UTF-8
 * code points) once leading and trailing blanks are gone, at most
 * EHR_BREAK_GLASS_REASON_MAX bytes, valid UTF-8 without control characters.
 * Returns 0, -EINVAL (not text) or -ERANGE (too short or too long). */
int ehr_break_glass_reason_check(const struct ehr_config *c, const char *reason);

/* Let user in by break-glass, in one transaction: the lock state (a locked
 * user is refused), the use within its limits (one conditional write), and the
 * audit row "break-glass access" (unreviewed), committed and synced. A refusal
 * is audited too. host: this machine's name; service: the PAM service.
 * Returns 0 with the use's id, -EAGAIN (locked out; until in *reterr_until),
 * -EUSERS (a limit reached, which in *reterr_limit), -ERANGE/-EINVAL (reason;
 * only the refusal recorded), or a store error (nothing recorded). */
_warn_unused_result_ int ehr_break_glass_use(struct ehr_store *s, const struct ehr_config *c,
                                             const struct ehr_user *u, const char *host, const char *service,
                                             const char *reason, uint64_t now_sec, const char *source,
                                             int64_t *ret_id, uint64_t *reterr_until,
                                             enum ehr_break_glass_limit *reterr_limit);

/* Review use id as reviewer (who must hold Break the Glass Review: the caller
 * checks), with a note; the review is audited in the same transaction. Returns
 * 0, -ENOENT, -EEXIST (already reviewed), -EBADR (reviewer's own use), -EINVAL
 * (bad note), or a store error. */
int ehr_break_glass_review(struct ehr_store *s, int64_t id, const char *reviewer, const char *note,
                           uint64_t now_sec, const char *source);

/* Is a use overdue: unreviewed and older than break_glass_review_after? */
bool ehr_break_glass_overdue(const struct ehr_config *c, const struct ehr_break_glass *u, uint64_t now_sec);

/* The mail to the reviewers about one use: a subject line and a plain-text body
 * (malloc'd, "\n" line ends, as ehr_mail_send_config() takes). Returns 0 or -ENOMEM. */
int ehr_break_glass_message(const struct ehr_break_glass *u, char **ret_subject, char **ret_body);

/* The daily summary: the unreviewed uses at now_sec, the overdue ones marked.
 * Returns the number of unreviewed uses (*ret_overdue of them overdue) with the
 * subject and body (malloc'd) when there is at least one, 0 when there is none
 * (nothing is returned), or a negative errno. */
int ehr_break_glass_summary(struct ehr_store *s, const struct ehr_config *c, uint64_t now_sec,
                            char **ret_subject, char **ret_body, size_t *ret_overdue);

/* breakglass-notify.c: mail subject and body to the break_glass_reviewers (as
 * ehr2fa.conf's mail_* settings say, bounded by mail_timeout_ms) and audit the
 * outcome, sent or not, as actor for user ("what" names the mail in the row).
 * Returns 0 (sent and audited), -EOPNOTSUPP (no reviewers, or no mail_url), the
 * mail client's errno (ehr_mail_send_config(); ret_smtp_status, which may be
 * NULL, gets the server's last reply code), or the audit row's error. */
int ehr_break_glass_mail(struct ehr_store *s, const struct ehr_config *c, const char *user, const char *what,
                         const char *subject, const char *body, uint64_t now_sec, const char *actor,
                         const char *source, long *ret_smtp_status);
/* Tell the reviewers of use id at once (ehr_break_glass_mail()). */
int ehr_break_glass_notify(struct ehr_store *s, const struct ehr_config *c, int64_t id, uint64_t now_sec,
                           const char *source, long *ret_smtp_status);
/* The outcome of telling the reviewers of use id (of login, when not NULL), as
 * one log line into buf: "break-glass use ID of LOGIN: reviewers notified" when
 * r is 0, else "... reviewers NOT notified: " and why (when not NULL), or r's
 * text with the server's reply code when there is one. Whoever logs it (the
 * module, ehr2fa-notify) says the same thing in the same words. */
void ehr_break_glass_notice_line(char *buf, size_t len, int64_t id, const char *login, int r, long smtp_status,
                                 const char *why);
/* The same from a login that must not wait for a mail server: hand use id to
 * ehr2fa-notify (notifier in ehr2fa.conf), which forks a process of its own that
 * opens the store, mails and audits as ehr_break_glass_notify() does, and
 * answers once it has: within EHR_CHILD_START_MS, whatever the mail server does.
 * c (the keys that differ from the defaults) and source reach it over a socket.
 * Returns 0 (handed over) or ehr_child_call()'s errno (-ECHILD: no notifier),
 * and then nothing was sent: the caller tells them itself. */
int ehr_break_glass_notify_detached(const struct ehr_config *c, int64_t id, const char *source);
/* ehr2fa-notify's side: one request on in_fd, its answer on out_fd. The process
 * that does the work calls report->done() with the use, the outcome of
 * ehr_break_glass_notify() (0 or -errno), the mail server's last reply code and,
 * when the store could not be opened, why (else NULL); then it exits. */
struct ehr_notice_report {
        void (*done)(int64_t id, int r, long smtp_status, const char *store_err);
};
int ehr_break_glass_notify_serve(int in_fd, int out_fd, const struct ehr_notice_report *report);
