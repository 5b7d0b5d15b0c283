/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The module's context: its config and arguments, the user and where the login
 * comes from, the store, the conversation, and the one errno -> PAM mapping.
 * The steps of a login that use them are in pam-glue.c and pam-unlock.c. */
#include <ctype.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "login.h"
#include "pam-glue.h"
#include "sodium-load.h"
#include "util.h"

int pam_status_from_errno(int r) {
        switch (r) {
        case 0:
                return PAM_SUCCESS;
        case PAM_R_IGNORE:
                return PAM_IGNORE;
        case -EBADRQC:
        case -EACCES:
        case -EALREADY:
        case -EAGAIN:
        case -EBADMSG:
        case -EUSERS:  /* break-glass limit reached */
        case -ERANGE:  /* break-glass reason too short */
                return PAM_AUTH_ERR;
        case -EPERM:
                return PAM_PERM_DENIED;
        case PAM_R_CONV:
                return PAM_CONV_ERR;
        case -ENOMEM:
                return PAM_BUF_ERR;
        case -EINVAL:
                return PAM_SERVICE_ERR;
        case -ENOENT:
        case -EBUSY:
        case -EROFS:
        case -EIO:
        case -EUCLEAN:
        case -EPROTO:
        case -ENOMEDIUM:
        case -ENOTUNIQ:
        case -EDOM:
                return PAM_AUTHINFO_UNAVAIL;
        default:
                return PAM_SYSTEM_ERR;
        }
}

static uint64_t now_sec(void) {
#ifdef EHR_TEST_CLOCK
        /* Only in the test build of the module (never installed): lockout and
         * unlock are tested by moving this clock, not by sleeping. */
        const char *e = getenv("EHR2FA_TEST_NOW");
        uint64_t t;
        if (e && ehr_parse_uint(e, 0, UINT32_MAX, &t) >= 0)
                return t;
#endif
        return (uint64_t) time(NULL);
}

const char *pam_item_str(pam_handle_t *pamh, int item) {
        const void *v = NULL;
        if (pam_get_item(pamh, item, &v) != PAM_SUCCESS || !v)
                return NULL;
        return v;
}

/* Keep what the client sent from forging extra fields in the audit source. */
static void clean(char *s) {
        for (; *s; s++)
                if (!isprint((unsigned char) *s) || *s == ' ')
                        *s = '?';
}

/* The module's own arguments; every other one is a key of ehr2fa.conf. */
static const char *const front_end_args[] = { "conf=", "helper=", "unlock", NULL };

int pam_ctx_init(struct pam_ctx *ctx, pam_handle_t *pamh, int argc, const char **argv) {
        char err[EHR_CONFIG_ERR_MAX];
        const char *conf = NULL;
        int r;

        ctx->pamh = pamh;
        ctx->now_sec = now_sec();
        ehr_config_init(&ctx->cfg);
        /* No sodium_init() here: libsodium is loaded (and initialised) by the first
         * cryptography, in ehr_store_open(); a login that ehr2fad answers never loads it. */

        for (int i = 0; i < argc; i++)
                if (strncmp(argv[i], "conf=", 5) == 0)
                        conf = argv[i] + 5;
        ctx->conf = conf;
        r = ehr_config_load(&ctx->cfg, conf ?: EHR_CONFIG_DEFAULT_PATH, !conf, err, sizeof err);
        if (r >= 0)
                r = ehr_config_apply_args(&ctx->cfg, argc, argv, front_end_args, err, sizeof err);
        for (int i = 0; r >= 0 && i < argc; i++)
                if (streq(argv[i], "unlock"))
                        ctx->unlock = true;
                else if (strncmp(argv[i], "helper=", 7) == 0 && argv[i][7] == '/')
                        ctx->helper = argv[i] + 7;
                else if (strncmp(argv[i], "helper=", 7) == 0) {
                        snprintf(err, sizeof err, "module argument '%.64s' is not an absolute path", argv[i]);
                        r = -EINVAL;
                }
        if (r < 0) {
                /* A broken config, in the file or in the arguments, never lets a login through,
                 * whatever fail_mode it meant to set. */
                pam_syslog(pamh, LOG_ERR, "configuration error: %s", err);
                pam_error(pamh, "%s", MSG_UNAVAILABLE);
                return r;
        }

        r = pam_get_user(pamh, &ctx->user, NULL);
        if (r != PAM_SUCCESS || isempty(ctx->user)) {
                pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name");
                return r == PAM_CONV_AGAIN ? PAM_R_CONV : -EACCES;
        }

        ctx->service = pam_item_str(pamh, PAM_SERVICE) ?: "?";
        ctx->rhost = pam_item_str(pamh, PAM_RHOST) ?: "";
        char service[64], rhost[100], tty[64];
        snprintf(service, sizeof service, "%s", ctx->service);
        snprintf(rhost, sizeof rhost, "%s", ctx->rhost);
        snprintf(tty, sizeof tty, "%s", pam_item_str(pamh, PAM_TTY) ?: "");
        clean(service);
        clean(rhost);
        clean(tty);
        snprintf(ctx->source, sizeof ctx->source, "service=%s rhost=%s tty=%s", service, rhost, tty);
        return 0;
}

void pam_ctx_done(struct pam_ctx *ctx) {
        ctx->login = ehr_login_free(ctx->login);
        ehr_config_done(&ctx->cfg);
}

/* This login's steps (core/login.c), through ehr2fad or in this process. */
int pam_need_login(struct pam_ctx *ctx) {
        return ctx->login ? 0 : ehr_login_new(&ctx->cfg, ctx->user, ctx->now_sec, ctx->source, &ctx->login);
}

/* The store cannot be opened: r is 1 (fail_mode = safe lets the login through) or a
 * negative errno. Returns PAM_R_IGNORE or the error, said to the log and the user. */
int pam_store_unavailable(struct pam_ctx *ctx, int r) {
        const char *err = ehr_login_error(ctx->login);
        if (r > 0) {
                pam_syslog(ctx->pamh, LOG_ERR,
                           "store unavailable (%s); fail_mode=safe: login allowed without a second factor; user=%s "
                           "rhost=%s service=%s",
                           err, ctx->user, ctx->rhost, ctx->service);
                return PAM_R_IGNORE;
        }
        pam_syslog(ctx->pamh, LOG_ERR, "store unavailable: %s; user=%s service=%s", err, ctx->user, ctx->service);
        pam_error(ctx->pamh, "%s", MSG_UNAVAILABLE);
        return r == -EACCES || r == -EPERM ? -EIO : r;
}

int pam_open_store(struct pam_ctx *ctx) {
        int r = pam_need_login(ctx);
        if (r < 0)
                return r;
        r = ehr_login_open_store(ctx->login);
        return r == 0 ? 0 : pam_store_unavailable(ctx, r);
}

int pam_ask(struct pam_ctx *ctx, int style, const char *prompt, char **ret) {
        char *resp = NULL;
        int r = pam_prompt(ctx->pamh, style, &resp, "%s", prompt);
        if (r != PAM_SUCCESS || !resp) {
                if (resp) {
                        sodium_memzero(resp, strlen(resp));
                        free(resp);
                }
                return PAM_R_CONV;
        }
        (void) ehr_strdrop_blanks(resp); /* "123 456" as the app shows it is fine */
        *ret = resp;
        return 0;
}

void pam_free_answer(char *a) {
        if (a) {
                sodium_memzero(a, strlen(a));
                free(a);
        }
}
