/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A login of a user with no second factor on a host with a 2FA policy
 * (core/enforce.h): outside it, or not enforced at this service, not ours to
 * decide; inside it, enrollment where the host offers it, else the days or
 * grace logins left, or the help desk's instructions. */
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "enforce.h"
#include "pam-glue.h"
#include "util.h"

static void audit(struct pam_ctx *ctx, const char *user, const char *action, const char *details) {
        int r = ehr_login_audit(ctx->login, user, action, details);
        if (r < 0)
                pam_syslog(ctx->pamh, LOG_ERR, "cannot write audit row (%s): %s, ignoring", action, ehr_strerror(r));
}

/* Not ours to decide: PAM_IGNORE, never PAM_SUCCESS, so a "sufficient" line never
 * turns a user without a second factor into a bypass of the rest of the stack. */
static int skip(struct pam_ctx *ctx, const char *login, const char *details) {
        audit(ctx, login, "second factor skipped", details);
        if (ctx->cfg.debug)
                pam_syslog(ctx->pamh, LOG_DEBUG, "second factor skipped (%s); user=%s service=%s", details, login,
                           ctx->service);
        return PAM_R_IGNORE;
}

/* What the decision means for the user, the log and PAM. */
static int tell_admitted(struct pam_ctx *ctx, const char *login, const struct ehr_enforce_verdict *v) {
        const char *by = ctx->cfg.enroll_by ?: "";
        switch (v->outcome) {
        case EHR_ENFORCE_DAYS:
                pam_info(ctx->pamh,
                         "Two-Factor Authentication (2FA) will be required for your account after %s: %llu day%s "
                         "left to set it up.",
                         by, (unsigned long long) v->days_left, v->days_left == 1 ? "" : "s");
                pam_syslog(ctx->pamh, LOG_NOTICE, "not enrolled, %llu day(s) left to enroll; user=%s rhost=%s service=%s",
                           (unsigned long long) v->days_left, login, ctx->rhost, ctx->service);
                return PAM_R_IGNORE;
        case EHR_ENFORCE_GRACE:
                pam_info(ctx->pamh,
                         "Two-Factor Authentication (2FA) is required for your account and is not set up. %llu "
                         "login%s left before you are refused: set it up now.",
                         (unsigned long long) v->logins_left, v->logins_left == 1 ? "" : "s");
                pam_syslog(ctx->pamh, LOG_NOTICE,
                           "not enrolled, past enroll_by: grace login %llu, %llu left; user=%s rhost=%s service=%s",
                           (unsigned long long) v->logins_used, (unsigned long long) v->logins_left, login,
                           ctx->rhost, ctx->service);
                return PAM_R_IGNORE;
        default:
                pam_error(ctx->pamh, "%s", ctx->cfg.enforce_message ?: EHR_ENFORCE_MESSAGE_DEFAULT);
                pam_syslog(ctx->pamh, LOG_NOTICE,
                           "authentication failure (not enrolled, past enroll_by, no grace login left); user=%s "
                           "rhost=%s service=%s",
                           login, ctx->rhost, ctx->service);
                return -EPERM;
        }
}

static int store_error(struct pam_ctx *ctx, const char *login, int r) {
        pam_syslog(ctx->pamh, LOG_ERR, "cannot check the 2FA policy for %s: %s", login, ehr_strerror(r));
        pam_error(ctx->pamh, "%s", MSG_UNAVAILABLE);
        return r;
}

int pam_do_enforce(struct pam_ctx *ctx, const struct ehr_login_state *st) {
        const char *login = st->user_r >= 0 ? st->login : ctx->user;
        struct ehr_enforce_verdict v = {};
        struct ehr_store *s;
        const struct ehr_user *u;
        char details[256];

        int r = pam_open_store(ctx);
        if (r != 0)
                return r;
        r = ehr_login_local_any(ctx->login, &s, &u);
        if (r >= 0)
                r = ehr_enforce_covers(s, &ctx->cfg, login, u, v.why);
        if (r < 0)
                return store_error(ctx, login, r);
        if (r == 0)
                return skip(ctx, login, u ? "not enrolled; outside the 2FA policy" : "not in the store; outside the 2FA policy");
        if (!ehr_enforce_at_service(&ctx->cfg, ctx->service)) {
                snprintf(details, sizeof details, "not enrolled; 2FA policy (%s) not enforced at service %s", v.why,
                         ctx->service);
                return skip(ctx, login, details);
        }
        if (st->lock_r == -EAGAIN) {
                audit(ctx, login, "second factor refused", "account locked; not enrolled; nothing asked");
                pam_syslog(ctx->pamh, LOG_NOTICE, "account locked; user=%s rhost=%s service=%s", login, ctx->rhost,
                           ctx->service);
                pam_error(ctx->pamh, "Your account is locked after too many failed verification codes. Call the help desk.");
                return -EAGAIN;
        }
        if (u) {
                r = pam_do_enroll(ctx, u, v.why); /* where the host offers it (pam-enroll.c) */
                if (r != PAM_R_NEXT)
                        return r;
        }
        r = ehr_enforce_admit(s, &ctx->cfg, login, ctx->now_sec, ctx->source, &v);
        if (r < 0)
                return store_error(ctx, login, r);
        return tell_admitted(ctx, login, &v);
}
