/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <strings.h>
#include <syslog.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "breakglass.h"
#include "enforce.h"
#include "login.h"
#include "pam-glue.h"
#include "sodium-load.h"
#include "util.h"

#define PROMPT "Verification code: "
#define MSG_FAILED "Verification failed."
/* Internal to pam_do_authenticate(): steps 1-3 leave the decision to the code. */
#define PAM_R_PROMPT 2

/* Why ehr2fad did not answer, if it did not: a warning unless it is simply not there. */
static void log_remote_error(struct pam_ctx *ctx, bool checking) {
        const char *path;
        bool expected;
        int r = ehr_login_take_remote_error(ctx->login, &path, &expected);
        const char *why = ehr_strerror(r);
        if (r == 0)
                return;
        if (checking)
                pam_syslog(ctx->pamh, LOG_ERR, "ehr2fad at %s did not answer the check: %s", path, why);
        else if (!expected || ctx->cfg.debug)
                pam_syslog(ctx->pamh, expected ? LOG_DEBUG : LOG_WARNING, "ehr2fad at %s: %s; checking in-process",
                           path, why);
}

static void audit(struct pam_ctx *ctx, const char *user, const char *action, const char *details) {
        int r = ehr_login_audit(ctx->login, user, action, details);
        if (r < 0)
                pam_syslog(ctx->pamh, LOG_ERR, "cannot write audit row (%s): %s, ignoring", action, ehr_strerror(r));
}

/* dev: also check for a trusted device. Returns 0, PAM_R_IGNORE (fail_mode = safe) or a negative errno. */
static int begin(struct pam_ctx *ctx, const struct ehr_device_id *dev, struct ehr_login_state *st) {
        int r = pam_need_login(ctx);
        if (r < 0)
                return r;
        r = ehr_login_begin(ctx->login, dev, st);
        log_remote_error(ctx, false);
        return r == 0 ? 0 : pam_store_unavailable(ctx, r);
}

static bool sms_enabled(const struct pam_ctx *ctx) {
        return ctx->cfg.sms_mode != EHR_SMS_OFF;
}

/* The same first prompt for everyone, enrolled or not, so it tells nothing. */
static void first_prompt(struct pam_ctx *ctx, char *buf, size_t len) {
        bool bg = pam_break_glass_offered(ctx);
        if (sms_enabled(ctx))
                snprintf(buf, len, "Verification code (or \"%s\" for a text message%s): ",
                         ctx->cfg.sms_keyword ?: EHR_SMS_KEYWORD_DEFAULT,
                         bg ? ", \"" EHR_BREAK_GLASS_KEYWORD "\" for emergency access" : "");
        else if (bg)
                snprintf(buf, len, "Verification code (or \"" EHR_BREAK_GLASS_KEYWORD "\" for emergency access): ");
        else
                snprintf(buf, len, "%s", PROMPT);
}

static void tell_locked(struct pam_ctx *ctx, uint64_t until) {
        char when[64];
        ehr_policy_format_until(until, ctx->now_sec, when, sizeof when);
        pam_error(ctx->pamh,
                  until == UINT64_MAX
                          ? "Your account is locked after too many failed verification codes until %s. Call the help desk."
                          : "Your account is locked after too many failed verification codes. Try again after %s, or call the help desk.",
                  when);
}


/* A user we will not check: same prompt and the same delay as a wrong code, so
 * neither words nor timing tell an attacker who exists or who is enrolled. */
static int refuse_after_prompt(struct pam_ctx *ctx, const char *why) {
        char prompt[128], *answer = NULL;
        first_prompt(ctx, prompt, sizeof prompt);
        int r = pam_ask(ctx, PAM_PROMPT_ECHO_OFF, prompt, &answer);
        if (r == 0 && pam_break_glass_offered(ctx) && ehr_break_glass_is_keyword(answer))
                r = pam_break_glass_unchecked(ctx);
        pam_free_answer(answer);
        audit(ctx, ctx->user, "second factor failed", why);
        pam_syslog(ctx->pamh, LOG_NOTICE, "authentication failure (%s); user=%s rhost=%s service=%s", why, ctx->user,
                   ctx->rhost, ctx->service);
        if (r < 0)
                return r;
        pam_error(ctx->pamh, "%s", MSG_FAILED);
        return -EBADRQC;
}

/* The device this login comes from, for "trust this device". */
struct device {
        struct ehr_device_id id;
        char host_id[64], key[1024];
};

static void device_id(struct pam_ctx *ctx, struct device *d) {
        d->id = (struct ehr_device_id) { .rhost = ctx->rhost, .tty = pam_item_str(ctx->pamh, PAM_TTY) };
        if (ehr_trust_host_id(d->host_id, sizeof d->host_id) >= 0)
                d->id.host_id = d->host_id;
        /* sshd with ExposeAuthInfo puts the methods already passed in the PAM
         * environment, one per line: "publickey ssh-ed25519 AAAA...". */
        const char *info = pam_getenv(ctx->pamh, "SSH_AUTH_INFO_0");
        for (const char *l = info; l && *l;) {
                const char *nl = strchr(l, '\n');
                size_t n = nl ? (size_t) (nl - l) : strlen(l);
                if (n > 10 && strncmp(l, "publickey ", 10) == 0 && n - 10 < sizeof d->key) {
                        memcpy(d->key, l + 10, n - 10);
                        d->key[n - 10] = 0;
                        d->id.pubkey = d->key;
                        break;
                }
                l = nl ? nl + 1 : l + n;
        }
}

/* Handle the SMS keyword: send a token, and say in the next prompt what happened
 * (sshd's keyboard-interactive drops info messages, but shows prompts). */
static void request_sms(struct pam_ctx *ctx, const char *login, char *prompt, size_t len) {
        struct ehr_sms_request req = {};
        char when[64];
        int r = pam_open_store(ctx);
        if (r == 0)
                r = ehr_login_sms(ctx->login, login, &req);
        switch (r) {
        case 0:
                pam_syslog(ctx->pamh, LOG_INFO, "SMS token sent; user=%s phone=%s service=%s", login, req.masked,
                           ctx->service);
                snprintf(prompt, len, "Code sent to the phone ending in %s. Verification code: ", req.masked + 3);
                return;
        case -EOPNOTSUPP:
                snprintf(prompt, len, "Text messages are not enabled here; use your app or a recovery code. %s",
                         PROMPT);
                return;
        case -ENOENT:
                snprintf(prompt, len, "No cell phone on file; use your app or a recovery code. %s", PROMPT);
                return;
        case -ETOOMANYREFS:
                ehr_policy_format_until(req.retry_after_sec, ctx->now_sec, when, sizeof when);
                pam_syslog(ctx->pamh, LOG_NOTICE, "SMS token not sent: %s, next possible at %s; user=%s service=%s",
                           ehr_strerror(r), when, login, ctx->service);
                snprintf(prompt, len,
                         "A text message was sent recently; the next is possible at %s. Use your app or a recovery "
                         "code. %s",
                         when, PROMPT);
                return;
        default:
                if (r == -ECOMM && req.http_status)
                        pam_syslog(ctx->pamh, LOG_ERR, "SMS gateway answered HTTP %ld; user=%s phone=%s",
                                   req.http_status, login, req.masked);
                else if (r == -ECOMM)
                        pam_syslog(ctx->pamh, LOG_ERR, "SMS gateway failed: %s; user=%s phone=%s",
                                   ehr_strerror(req.send_error), login, req.masked);
                else if (req.send_error) {
                        char why[256];
                        const char *f = ctx->cfg.sms_token_file ?: EHR_SMS_TOKEN_FILE_DEFAULT;
                        pam_syslog(ctx->pamh, LOG_ERR, "SMS gateway credential file unusable: %s; user=%s",
                                   ehr_open_error(req.send_error, f, true, why, sizeof why), login);
                } else
                        pam_syslog(ctx->pamh, LOG_ERR, "cannot send SMS token: %s; user=%s",
                                   ehr_strerror(r == PAM_R_IGNORE ? -EBUSY : r), login);
                snprintf(prompt, len, "The text message could not be sent; use your app or a recovery code. %s", PROMPT);
        }
}

static void offer_trust(struct pam_ctx *ctx, const char *login, const struct ehr_device_id *d) {
        char prompt[128], *answer = NULL;
        if (!ehr_trust_service_allowed(&ctx->cfg, ctx->service))
                return;
        snprintf(prompt, sizeof prompt,
                 "Trust this device for %llu days? (not on shared or public computers) [y/N] ",
                 (unsigned long long) ctx->cfg.trust_days);
        /* A failed conversation here is a "no": the login itself already succeeded. */
        if (pam_ask(ctx, PAM_PROMPT_ECHO_ON, prompt, &answer) < 0)
                return;
        bool yes = strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
        pam_free_answer(answer);
        if (!yes)
                return;
        int r = ehr_login_trust(ctx->login, login, d);
        if (r < 0)
                pam_syslog(ctx->pamh, LOG_ERR, "cannot record the trusted device of %s: %s, ignoring", login,
                           ehr_strerror(r));
        else
                pam_syslog(ctx->pamh, LOG_INFO, "device trusted for %llu days; user=%s rhost=%s service=%s",
                           (unsigned long long) ctx->cfg.trust_days, login, ctx->rhost, ctx->service);
}

/* The store went away or stayed busy in the middle of a check. */
static int store_failed(struct pam_ctx *ctx, const char *user, int r) {
        if (ehr_login_fails_open(&ctx->cfg, r, true)) {
                pam_syslog(ctx->pamh, LOG_ERR,
                           "store busy; fail_mode=safe: login allowed without a second factor; user=%s rhost=%s "
                           "service=%s",
                           user, ctx->rhost, ctx->service);
                return PAM_R_IGNORE;
        }
        pam_syslog(ctx->pamh, LOG_ERR, "cannot check the second factor of %s: %s", user, ehr_strerror(r));
        pam_error(ctx->pamh, "%s", MSG_UNAVAILABLE);
        return r;
}

/* Steps 1-3 decided without a code: not ours (nullok), not enrolled, locked, or a
 * trusted device. Returns PAM_R_PROMPT to go on to the prompt, else the outcome. */
static int before_prompt(struct pam_ctx *ctx, const struct ehr_login_state *st) {
        if (st->user_r == -ENOENT || (st->user_r >= 0 && !st->enrolled)) {
                if (ehr_enforce_configured(&ctx->cfg))
                        return pam_do_enforce(ctx, st); /* the host's 2FA policy decides (pam-enforce.c) */
                const char *why = st->user_r == -ENOENT ? "user not in the store" : "user not enrolled";
                if (!ctx->cfg.nullok)
                        return refuse_after_prompt(ctx, why);
                /* PAM_IGNORE, not PAM_SUCCESS: a "sufficient" line must never turn an
                 * unchecked user into a bypass of the rest of the stack. */
                audit(ctx, ctx->user, "second factor skipped",
                      st->user_r >= 0 ? "not enrolled; nullok" : "not in the store; nullok");
                if (ctx->cfg.debug)
                        pam_syslog(ctx->pamh, LOG_DEBUG, "%s, nullok: ignoring; user=%s", why, ctx->user);
                return PAM_R_IGNORE;
        }
        if (st->user_r < 0)
                return store_failed(ctx, ctx->user, st->user_r);
        if (st->lock_r == -EAGAIN) {
                audit(ctx, st->login, "second factor refused", "account locked; no code asked");
                pam_syslog(ctx->pamh, LOG_NOTICE, "account locked; user=%s rhost=%s service=%s", st->login,
                           ctx->rhost, ctx->service);
                tell_locked(ctx, st->until);
                return -EAGAIN;
        }
        if (st->lock_r < 0)
                return store_failed(ctx, st->login, st->lock_r);
        if (st->trust_r == 0) {
                pam_syslog(ctx->pamh, LOG_INFO, "second factor skipped: trusted device; user=%s rhost=%s service=%s",
                           st->login, ctx->rhost, ctx->service);
                return 0;
        }
        if (st->trust_r != -ENOENT && st->trust_r != -EPERM)
                return store_failed(ctx, st->login, st->trust_r);
        return PAM_R_PROMPT;
}

#define MAX_PROMPTS 3U

/* Step 4: the code, after at most MAX_PROMPTS - 1 text messages asked for with the keyword. */
static int prompt_code(struct pam_ctx *ctx, const char *login, char **ret_answer) {
        char prompt[256], *answer = NULL;
        const char *keyword = ctx->cfg.sms_keyword ?: EHR_SMS_KEYWORD_DEFAULT;
        first_prompt(ctx, prompt, sizeof prompt);
        for (unsigned n = 0;; n++) {
                int r = pam_ask(ctx, PAM_PROMPT_ECHO_OFF, prompt, &answer);
                if (r < 0) {
                        audit(ctx, login, "second factor failed", "conversation failed or cancelled");
                        pam_syslog(ctx->pamh, LOG_NOTICE, "conversation failed; user=%s rhost=%s service=%s", login,
                                   ctx->rhost, ctx->service);
                        return r;
                }
                if (strcasecmp(answer, keyword) != 0 || n + 1 >= MAX_PROMPTS)
                        break;
                pam_free_answer(answer);
                answer = NULL;
                request_sms(ctx, login, prompt, sizeof prompt);
        }
        *ret_answer = answer;
        return 0;
}

/* Step 5-6: what the verdict on the answer means for the user and the log. */
static int tell_verdict(struct pam_ctx *ctx, const char *login, int r, const struct ehr_verdict *v) {
        static const char *const factors[] = {
                [EHR_FACTOR_NONE] = "none", [EHR_FACTOR_TOTP] = "totp",
                [EHR_FACTOR_RECOVERY] = "recovery", [EHR_FACTOR_SMS] = "sms",
        };
        const char *factor = factors[v->factor];
        switch (r) {
        case 0:
                pam_syslog(ctx->pamh, LOG_INFO, "second factor accepted; user=%s rhost=%s service=%s factor=%s",
                           login, ctx->rhost, ctx->service, factor);
                if (v->factor == EHR_FACTOR_RECOVERY)
                        pam_info(ctx->pamh,
                                 "Recovery code accepted. %u left; make new ones with the help desk if you are running out.",
                                 v->recovery_left);
                return 0;
        case -EAGAIN:
                tell_locked(ctx, v->locked_until_sec);
                return r;
        case -EBADRQC:
        case -EALREADY:
        case -EBADMSG:
        case -ENOENT:
                pam_syslog(ctx->pamh, r == -EBADMSG ? LOG_ERR : LOG_NOTICE,
                           "authentication failure (%s); user=%s rhost=%s service=%s factor=%s failures=%llu",
                           r == -EALREADY ? "code replayed"
                           : r == -EBADMSG ? "sealed seed does not open: store tampered with?"
                                           : "wrong code",
                           login, ctx->rhost, ctx->service, factor, (unsigned long long) v->failures);
                if (v->locked_until_sec != 0) {
                        pam_syslog(ctx->pamh, LOG_NOTICE, "account locked; user=%s failures=%llu", login,
                                   (unsigned long long) v->failures);
                        tell_locked(ctx, v->locked_until_sec);
                } else
                        pam_error(ctx->pamh, "%s", MSG_FAILED);
                return r == -ENOENT ? -EBADRQC : r;
        case -EROFS:
                pam_syslog(ctx->pamh, LOG_ERR, "store cannot record the code's use; refusing it; user=%s", login);
                pam_error(ctx->pamh, "The code cannot be recorded (store read-only or full); contact the help desk.");
                return r;
        default:
                return store_failed(ctx, login, r);
        }
}

/* Is the answer the password that a module before us took (PAM_AUTHTOK)? sshd's
 * password method, and any conversation that answers every hidden prompt with
 * the password, hands it to us as the code. Constant-time: it is a secret. */
bool pam_answer_is_password(struct pam_ctx *ctx, const char *answer) {
        const char *tok = pam_item_str(ctx->pamh, PAM_AUTHTOK);
        size_t n = strlen(answer);
        if (!tok || n == 0 || strlen(tok) < n)
                return false;
        /* The answer lost its spaces and tabs in pam_ask(): so does the password here. */
        char *t = strdup(tok);
        if (!t)
                return false;
        size_t m = ehr_strdrop_blanks(t); /* also wipes the tail it frees */
        bool same = m == n && sodium_memcmp(t, answer, n) == 0;
        sodium_memzero(t, m);
        free(t);
        return same;
}

/* An answer that is the password, or cannot be a code, is refused without being
 * checked or counted: otherwise anyone who can make a client answer the prompt
 * with something else (sshd's password method does) locks the account. Nothing
 * is given away: what is not checked says nothing about the code, and every
 * answer that is checked counts (CVE-2015-5600's rule). Returns 0 to go on. */
static int refuse_unchecked(struct pam_ctx *ctx, const char *login, const char *answer) {
        const char *why = isempty(answer)                         ? "the answer is empty"
                          : pam_answer_is_password(ctx, answer)     ? "the answer was the password (sshd's password method?)"
                          : !ehr_policy_answer_well_formed(answer) ? "the answer is not a code"
                                                                    : NULL;
        if (!why)
                return 0;
        char details[128];
        snprintf(details, sizeof details, "%s; not checked, not counted", why);
        audit(ctx, login, "second factor refused", details);
        pam_syslog(ctx->pamh, LOG_NOTICE, "authentication failure (%s; not counted); user=%s rhost=%s service=%s",
                   why, login, ctx->rhost, ctx->service);
        pam_error(ctx->pamh, "%s", MSG_FAILED);
        return -EBADRQC;
}

/* Step 5: verify the answer (counted and audited in core), and say what came of it. */
static int check_answer(struct pam_ctx *ctx, const char *login, const char *answer) {
        struct ehr_verdict v;
        int r = refuse_unchecked(ctx, login, answer);
        if (r < 0)
                return r;
        r = ehr_login_verify(ctx->login, login, answer, &v);
        log_remote_error(ctx, true);
        return tell_verdict(ctx, login, r, &v);
}

/* The login of DESIGN §4, in order. */
int pam_do_authenticate(struct pam_ctx *ctx) {
        struct ehr_login_state st;
        struct device dev = {}; /* empty unless trust is on (offer_trust() checks too) */
        char *answer = NULL;

        /* libpam waits at least this long after any failure, with some randomness. */
        if (ctx->cfg.fail_delay_ms > 0)
                (void) pam_fail_delay(ctx->pamh, (unsigned) ctx->cfg.fail_delay_ms * 1000U);
        /* With trust off, or at a service that never honours it (sudo, su: a step-up),
         * nothing about the device is needed: no machine-id read, no lookup. */
        bool trust = ehr_trust_service_allowed(&ctx->cfg, ctx->service);
        if (trust)
                device_id(ctx, &dev);

        int r = begin(ctx, trust ? &dev.id : NULL, &st); /* 1-3: user, enrollment, lock, trusted device */
        if (r != 0)
                return r;
        r = before_prompt(ctx, &st);
        if (r != PAM_R_PROMPT)
                return r;
        r = prompt_code(ctx, st.login, &answer);          /* 4: the code, or a text message first */
        if (r < 0)
                return r;
        if (pam_break_glass_offered(ctx) && ehr_break_glass_is_keyword(answer)) {
                pam_free_answer(answer);
                return pam_break_glass(ctx, st.login);     /* 4a: emergency access, never counted */
        }
        r = check_answer(ctx, st.login, answer);          /* 5-6: verify; count, audit, lock */
        pam_free_answer(answer);
        if (r == 0)
                offer_trust(ctx, st.login, &dev.id);       /* 6: trust this device */
        return r;
}

int pam_do_acct_mgmt(struct pam_ctx *ctx) {
        struct ehr_login_state st;
        int r = begin(ctx, NULL, &st);
        if (r != 0)
                return r;
        if (st.user_r == -ENOENT)
                return PAM_R_IGNORE; /* not ours: other account modules decide */
        if (st.user_r < 0 || (st.lock_r < 0 && st.lock_r != -EAGAIN)) {
                r = st.user_r < 0 ? st.user_r : st.lock_r;
                pam_syslog(ctx->pamh, LOG_ERR, "cannot read user %s from the store: %s", ctx->user, ehr_strerror(r));
                return r;
        }
        if (st.lock_r == -EAGAIN) {
                audit(ctx, st.login, "account refused", "account locked");
                pam_syslog(ctx->pamh, LOG_NOTICE, "account locked; user=%s rhost=%s service=%s", st.login, ctx->rhost,
                           ctx->service);
                tell_locked(ctx, st.until);
                return -EPERM;
        }
        return 0;
}
