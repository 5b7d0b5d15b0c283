/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The password phase (pam_sm_chauthtok): passwd for the managed accounts of the
 * store. It comes before pam_unix in the stack (the pam-auth-update profile's
 * Password-Type: Primary); for everyone else it returns PAM_IGNORE and pam_unix
 * changes the password as it always did.
 *
 * libpam runs the stack twice. PAM_PRELIM_CHECK: the current password, unless
 * the caller is root (real uid 0, not an expired password being changed at a
 * login: pam_unix's rule), so root may set any managed account's password with
 * "passwd LOGIN". PAM_UPDATE_AUTHTOK: the new password twice
 * (pam_get_authtok()), the policy, the hash stored, the shadow snapshot
 * published (core/account.h, ehr_account_password_set()), the user's trusted
 * devices revoked.
 *
 * Anyone else's password is the host's: pam_unix (or SSSD) changes it. Being
 * first, this module makes pam-auth-update give pam_unix its non-initial line,
 * "use_authtok": pam_unix then takes the new password from PAM_AUTHTOK and
 * never asks. So for them the update pass asks the new password twice (as
 * pam_pwquality does, also before pam_unix), leaves it in PAM_AUTHTOK, revokes
 * their trusted devices (if they have a 2FA-only record) and returns
 * PAM_IGNORE. A device revoked when pam_unix then refuses the password is the
 * safe side of that order. */

#include <syslog.h>
#include <unistd.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "account.h"
#include "login.h"
#include "pam-glue.h"
#include "password.h"
#include "sodium-load.h"

#define MSG_NO_PASSWORD                                                                                \
        "No password is set for this account yet: root sets the first one (passwd LOGIN), or use the " \
        "reset by email (ehr2fa password forgot)."
#define PASSWORD_FAIL_DELAY_USEC 2000000U

static bool by_root(int flags) {
        return getuid() == 0 && !(flags & PAM_CHANGE_EXPIRED_AUTHTOK);
}

int pam_chauthtok_not_ours(pam_handle_t *pamh, int flags) {
        const char *pw = NULL;
        if (!(flags & PAM_UPDATE_AUTHTOK))
                return PAM_IGNORE;
        int r = pam_get_authtok(pamh, PAM_AUTHTOK, &pw, NULL);
        return r == PAM_SUCCESS ? PAM_IGNORE : r;
}

/* A host account with a 2FA-only record: its password changes elsewhere. In
 * the update pass, revoke its trusted devices. */
static int host_account(struct pam_ctx *ctx, int flags) {
        const char *login = ctx->user;
        int r = pam_chauthtok_not_ours(ctx->pamh, flags);
        if (r != PAM_IGNORE || !(flags & PAM_UPDATE_AUTHTOK))
                return r;
        r = ehr_login_password_changed(ctx->login, &login);
        if (r < 0 && r != -ENOENT)
                pam_syslog(ctx->pamh, LOG_ERR, "password changed but trusted devices not revoked: %s; user=%s",
                           ehr_strerror(r), login);
        if (r > 0)
                pam_syslog(ctx->pamh, LOG_NOTICE, "password changed: %d trusted device(s) revoked; user=%s", r, login);
        return PAM_IGNORE;
}

static int check_current(struct pam_ctx *ctx, struct ehr_op *op, const struct ehr_user *u) {
        const char *old = NULL;
        int r = pam_get_authtok(ctx->pamh, PAM_OLDAUTHTOK, &old, NULL);
        if (r != PAM_SUCCESS || !old)
                return r == PAM_SUCCESS ? PAM_AUTHTOK_ERR : r;
        r = ehr_account_password_verify(op, u, old);
        if (r == 0)
                return PAM_SUCCESS;
        (void) pam_fail_delay(ctx->pamh, PASSWORD_FAIL_DELAY_USEC);
        if (r == -ENOENT || r == -EINVAL) {
                pam_error(ctx->pamh, "%s", MSG_NO_PASSWORD);
                return PAM_AUTHTOK_ERR;
        }
        if (r == -EBADRQC) {
                pam_syslog(ctx->pamh, LOG_NOTICE, "password change refused: wrong current password; user=%s",
                           u->login);
                return PAM_AUTH_ERR;
        }
        pam_syslog(ctx->pamh, LOG_ERR, "cannot check the current password of %s: %s", u->login, ehr_strerror(r));
        return PAM_AUTHTOK_ERR;
}

static int set_new(struct pam_ctx *ctx, struct ehr_op *op, const struct ehr_user *u, bool root) {
        const char *pw = NULL, *old = NULL;
        int r = pam_get_authtok(ctx->pamh, PAM_AUTHTOK, &pw, NULL);
        if (r != PAM_SUCCESS || !pw) {
                pam_syslog(ctx->pamh, LOG_NOTICE, "password not changed: %s; user=%s", pam_strerror(ctx->pamh, r),
                           u->login);
                return r == PAM_SUCCESS ? PAM_AUTHTOK_ERR : r;
        }
        if (!root && pam_get_item(ctx->pamh, PAM_OLDAUTHTOK, (const void **) &old) == PAM_SUCCESS && old &&
            strlen(old) == strlen(pw) && sodium_memcmp(old, pw, strlen(pw)) == 0) {
                pam_error(ctx->pamh, "The new password is the current one: choose another.");
                return PAM_AUTHTOK_ERR;
        }
        char msg[EHR_PASSWORD_MSG_MAX];
        r = ehr_account_password_set(op, u, pw, root ? EHR_PASSWORD_BY_ROOT : EHR_PASSWORD_BY_USER, msg, sizeof msg);
        if (r < 0) {
                pam_error(ctx->pamh, "%s", msg);
                pam_syslog(ctx->pamh, r == -EINVAL ? LOG_NOTICE : LOG_ERR, "password not changed: %s; user=%s", msg,
                           u->login);
                return PAM_AUTHTOK_ERR; /* stored but not published is not changed: pam_unix reads the old */
        }
        pam_syslog(ctx->pamh, LOG_INFO, "password %s; user=%s", root ? "set by root" : "changed", u->login);
        const char *login = u->login;
        r = ehr_login_password_changed(ctx->login, &login);
        if (r < 0 && r != -ENOENT)
                pam_syslog(ctx->pamh, LOG_ERR, "password changed but trusted devices not revoked: %s; user=%s",
                           ehr_strerror(r), u->login);
        return PAM_SUCCESS;
}

int pam_do_chauthtok(struct pam_ctx *ctx, int flags) {
        struct ehr_store *store = NULL;
        const struct ehr_user *u = NULL;
        int r = pam_need_login(ctx);
        if (r >= 0)
                r = ehr_login_local(ctx->login, &store, &u);
        if (r == -ENOENT)
                return pam_chauthtok_not_ours(ctx->pamh, flags); /* not in the store: pam_unix's */
        if (r < 0) {
                /* Not root (the store is root's), or the store is down: a host account's
                 * password must still change; a managed one's cannot (pam_unix fails it). */
                pam_syslog(ctx->pamh, LOG_ERR, "store unavailable for a password change: %s; user=%s",
                           r == -ENOMEM ? ehr_strerror(r) : ehr_login_error(ctx->login), ctx->user);
                return pam_chauthtok_not_ours(ctx->pamh, flags);
        }
        if (u->uid < 0)
                return host_account(ctx, flags);
        bool root = by_root(flags);
        struct ehr_op op = {
                .store = store, .cfg = &ctx->cfg, .now_sec = ctx->now_sec,
                .actor = root ? "root" : u->login, .source = ctx->source,
        };
        if (flags & PAM_PRELIM_CHECK)
                return root ? PAM_SUCCESS : check_current(ctx, &op, u);
        if (!(flags & PAM_UPDATE_AUTHTOK))
                return PAM_SERVICE_ERR;
        if (!root && (r = check_current(ctx, &op, u)) != PAM_SUCCESS)
                return r;
        return set_new(ctx, &op, u, root);
}
