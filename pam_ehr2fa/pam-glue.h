/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <security/pam_modules.h>

#include "config.h"
#include "login.h"

/* Positive: "not ours to decide" (PAM_IGNORE). Only under nullok or fail_mode = safe. */
#define PAM_R_IGNORE 1
/* A step did not decide (enrollment not offered, or skipped): go on to the next. */
#define PAM_R_NEXT 3
/* The conversation failed or was cancelled: a failure, never a skip. */
#define PAM_R_CONV (-ENOLINK) /* the conversation failed; not ehr2fad's -ECONNABORTED */

#define MSG_UNAVAILABLE "Two-factor authentication is unavailable; contact the help desk."

struct pam_ctx {
        pam_handle_t *pamh;
        struct ehr_config cfg;
        struct ehr_login *login; /* this login's steps (core/login.c), made when first needed */
        const char *user;
        char source[256]; /* service, rhost, tty: for audit rows and syslog */
        const char *service, *rhost;
        uint64_t now_sec;
        bool unlock;        /* "unlock": check the Unlock PIN (screen lockers) */
        const char *helper; /* "helper=": the privileged path for unprivileged callers */
        const char *conf;   /* "conf=", if given */
};

/* Read conf= first, then the file, then let the other arguments override it
 * (pam_faillock's args_parse()). Returns 0 or a negative errno, already logged
 * and told to the user. */
int pam_ctx_init(struct pam_ctx *ctx, pam_handle_t *pamh, int argc, const char **argv);
void pam_ctx_done(struct pam_ctx *ctx);

int pam_do_authenticate(struct pam_ctx *ctx);
/* A user with no second factor on a host with a 2FA policy (pam-enforce.c): 0,
 * PAM_R_IGNORE, or a negative errno (-EPERM: refused), said to the user and the log. */
int pam_do_enforce(struct pam_ctx *ctx, const struct ehr_login_state *st);
/* Enrollment at first login (pam-enroll.c), for u whom the policy covers (why):
 * 0 (enrolled: the login succeeds), PAM_R_NEXT (not offered here, or skipped) or
 * a negative errno (-EBADRQC: no right code; -EAGAIN: locked), said to the user. */
int pam_do_enroll(struct pam_ctx *ctx, const struct ehr_user *u, const char *why);
/* Is the answer the password a module before us took (PAM_AUTHTOK)? Constant time. */
bool pam_answer_is_password(struct pam_ctx *ctx, const char *answer);
int pam_do_acct_mgmt(struct pam_ctx *ctx);
/* The Unlock PIN, as root directly or else through ehr2fa-helper. */
int pam_do_unlock(struct pam_ctx *ctx);
/* The password phase (pam-password.c). Returns a PAM code: PAM_IGNORE for an
 * account that is not a managed one of the store (pam_unix's), or when the
 * store cannot be opened. */
int pam_do_chauthtok(struct pam_ctx *ctx, int flags);
/* Not ours to change: in the update pass, the new password asked twice and left
 * in PAM_AUTHTOK for pam_unix's use_authtok; PAM_IGNORE, or the PAM code of a
 * failed or mismatched answer. */
int pam_chauthtok_not_ours(pam_handle_t *pamh, int flags);

/* The one place where a negative errno becomes a PAM code. */
int pam_status_from_errno(int r);

/* pam-ctx.c, for the steps in pam-glue.c and pam-unlock.c. */
int pam_need_login(struct pam_ctx *ctx);
/* A PAM item as a string, or NULL. */
const char *pam_item_str(pam_handle_t *pamh, int item);
/* The store cannot be used: r is 1 (fail_mode = safe lets the login through) or a
 * negative errno. Returns PAM_R_IGNORE or the error, said to the log and the user. */
int pam_store_unavailable(struct pam_ctx *ctx, int r);
/* Open the store in this process: 0, PAM_R_IGNORE (fail_mode = safe) or a negative
 * errno, said to the log and the user. */
int pam_open_store(struct pam_ctx *ctx);
/* Ask with this prompt. Returns 0 with a malloc'd answer (spaces removed), or PAM_R_CONV. */
int pam_ask(struct pam_ctx *ctx, int style, const char *prompt, char **ret);
/* Wipe and free an answer; NULL is fine. */
void pam_free_answer(char *a);

/* pam-breakglass.c: is break-glass offered at this login (break_glass = yes, not a
 * step-up service)? */
bool pam_break_glass_offered(struct pam_ctx *ctx);
/* The user typed the keyword: ask the reason and let login in once, within the
 * limits, recorded, audited, alerted and the reviewers notified. Returns 0 or a
 * negative errno (already said to the user and the log). */
int pam_break_glass(struct pam_ctx *ctx, const char *login);
/* The keyword from a user we do not check: ask the reason all the same (so the
 * conversation tells nothing), and drop it. Returns 0 or PAM_R_CONV. */
int pam_break_glass_unchecked(struct pam_ctx *ctx);
