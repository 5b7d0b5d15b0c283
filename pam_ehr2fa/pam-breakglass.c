/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Break the glass at the code prompt (core/breakglass.h): the reason, the use,
 * what the user is told, the syslog alert, and the reviewers' mail. */

#include <stdio.h>
#include <syslog.h>
#include <sys/utsname.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "breakglass.h"
#include "pam-glue.h"
#include "util.h"

#define MSG_BG_REFUSED "Emergency access refused."

bool pam_break_glass_offered(struct pam_ctx *ctx) {
        return ehr_break_glass_allowed(&ctx->cfg, ctx->service);
}

/* The reason, as typed (blanks kept, unlike a code). Returns 0 with a malloc'd
 * string, or PAM_R_CONV. */
static int ask_reason(struct pam_ctx *ctx, char **ret) {
        char prompt[160], *resp = NULL;
        snprintf(prompt, sizeof prompt, "Emergency access (break the glass). Reason, at least %llu characters: ",
                 (unsigned long long) ctx->cfg.break_glass_reason_min);
        int r = pam_prompt(ctx->pamh, PAM_PROMPT_ECHO_ON, &resp, "%s", prompt);
        if (r != PAM_SUCCESS || !resp) {
                free(resp);
                return PAM_R_CONV;
        }
        *ret = resp;
        return 0;
}

int pam_break_glass_unchecked(struct pam_ctx *ctx) {
        char *reason = NULL;
        int r = ask_reason(ctx, &reason);
        pam_free_answer(reason);
        return r;
}

/* This machine, for the per-host limit and the reviewers. */
static void host_name(char *buf, size_t len) {
        struct utsname u;
        snprintf(buf, len, "%s", uname(&u) == 0 && *u.nodename ? u.nodename : "unknown");
}

static void tell_refused(struct pam_ctx *ctx, const char *login, int r, uint64_t until,
                         enum ehr_break_glass_limit limit) {
        char when[64];
        const char *why = r == -EAGAIN ? "account locked"
                          : r == -EUSERS ? (limit == EHR_BREAK_GLASS_LIMIT_USER ? "per-user limit reached"
                                                                                : "per-host limit reached")
                          : r == -EINVAL ? "reason not plain text"
                                         : "reason too short";
        pam_syslog(ctx->pamh, LOG_NOTICE, "break-glass refused (%s); user=%s rhost=%s service=%s", why, login,
                   ctx->rhost, ctx->service);
        if (r == -EAGAIN) {
                ehr_policy_format_until(until, ctx->now_sec, when, sizeof when);
                pam_error(ctx->pamh, "%s Your account is locked after too many failed verification codes (until %s). "
                          "Call the help desk.", MSG_BG_REFUSED, when);
        } else if (r == -EUSERS)
                pam_error(ctx->pamh, "%s Emergency access was used too recently (%s). Call the help desk.",
                          MSG_BG_REFUSED, limit == EHR_BREAK_GLASS_LIMIT_USER ? "by you" : "on this computer");
        else if (r == -EINVAL)
                pam_error(ctx->pamh, "%s The reason must be plain text.", MSG_BG_REFUSED);
        else
                pam_error(ctx->pamh, "%s The reason must be at least %llu characters.", MSG_BG_REFUSED,
                          (unsigned long long) ctx->cfg.break_glass_reason_min);
}

/* Mail the reviewers. ehr2fa-notify does it in a process of its own, so that the
 * login never waits for the mail server; when it cannot be started, here and now
 * (bounded by mail_timeout_ms). Whatever comes of it the login stands: the outcome
 * is audited in core and logged. */
static void notify(struct pam_ctx *ctx, const char *login, int64_t id) {
        long status = 0;
        int r = ehr_login_break_glass_notify_detached(ctx->login, id);
        if (r == 0)
                return; /* ehr2fa-notify logs and audits the outcome */
        pam_syslog(ctx->pamh, LOG_WARNING, "break-glass use %lld of %s: cannot start the notifier (%s); mailing now",
                   (long long) id, login, ehr_strerror(r));
        r = ehr_login_break_glass_notify(ctx->login, id, &status);
        char line[512];
        ehr_break_glass_notice_line(line, sizeof line, id, login, r, status, NULL);
        pam_syslog(ctx->pamh, r == 0 ? LOG_INFO : LOG_ERR, "%s", line);
}

int pam_break_glass(struct pam_ctx *ctx, const char *login) {
        char host[EHR_BREAK_GLASS_HOST_MAX + 1], *reason = NULL;
        int64_t id = 0;
        uint64_t until = 0;
        enum ehr_break_glass_limit limit = EHR_BREAK_GLASS_LIMIT_USER;

        /* Only after a password: a stack without one before us (keys alone at sshd)
         * must not turn "emergency" into a way in. */
        if (!pam_item_str(ctx->pamh, PAM_AUTHTOK)) {
                pam_syslog(ctx->pamh, LOG_NOTICE, "break-glass refused (no password before pam_ehr2fa in the stack); "
                           "user=%s rhost=%s service=%s", login, ctx->rhost, ctx->service);
                pam_error(ctx->pamh, "%s It needs your password first.", MSG_BG_REFUSED);
                (void) ehr_login_audit(ctx->login, login, "break-glass refused", "no password before it in the stack");
                return -EBADRQC;
        }
        int r = ask_reason(ctx, &reason);
        if (r < 0) {
                (void) ehr_login_audit(ctx->login, login, "break-glass refused", "conversation failed or cancelled");
                return r;
        }
        host_name(host, sizeof host);
        r = pam_open_store(ctx); /* said to the log and the user when it fails */
        if (r != 0) {
                pam_free_answer(reason);
                return r;
        }
        r = ehr_login_break_glass(ctx->login, login, host, ctx->service, reason, &id, &until, &limit);
        pam_free_answer(reason);
        if (r == -EAGAIN || r == -EUSERS || r == -ERANGE || r == -EINVAL) {
                tell_refused(ctx, login, r, until, limit);
                return r == -EINVAL ? -ERANGE : r;
        }
        if (r < 0) {
                pam_syslog(ctx->pamh, LOG_ERR, "break-glass for %s cannot be recorded: %s", login, ehr_strerror(r));
                pam_error(ctx->pamh, "%s It cannot be recorded; contact the help desk.", MSG_BG_REFUSED);
                return r;
        }
        pam_syslog(ctx->pamh, LOG_ALERT,
                   "BREAK-GLASS access without a second factor; user=%s host=%s rhost=%s service=%s id=%lld "
                   "(unreviewed; reason in the audit log)",
                   login, host, ctx->rhost, ctx->service, (long long) id);
        notify(ctx, login, id);
        pam_info(ctx->pamh, "Emergency access granted. This login is recorded and the reviewers are notified.");
        return 0;
}
