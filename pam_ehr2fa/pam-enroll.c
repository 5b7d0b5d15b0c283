/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Enrollment at first login (core/enroll.h): a user the 2FA policy covers and
 * who has no second factor, at a service and host that offer it, after the
 * password module: the otpauth URI and its QR code, a code from the app to
 * confirm it (counted as any code), then ten recovery codes, shown once.
 * One message or prompt per conversation call, so that a conversation that
 * takes them one at a time (GDM) shows each. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "enforce.h"
#include "enroll.h"
#include "pam-glue.h"
#include "policy.h"
#include "qr.h"
#include "sodium-load.h"
#include "util.h"

#define ENROLL_TRIES 3U
#define APPS "Google Authenticator, Authy, FreeOTP, Microsoft Authenticator"
#define CODES_LINE_MAX 32U

static void audit(struct pam_ctx *ctx, const char *login, const char *action, const char *details) {
        int r = ehr_login_audit(ctx->login, login, action, details);
        if (r < 0)
                pam_syslog(ctx->pamh, LOG_ERR, "cannot write audit row (%s): %s, ignoring", action, ehr_strerror(r));
}

/* Where this login may enroll: the config says so (services, hosts, never a public
 * host), and a password module before this one took a password (PAM_AUTHTOK):
 * enrollment binds a phone to the account, so the password must have been checked. */
static bool offered(struct pam_ctx *ctx) {
        char host[HOST_NAME_MAX + 1] = "";
        (void) gethostname(host, sizeof host);
        if (!ehr_enforce_enroll_allowed(&ctx->cfg, ctx->service, host))
                return false;
        if (isempty(pam_item_str(ctx->pamh, PAM_AUTHTOK))) {
                pam_syslog(ctx->pamh, LOG_NOTICE,
                           "enrollment at login not offered: no password module before pam_ehr2fa in this stack; "
                           "user=%s service=%s",
                           ctx->user, ctx->service);
                return false;
        }
        return true;
}

/* The QR code and, for an app that cannot scan, the key and the link. */
static int show_app_setup(struct pam_ctx *ctx, const struct ehr_enrollment *e) {
        char *code = NULL, *msg = NULL;
        size_t codelen = 0, msglen = 0;
        int r = ehr_qr_render(e->uri, EHR_QR_PLAIN_LIGHT_BLOCKS, &code, &codelen);
        if (r < 0)
                pam_syslog(ctx->pamh, LOG_ERR, "cannot draw the QR code: %s; showing the key only, ignoring",
                           ehr_strerror(r));
        FILE *f = open_memstream(&msg, &msglen);
        if (!f) {
                r = -ENOMEM;
                goto out;
        }
        fprintf(f, "Two-Factor Authentication (2FA) is required for your account. Set it up now with the phone app "
                   "(" APPS ")%s\n%s",
                code ? ": scan this QR code." : ".", code ?: "");
        r = fclose(f) == 0 ? 0 : -ENOMEM;
        if (r == 0)
                r = pam_info(ctx->pamh, "%s", msg) == PAM_SUCCESS ? 0 : PAM_R_CONV;
        if (r == 0)
                r = pam_info(ctx->pamh, "Or add it by hand: key %s (time-based)\nLink: %s", e->key, e->uri) ==
                                    PAM_SUCCESS
                            ? 0
                            : PAM_R_CONV;
out:
        if (msg) {
                sodium_memzero(msg, msglen);
                free(msg);
        }
        if (code) {
                sodium_memzero(code, codelen);
                free(code);
        }
        return r;
}

/* The recovery codes, once, then a prompt: sshd shows messages with the next
 * prompt, and a login screen would otherwise go on before they are read. */
static void show_codes(struct pam_ctx *ctx, char (*codes)[EHR_RECOVERY_DISPLAY_SIZE]) {
        char msg[256 + EHR_RECOVERY_CODES * CODES_LINE_MAX], *answer = NULL;
        size_t n = (size_t) snprintf(msg, sizeof msg,
                                     "2FA is set up. Your recovery codes: each works once, in place of a code from "
                                     "the app. They are shown only now: write them down and keep them safe.\n");
        for (unsigned i = 0; i < EHR_RECOVERY_CODES && n < sizeof msg; i++)
                n += (size_t) snprintf(msg + n, sizeof msg - n, "  %s\n", codes[i]);
        (void) pam_info(ctx->pamh, "%s", msg);
        sodium_memzero(msg, sizeof msg);
        /* The login already succeeded: a failed conversation here changes nothing. */
        if (pam_ask(ctx, PAM_PROMPT_ECHO_ON, "Press Enter once you have written them down. ", &answer) == 0)
                pam_free_answer(answer);
}

static int tell_locked(struct pam_ctx *ctx, const struct ehr_verdict *v) {
        char until[64];
        ehr_policy_format_until(v->locked_until_sec, ctx->now_sec, until, sizeof until);
        pam_error(ctx->pamh, "Your account is locked after too many failed verification codes until %s. Call the help desk.",
                  until);
        return -EAGAIN;
}

/* One answer. Returns 0 (enrolled), PAM_R_NEXT (skipped), 1 (try again) or a negative errno. */
static int try_answer(struct pam_ctx *ctx, const struct ehr_user *u, const struct ehr_enrollment *e,
                      const char *answer) {
        char codes[EHR_RECOVERY_CODES][EHR_RECOVERY_DISPLAY_SIZE];
        struct ehr_verdict v;
        if (isempty(answer)) {
                audit(ctx, u->login, "enrollment skipped", "at login; no code given");
                return PAM_R_NEXT;
        }
        if (pam_answer_is_password(ctx, answer) || !ehr_policy_answer_well_formed(answer)) {
                /* Not checked, not counted, as at the code prompt. */
                pam_error(ctx->pamh, "That is not a code from the app.");
                return 1;
        }
        struct ehr_op op = { .store = NULL, .cfg = &ctx->cfg, .now_sec = ctx->now_sec, .actor = u->login,
                             .source = ctx->source };
        const struct ehr_user *ignored;
        int r = ehr_login_local_any(ctx->login, &op.store, &ignored);
        if (r >= 0)
                r = ehr_enroll_confirm(&op, u, e, answer, &v, codes);
        switch (r) {
        case 0:
                pam_syslog(ctx->pamh, LOG_INFO, "app enrolled at login; user=%s rhost=%s service=%s", u->login,
                           ctx->rhost, ctx->service);
                show_codes(ctx, codes);
                sodium_memzero(codes, sizeof codes);
                return 0;
        case -EBADRQC:
                pam_syslog(ctx->pamh, LOG_NOTICE,
                           "authentication failure (wrong code of the app being enrolled); user=%s rhost=%s "
                           "service=%s failures=%llu",
                           u->login, ctx->rhost, ctx->service, (unsigned long long) v.failures);
                if (v.locked_until_sec == 0) {
                        pam_error(ctx->pamh, "That code is not right. Check the phone's time, and type the code the app shows now.");
                        return 1;
                }
                return tell_locked(ctx, &v);
        case -EAGAIN:
                return tell_locked(ctx, &v);
        case -EEXIST:
                pam_error(ctx->pamh, "An app was set up for your account meanwhile: log in again with its code.");
                return -EBADRQC;
        default:
                pam_syslog(ctx->pamh, LOG_ERR, "cannot enroll %s at login: %s", u->login, ehr_strerror(r));
                pam_error(ctx->pamh, "%s", MSG_UNAVAILABLE);
                return r;
        }
}

int pam_do_enroll(struct pam_ctx *ctx, const struct ehr_user *u, const char *why) {
        char details[160];
        if (!offered(ctx))
                return PAM_R_NEXT;
        _cleanup_(ehr_enroll_freep) struct ehr_enrollment *e = NULL;
        int r = ehr_enroll_new(&ctx->cfg, u->login, &e);
        if (r < 0) {
                pam_syslog(ctx->pamh, LOG_ERR, "cannot offer enrollment to %s: %s", u->login, ehr_strerror(r));
                return PAM_R_NEXT;
        }
        snprintf(details, sizeof details, "at login; not enrolled; 2FA policy (%s)", why);
        audit(ctx, u->login, "enrollment offered", details);
        r = show_app_setup(ctx, e);
        for (unsigned n = 0; r == 0 && n < ENROLL_TRIES; n++) {
                char *answer = NULL;
                r = pam_ask(ctx, PAM_PROMPT_ECHO_OFF, "Code from the app (or Enter to skip): ", &answer);
                if (r < 0)
                        break;
                r = try_answer(ctx, u, e, answer);
                pam_free_answer(answer);
                if (r != 1)
                        return r;
                r = 0;
        }
        if (r < 0) {
                audit(ctx, u->login, "enrollment failed", "at login; conversation failed or cancelled");
                return r;
        }
        snprintf(details, sizeof details, "at login; no right code in %u tries", ENROLL_TRIES);
        audit(ctx, u->login, "enrollment failed", details);
        return -EBADRQC;
}
