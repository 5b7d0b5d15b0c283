/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pam_ehr2fa: a second factor (TOTP or recovery code) after the password.
 * Entry points only; the work is in pam-glue.c and core/. */

#include <syslog.h>
#include <security/pam_ext.h>

#include "pam-glue.h"
#include "util.h"

_public_ int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_(pam_ctx_done) struct pam_ctx ctx = {};
        int r = pam_ctx_init(&ctx, pamh, argc, argv);
        if (r < 0)
                return pam_status_from_errno(r);
        return pam_status_from_errno(ctx.unlock ? pam_do_unlock(&ctx) : pam_do_authenticate(&ctx));
}

_public_ int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_(pam_ctx_done) struct pam_ctx ctx = {};
        int r = pam_ctx_init(&ctx, pamh, argc, argv);
        if (r < 0)
                return pam_status_from_errno(r);
        return pam_status_from_errno(pam_do_acct_mgmt(&ctx));
}

/* A changed password revokes the user's trusted devices ("password optional pam_ehr2fa.so"). */
_public_ int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        if (!(flags & PAM_UPDATE_AUTHTOK))
                return PAM_IGNORE;
        _cleanup_(pam_ctx_done) struct pam_ctx ctx = {};
        if (pam_ctx_init(&ctx, pamh, argc, argv) < 0)
                return PAM_IGNORE;
        return pam_status_from_errno(pam_do_chauthtok(&ctx));
}

/* No credentials to set: the second factor grants nothing beyond the login. */
_public_ int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return PAM_IGNORE;
}
