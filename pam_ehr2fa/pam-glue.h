/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <security/pam_modules.h>

#include "config.h"
#include "store.h"

struct pam_ctx {
        pam_handle_t *pamh;
        struct ehr_config cfg;
        struct ehr_store *store;
        const char *user;
        char source[256]; /* service, rhost, tty: for audit rows and syslog */
        const char *service, *rhost;
        uint64_t now_sec;
        bool unlock;        /* "unlock": check the Unlock PIN (screen lockers) */
        const char *helper; /* "helper=": the privileged path for unprivileged callers */
        const char *conf;   /* "conf=", if given */
        const char *remote; /* the ehr2fad socket that answered this login, or NULL: in-process */
        bool connected;     /* remote_fd is this login's connection to ehr2fad */
        int remote_fd;
};

/* Read conf= first, then the file, then let the other arguments override it
 * (pam_faillock's args_parse()). Returns 0 or a negative errno, already logged
 * and told to the user. */
int pam_ctx_init(struct pam_ctx *ctx, pam_handle_t *pamh, int argc, const char **argv);
void pam_ctx_done(struct pam_ctx *ctx);

int pam_do_authenticate(struct pam_ctx *ctx);
int pam_do_acct_mgmt(struct pam_ctx *ctx);
/* The Unlock PIN, as root directly or else through ehr2fa-helper. */
int pam_do_unlock(struct pam_ctx *ctx);
/* Never blocks a password change: every outcome is PAM_IGNORE or PAM_SUCCESS. */
int pam_do_chauthtok(struct pam_ctx *ctx);

/* The one place where a negative errno becomes a PAM code. */
int pam_status_from_errno(int r);
