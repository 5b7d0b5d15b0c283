/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pam_ehr2fa: a second factor (TOTP or recovery code) after the password.
 * Entry points only; the work is in pam-glue.c and core/. */

#include <syslog.h>
#include <security/pam_ext.h>

#include "pam-glue.h"
#include "util.h"

/* pam_set_data() name: this handle's pam_sm_authenticate() ran, and how it ended. */
#define DATA_AUTH "pam_ehr2fa_authenticated"
static const int auth_ok = 1, auth_not_ok = 0;

_public_ int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_(pam_ctx_done) struct pam_ctx ctx = {};
        int r = pam_ctx_init(&ctx, pamh, argc, argv);
        if (r >= 0)
                r = ctx.unlock ? pam_do_unlock(&ctx) : pam_do_authenticate(&ctx);
        int status = pam_status_from_errno(r);
        (void) pam_set_data(pamh, DATA_AUTH, (void *) (status == PAM_SUCCESS ? &auth_ok : &auth_not_ok), NULL);
        return status;
}

_public_ int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_(pam_ctx_done) struct pam_ctx ctx = {};
        int r = pam_ctx_init(&ctx, pamh, argc, argv);
        if (r < 0)
                return pam_status_from_errno(r);
        return pam_status_from_errno(pam_do_acct_mgmt(&ctx));
}

/* passwd for the managed accounts of the store (pam-password.c); PAM_IGNORE for
 * everyone else, whose password pam_unix (or SSSD) changes, after which their
 * trusted devices are revoked. A config that cannot be read is PAM_IGNORE too:
 * a host account's password must still change, and a managed one's cannot
 * without us (pam_unix refuses a user who is not in /etc/passwd). */
_public_ int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_(pam_ctx_done) struct pam_ctx ctx = {};
        if (pam_ctx_init(&ctx, pamh, argc, argv) < 0)
                return pam_chauthtok_not_ours(pamh, flags);
        return pam_do_chauthtok(&ctx, flags);
}

/* No credentials to set: the second factor grants nothing beyond the login, so
 * this succeeds, as pam_unix, pam_faillock, pam_oath and pam_google_authenticator
 * do. PAM_IGNORE here made a stack of pam_ehr2fa alone (sshd, keys plus code)
 * fail pam_setcred() after a good code: nothing else in it succeeded.
 * PAM_IGNORE only when this handle's authenticate ran and did not succeed (not
 * ours under nullok, or refused). When it did not run in this handle, success
 * still: sshd checks keyboard-interactive answers in a child process and calls
 * pam_setcred() in its parent, whose handle never sees our data, and it calls
 * pam_setcred() for a publickey-only session too (no authenticate at all). */
_public_ int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        const void *d = NULL;
        if (pam_get_data(pamh, DATA_AUTH, &d) == PAM_SUCCESS && d == &auth_not_ok)
                return PAM_IGNORE;
        return PAM_SUCCESS;
}
