/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* One good-code login through real libpam, as bench-concurrent and bench-hosts
 * make them: pam_start_confdir + pam_authenticate + pam_end for user
 * BENCH_LOGIN_PREFIX<index>, answering every prompt with the code of the next
 * time step (the default window accepts it, and a user logged in during this
 * step by an earlier bench is no replay). Header only: the bench programs
 * link libehr-core for ehr_hotp(). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <security/pam_appl.h>

#include "bench-pam.h"
#include "totp.h"

static int bench_login_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
        struct pam_response *r = calloc((size_t) n, sizeof *r);
        if (!r)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++)
                if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
                        r[i].resp = strdup(data);
        *resp = r;
        return PAM_SUCCESS;
}

/* Returns the PAM result, or PAM_SYSTEM_ERR when no code could be made. */
static inline int bench_login(const char *confdir, const char *svc, unsigned long index) {
        char user[64], code[16];
        uint64_t step = ehr_totp_step((uint64_t) time(NULL), BENCH_PERIOD) + 1;
        snprintf(user, sizeof user, BENCH_LOGIN_PREFIX "%lu", index);
        if (ehr_hotp(bench_secret(), BENCH_SECRET_BYTES, EHR_OTP_SHA1, step, BENCH_DIGITS, code, sizeof code) < 0)
                return PAM_SYSTEM_ERR;
        struct pam_conv pc = { bench_login_conv, code };
        pam_handle_t *pamh = NULL;
        int r = pam_start_confdir(svc, user, &pc, confdir, &pamh);
        if (r == PAM_SUCCESS)
                r = pam_authenticate(pamh, 0);
        if (pamh)
                pam_end(pamh, r);
        return r;
}
