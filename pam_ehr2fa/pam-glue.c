/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include "sodium-load.h"
#include <stdio.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "audit.h"
#include "authd.h"
#include "helpdesk.h"
#include "pam-glue.h"
#include "policy.h"
#include "smstoken.h"
#include "trust.h"
#include "util.h"
#include "wire.h"

/* Positive: "not ours to decide" (PAM_IGNORE). Only under nullok or fail_mode = safe. */
#define PAM_R_IGNORE 1
/* The conversation failed or was cancelled: a failure, never a skip. */
#define PAM_R_CONV (-ECONNABORTED)

#define PROMPT "Verification code: "
#define MSG_UNAVAILABLE "Two-factor authentication is unavailable; contact the help desk."
#define MSG_FAILED "Verification failed."

int pam_status_from_errno(int r) {
        switch (r) {
        case 0:
                return PAM_SUCCESS;
        case PAM_R_IGNORE:
                return PAM_IGNORE;
        case -EACCES:
        case -EALREADY:
        case -EAGAIN:
        case -EBADMSG:
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

static const char *item_str(pam_handle_t *pamh, int item) {
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
        if (r < 0) {
                /* A broken config never lets a login through, whatever fail_mode it meant to set. */
                pam_syslog(pamh, LOG_ERR, "configuration error: %s", err);
                pam_error(pamh, "%s", MSG_UNAVAILABLE);
                return r;
        }
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                if (strncmp(a, "conf=", 5) == 0)
                        continue;
                if (streq(a, "nullok") || streq(a, "debug")) {
                        r = ehr_config_set(&ctx->cfg, a, "yes");
                } else if (streq(a, "unlock")) {
                        ctx->unlock = true;
                        continue;
                } else if (strncmp(a, "helper=", 7) == 0 && a[7] == '/') {
                        ctx->helper = a + 7;
                        continue;
                } else {
                        const char *eq = strchr(a, '=');
                        char key[64];
                        if (!eq || (size_t) (eq - a) >= sizeof key) {
                                pam_syslog(pamh, LOG_ERR, "unknown option '%s', ignoring", a);
                                continue;
                        }
                        memcpy(key, a, (size_t) (eq - a));
                        key[eq - a] = 0;
                        r = ehr_config_set(&ctx->cfg, key, eq + 1);
                }
                if (r == -ENOENT)
                        pam_syslog(pamh, LOG_ERR, "unknown option '%s', ignoring", a);
                else if (r < 0) {
                        pam_syslog(pamh, LOG_ERR, "bad value in option '%s'", a);
                        pam_error(pamh, "%s", MSG_UNAVAILABLE);
                        return -EINVAL;
                }
        }

        r = pam_get_user(pamh, &ctx->user, NULL);
        if (r != PAM_SUCCESS || isempty(ctx->user)) {
                pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name");
                return r == PAM_CONV_AGAIN ? PAM_R_CONV : -EACCES;
        }

        ctx->service = item_str(pamh, PAM_SERVICE) ?: "?";
        ctx->rhost = item_str(pamh, PAM_RHOST) ?: "";
        char service[64], rhost[100], tty[64];
        snprintf(service, sizeof service, "%s", ctx->service);
        snprintf(rhost, sizeof rhost, "%s", ctx->rhost);
        snprintf(tty, sizeof tty, "%s", item_str(pamh, PAM_TTY) ?: "");
        clean(service);
        clean(rhost);
        clean(tty);
        snprintf(ctx->source, sizeof ctx->source, "service=%s rhost=%s tty=%s", service, rhost, tty);
        return 0;
}

static void remote_disconnect(struct pam_ctx *ctx) {
        if (ctx->connected)
                close(ctx->remote_fd);
        ctx->connected = false;
}

void pam_ctx_done(struct pam_ctx *ctx) {
        remote_disconnect(ctx);
        ctx->store = ehr_store_free(ctx->store);
        ehr_config_done(&ctx->cfg);
}

/* Open the store, or apply the fail mode. Returns 0, PAM_R_IGNORE (safe mode) or a negative errno. */
static int open_store(struct pam_ctx *ctx) {
        char err[EHR_CONFIG_ERR_MAX];
        int r = ehr_store_open(ctx->cfg.store_dir ?: EHR_STORE_DEFAULT_DIR, 0, ctx->cfg.store_timeout_ms, &ctx->store,
                               err, sizeof err);
        if (r >= 0)
                return 0;
        if (ctx->cfg.fail_mode == EHR_FAIL_SAFE && r != -EACCES && r != -EPERM && r != -EBADMSG) {
                /* Only a store that is down or busy falls under safe mode; a store with
                 * wrong permissions or a bad key is an attack or a mistake, and denies. */
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

/* ehr2fad: when it runs, the store operations of a login go to it, one request per
 * operation, with this module's whole effective config; else they run here. */

static struct ehr_wire *remote_request(struct pam_ctx *ctx, const char *op, const char *user) {
        struct ehr_wire *w = ehr_wire_new();
        if (!w)
                return NULL;
        if (ehr_wire_addu(w, "v", EHR_WIRE_VERSION) < 0 || ehr_wire_add(w, "op", op) < 0 ||
            ehr_wire_add(w, "user", user) < 0 || ehr_wire_addu(w, "now", ctx->now_sec) < 0 ||
            ehr_wire_add(w, "source", ctx->source) < 0 || ehr_wire_add_config(w, &ctx->cfg) < 0) {
                ehr_wire_free(w);
                return NULL;
        }
        return w;
}

static int remote_add_device(struct ehr_wire *w, const struct ehr_device_id *d) {
        int r = 0;
        if (d->rhost && r >= 0)
                r = ehr_wire_add(w, "dev.rhost", d->rhost);
        if (d->pubkey && r >= 0)
                r = ehr_wire_add(w, "dev.pubkey", d->pubkey);
        if (d->host_id && r >= 0)
                r = ehr_wire_add(w, "dev.host", d->host_id);
        if (d->tty && r >= 0)
                r = ehr_wire_add(w, "dev.tty", d->tty);
        return r;
}

/* Returns 0 with the daemon's "r" in *ret_r, or the negative errno of the call itself.
 * A login's requests share one connection: a connection costs the login and the
 * daemon more than a request does. */
static int remote_send(struct pam_ctx *ctx, const char *path, const struct ehr_wire *req, struct ehr_wire *reply,
                       int *ret_r) {
        int64_t v, r = -ENOTCONN;
        if (ctx->connected) {
                r = ehr_wire_exchange(ctx->remote_fd, ctx->cfg.store_timeout_ms, req, reply);
                /* ehr2fad closes a connection that has been quiet for minutes (a long
                 * prompt), or the least recently used one when it needs the room: then
                 * it never read this request, which goes again on a new connection. */
                if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN || r == -ECONNABORTED)
                        remote_disconnect(ctx);
        }
        if (!ctx->connected) {
                int fd = ehr_wire_connect(path);
                if (fd < 0)
                        return fd;
                ctx->remote_fd = fd;
                ctx->connected = true;
                r = ehr_wire_exchange(fd, ctx->cfg.store_timeout_ms, req, reply);
        }
        if (r < 0) {
                /* A connection that failed a request is not used again. */
                remote_disconnect(ctx);
                return (int) r;
        }
        if (ehr_wire_geti(reply, "r", &v) < 0 || v > 0 || v < -4095)
                return -EBADMSG;
        *ret_r = (int) v;
        return 0;
}

/* Send a request whose reply is just "r" (audit, trust): returns that r, or the
 * call's own error. */
static int remote_call(struct pam_ctx *ctx, const struct ehr_wire *req) {
        _cleanup_(ehr_wire_freep) struct ehr_wire *reply = ehr_wire_new();
        int rr = 0, r = reply ? remote_send(ctx, ctx->remote, req, reply, &rr) : -ENOMEM;
        return r < 0 ? r : rr;
}

/* The daemon is not there: normal on a host without it. Anything else is worth a line. */
static bool remote_absent(int r) {
        return r == -ENOENT || r == -ECONNREFUSED;
}

/* The request never reached the daemon: checking here instead counts nothing twice. */
static bool remote_undelivered(int r) {
        return remote_absent(r) || r == -EAGAIN;
}

static void audit(struct pam_ctx *ctx, const char *user, const char *action, const char *details) {
        /* The name of an unknown user is whatever the client typed: keep it out of the log unless it is a name. */
        if (!ehr_login_valid(user))
                user = "(invalid name)";
        int r;
        if (ctx->remote) {
                _cleanup_(ehr_wire_freep) struct ehr_wire *req = remote_request(ctx, "audit", user);
                if (!req)
                        r = -ENOMEM;
                else if (ehr_wire_add(req, "action", action) < 0 || ehr_wire_add(req, "details", details) < 0)
                        r = -ENOBUFS;
                else
                        r = remote_call(ctx, req);
        } else
                r = ehr_audit_append(ctx->store, ctx->now_sec, user, user, EHR_AUDIT_AUTH, action, details, ctx->source);
        if (r < 0)
                pam_syslog(ctx->pamh, LOG_ERR, "cannot write audit row (%s): %s, ignoring", action, ehr_strerror(r));
}

/* What a login needs to know before it prompts. */
struct begin_state {
        int user_r;     /* 0, -ENOENT (not in the store), or a store error */
        bool enrolled;
        int lock_r;     /* 0, -EAGAIN (locked until `until`), or a store error */
        uint64_t until;
        int trust_r;    /* 0: trusted device; -ENOENT, -EPERM: not; else a store error */
        char login[EHR_LOGIN_MAX + 1];
};

/* Ask ehr2fad. Returns 0 when it answered for our store, else a negative errno
 * (no daemon, another store, no answer): then the caller works in-process. */
static int remote_begin(struct pam_ctx *ctx, const struct ehr_device_id *dev, struct begin_state *st) {
        const char *path = ehr_daemon_socket(&ctx->cfg);
        if (!path)
                return -ENOENT;
        _cleanup_(ehr_wire_freep) struct ehr_wire *req = remote_request(ctx, "begin", ctx->user);
        _cleanup_(ehr_wire_freep) struct ehr_wire *reply = ehr_wire_new();
        if (!req || !reply)
                return -ENOMEM;
        if (dev && (ehr_wire_add(req, "trust", "1") < 0 || remote_add_device(req, dev) < 0))
                return -ENOBUFS;
        int rr, r = remote_send(ctx, path, req, reply, &rr);
        if (r >= 0 && rr != 0 && rr != -ENOENT)
                r = rr; /* not our store (-EXDEV), or its store failed: let the in-process path decide */
        if (r < 0) {
                if (!remote_absent(r) && r != -EXDEV)
                        pam_syslog(ctx->pamh, LOG_WARNING, "ehr2fad at %s: %s; checking in-process", path,
                                   ehr_strerror(r));
                else if (ctx->cfg.debug)
                        pam_syslog(ctx->pamh, LOG_DEBUG, "ehr2fad at %s: %s; checking in-process", path,
                                   ehr_strerror(r));
                return r;
        }
        *st = (struct begin_state) { .user_r = rr, .trust_r = -ENOENT };
        if (rr == 0) {
                const char *login = ehr_wire_get(reply, "login");
                uint64_t enrolled, until;
                int64_t lock_r, trust_r;
                if (!login || !ehr_login_valid(login) || ehr_wire_getu(reply, "enrolled", &enrolled) < 0 ||
                    ehr_wire_getu(reply, "until", &until) < 0 || ehr_wire_geti(reply, "lock_r", &lock_r) < 0 ||
                    ehr_wire_geti(reply, "trust_r", &trust_r) < 0 || lock_r > 0 || lock_r < -4095 || trust_r > 0 ||
                    trust_r < -4095) {
                        pam_syslog(ctx->pamh, LOG_WARNING, "ehr2fad at %s: malformed reply; checking in-process", path);
                        return -EBADMSG;
                }
                snprintf(st->login, sizeof st->login, "%s", login);
                st->enrolled = enrolled != 0;
                st->until = until;
                st->lock_r = (int) lock_r;
                st->trust_r = (int) trust_r;
        }
        ctx->remote = path;
        return 0;
}

/* The same, in this process. Returns 0, or what open_store() returns. */
static int local_begin(struct pam_ctx *ctx, const struct ehr_device_id *dev, struct begin_state *st,
                       struct ehr_user **u) {
        int r = open_store(ctx);
        if (r != 0)
                return r;
        *st = (struct begin_state) { .trust_r = -ENOENT };
        st->user_r = ehr_store_user_get(ctx->store, ctx->user, u);
        if (st->user_r < 0)
                return 0;
        snprintf(st->login, sizeof st->login, "%s", (*u)->login);
        st->enrolled = ehr_user_enrolled(*u);
        st->lock_r = ehr_policy_check_lock(ctx->store, *u, ctx->now_sec, &st->until);
        if (st->enrolled && st->lock_r == 0 && dev)
                st->trust_r = ehr_trust_check(ctx->store, &ctx->cfg, *u, dev, ctx->now_sec, ctx->source);
        return 0;
}

/* dev: also check for a trusted device. */
static int begin(struct pam_ctx *ctx, const struct ehr_device_id *dev, struct begin_state *st, struct ehr_user **u) {
        if (remote_begin(ctx, dev, st) == 0)
                return 0;
        return local_begin(ctx, dev, st, u);
}

/* The store in this process, and the user in it, for what ehr2fad does not do
 * (text messages: they wait on the network, the daemon must not). */
static int need_local(struct pam_ctx *ctx, const char *login, struct ehr_user **u) {
        if (!ctx->store) {
                int r = open_store(ctx);
                if (r != 0)
                        return r == PAM_R_IGNORE ? -EBUSY : r;
        }
        return *u ? 0 : ehr_store_user_get(ctx->store, login, u);
}

static int verify(struct pam_ctx *ctx, struct ehr_user **u, const char *login, const char *answer,
                  struct ehr_verdict *v) {
        *v = (struct ehr_verdict) {};
        if (ctx->remote) {
                _cleanup_(ehr_wire_freep) struct ehr_wire *req = remote_request(ctx, "verify", login);
                _cleanup_(ehr_wire_freep) struct ehr_wire *reply = ehr_wire_new();
                if (!req || !reply || ehr_wire_add(req, "answer", answer) < 0)
                        return -ENOMEM;
                uint64_t factor, until, failures, left;
                int rr, r = remote_send(ctx, ctx->remote, req, reply, &rr);
                if (r >= 0 && (ehr_wire_getu(reply, "factor", &factor) < 0 || factor > EHR_FACTOR_SMS ||
                               ehr_wire_getu(reply, "locked_until", &until) < 0 ||
                               ehr_wire_getu(reply, "failures", &failures) < 0 ||
                               ehr_wire_getu(reply, "recovery_left", &left) < 0 || left > UINT_MAX))
                        r = -EBADMSG;
                if (r >= 0) {
                        *v = (struct ehr_verdict) { .factor = (enum ehr_factor) factor, .locked_until_sec = until,
                                                    .failures = failures, .recovery_left = (unsigned) left };
                        return rr;
                }
                if (!remote_undelivered(r)) {
                        /* It may have counted the answer: never check it a second time. */
                        pam_syslog(ctx->pamh, LOG_ERR, "ehr2fad at %s did not answer the check: %s", ctx->remote,
                                   ehr_strerror(r));
                        return -EBUSY;
                }
                ctx->remote = NULL; /* gone before it saw the answer: check it here */
        }
        int r = need_local(ctx, login, u);
        if (r < 0)
                return r;
        return ehr_policy_verify(ctx->store, &ctx->cfg, *u, answer, ctx->now_sec, ctx->source, v);
}

/* Ask with this prompt. Returns 0 with a malloc'd answer (spaces removed), or PAM_R_CONV. */
static int ask(struct pam_ctx *ctx, int style, const char *prompt, char **ret) {
        char *resp = NULL;
        int r = pam_prompt(ctx->pamh, style, &resp, "%s", prompt);
        if (r != PAM_SUCCESS || !resp) {
                if (resp) {
                        sodium_memzero(resp, strlen(resp));
                        free(resp);
                }
                return PAM_R_CONV;
        }
        /* "123 456" as the app shows it is fine: drop spaces and tabs. */
        char *w = resp;
        for (char *p = resp; *p; p++)
                if (*p != ' ' && *p != '\t')
                        *w++ = *p;
        sodium_memzero(w, strlen(w));
        *w = 0;
        *ret = resp;
        return 0;
}

static void free_answer(char *a) {
        if (a) {
                sodium_memzero(a, strlen(a));
                free(a);
        }
}

static bool sms_enabled(const struct pam_ctx *ctx) {
        return ctx->cfg.sms_mode != EHR_SMS_OFF;
}

/* The same first prompt for everyone, enrolled or not, so it tells nothing. */
static void first_prompt(const struct pam_ctx *ctx, char *buf, size_t len) {
        if (sms_enabled(ctx))
                snprintf(buf, len, "Verification code (or \"%s\" for a text message): ",
                         ctx->cfg.sms_keyword ?: EHR_SMS_KEYWORD_DEFAULT);
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
        int r = ask(ctx, PAM_PROMPT_ECHO_OFF, prompt, &answer);
        free_answer(answer);
        if (ctx->store || ctx->remote)
                audit(ctx, ctx->user, "second factor failed", why);
        pam_syslog(ctx->pamh, LOG_NOTICE, "authentication failure (%s); user=%s rhost=%s service=%s", why, ctx->user,
                   ctx->rhost, ctx->service);
        if (r < 0)
                return r;
        pam_error(ctx->pamh, "%s", MSG_FAILED);
        return -EACCES;
}

/* The device this login comes from, for "trust this device". */
static void device_id(struct pam_ctx *ctx, struct ehr_device_id *d, char *host_id, size_t host_len, char *key,
                      size_t key_len) {
        *d = (struct ehr_device_id) { .rhost = ctx->rhost, .tty = item_str(ctx->pamh, PAM_TTY) };
        if (ehr_trust_host_id(host_id, host_len) >= 0)
                d->host_id = host_id;
        /* sshd with ExposeAuthInfo puts the methods already passed in the PAM
         * environment, one per line: "publickey ssh-ed25519 AAAA...". */
        const char *info = pam_getenv(ctx->pamh, "SSH_AUTH_INFO_0");
        for (const char *l = info; l && *l;) {
                const char *nl = strchr(l, '\n');
                size_t n = nl ? (size_t) (nl - l) : strlen(l);
                if (n > 10 && strncmp(l, "publickey ", 10) == 0 && n - 10 < key_len) {
                        memcpy(key, l + 10, n - 10);
                        key[n - 10] = 0;
                        d->pubkey = key;
                        break;
                }
                l = nl ? nl + 1 : l + n;
        }
}

/* Handle the SMS keyword: send a token, and say in the next prompt what happened
 * (sshd's keyboard-interactive drops info messages, but shows prompts). */
static void request_sms(struct pam_ctx *ctx, const struct ehr_user *u, char *prompt, size_t len) {
        struct ehr_sms_request req;
        char when[64];
        int r = ehr_sms_token_request(ctx->store, &ctx->cfg, u, ctx->now_sec, ctx->source, &req);
        switch (r) {
        case 0:
                pam_syslog(ctx->pamh, LOG_INFO, "SMS token sent; user=%s phone=%s service=%s", u->login, req.masked,
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
        case -EAGAIN:
                ehr_policy_format_until(req.retry_after_sec, ctx->now_sec, when, sizeof when);
                snprintf(prompt, len,
                         "A text message was sent recently; the next is possible at %s. Use your app or a recovery "
                         "code. %s",
                         when, PROMPT);
                return;
        default:
                if (r == -ECOMM)
                        pam_syslog(ctx->pamh, LOG_ERR, "SMS gateway failed (%s, HTTP %ld); user=%s phone=%s",
                                   ehr_strerror(req.send_error), req.http_status, u->login, req.masked);
                else
                        pam_syslog(ctx->pamh, LOG_ERR, "cannot send SMS token: %s; user=%s", ehr_strerror(r), u->login);
                snprintf(prompt, len, "The text message could not be sent; use your app or a recovery code. %s", PROMPT);
        }
}

static void offer_trust(struct pam_ctx *ctx, struct ehr_user **u, const char *login, const struct ehr_device_id *d) {
        char prompt[128], *answer = NULL;
        if (!ehr_trust_allowed(&ctx->cfg))
                return;
        snprintf(prompt, sizeof prompt,
                 "Trust this device for %llu days? (not on shared or public computers) [y/N] ",
                 (unsigned long long) ctx->cfg.trust_days);
        /* A failed conversation here is a "no": the login itself already succeeded. */
        if (ask(ctx, PAM_PROMPT_ECHO_ON, prompt, &answer) < 0)
                return;
        bool yes = strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
        free_answer(answer);
        if (!yes)
                return;
        int r;
        if (ctx->remote) {
                _cleanup_(ehr_wire_freep) struct ehr_wire *req = remote_request(ctx, "trust", login);
                if (!req)
                        r = -ENOMEM;
                else if (remote_add_device(req, d) < 0)
                        r = -ENOBUFS;
                else
                        r = remote_call(ctx, req);
        } else {
                r = need_local(ctx, login, u);
                if (r >= 0)
                        r = ehr_trust_add(ctx->store, &ctx->cfg, *u, d, ctx->now_sec, ctx->source);
        }
        if (r < 0)
                pam_syslog(ctx->pamh, LOG_ERR, "cannot record the trusted device of %s: %s, ignoring", login,
                           ehr_strerror(r));
        else
                pam_syslog(ctx->pamh, LOG_INFO, "device trusted for %llu days; user=%s rhost=%s service=%s",
                           (unsigned long long) ctx->cfg.trust_days, login, ctx->rhost, ctx->service);
}

/* The store went away or stayed busy in the middle of a check. */
static int store_failed(struct pam_ctx *ctx, const char *user, int r) {
        if (ctx->cfg.fail_mode == EHR_FAIL_SAFE && r == -EBUSY) {
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

#define MAX_PROMPTS 3U

int pam_do_authenticate(struct pam_ctx *ctx) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        char prompt[256], host_id[64] = "", key[1024];
        char *answer = NULL;
        struct ehr_device_id dev = {}; /* empty unless trust is on (offer_trust() checks too) */
        struct begin_state st;
        int r;

        /* libpam waits at least this long after any failure, with some randomness. */
        if (ctx->cfg.fail_delay_ms > 0)
                (void) pam_fail_delay(ctx->pamh, (unsigned) ctx->cfg.fail_delay_ms * 1000U);

        /* With trust off nothing about the device is needed: no machine-id read, no lookup. */
        bool trust = ehr_trust_allowed(&ctx->cfg);
        if (trust)
                device_id(ctx, &dev, host_id, sizeof host_id, key, sizeof key);
        r = begin(ctx, trust ? &dev : NULL, &st, &u);
        if (r != 0)
                return r;

        if (st.user_r == -ENOENT || (st.user_r >= 0 && !st.enrolled)) {
                const char *why = st.user_r == -ENOENT ? "user not in the store" : "user not enrolled";
                if (ctx->cfg.nullok) {
                        /* PAM_IGNORE, not PAM_SUCCESS: a "sufficient" line must never turn an
                         * unchecked user into a bypass of the rest of the stack. */
                        audit(ctx, ctx->user, "second factor skipped",
                              st.user_r >= 0 ? "not enrolled; nullok" : "not in the store; nullok");
                        if (ctx->cfg.debug)
                                pam_syslog(ctx->pamh, LOG_DEBUG, "%s, nullok: ignoring; user=%s", why, ctx->user);
                        return PAM_R_IGNORE;
                }
                return refuse_after_prompt(ctx, why);
        }
        if (st.user_r < 0)
                return store_failed(ctx, ctx->user, st.user_r);
        const char *login = st.login;

        if (st.lock_r == -EAGAIN) {
                audit(ctx, login, "second factor refused", "account locked; no code asked");
                pam_syslog(ctx->pamh, LOG_NOTICE, "account locked; user=%s rhost=%s service=%s", login, ctx->rhost,
                           ctx->service);
                tell_locked(ctx, st.until);
                return -EAGAIN;
        }
        if (st.lock_r < 0)
                return store_failed(ctx, login, st.lock_r);

        if (st.trust_r == 0) {
                pam_syslog(ctx->pamh, LOG_INFO, "second factor skipped: trusted device; user=%s rhost=%s service=%s",
                           login, ctx->rhost, ctx->service);
                return 0;
        }
        if (st.trust_r != -ENOENT && st.trust_r != -EPERM)
                return store_failed(ctx, login, st.trust_r);

        first_prompt(ctx, prompt, sizeof prompt);
        const char *keyword = ctx->cfg.sms_keyword ?: EHR_SMS_KEYWORD_DEFAULT;
        for (unsigned n = 0;; n++) {
                r = ask(ctx, PAM_PROMPT_ECHO_OFF, prompt, &answer);
                if (r < 0) {
                        audit(ctx, login, "second factor failed", "conversation failed or cancelled");
                        pam_syslog(ctx->pamh, LOG_NOTICE, "conversation failed; user=%s rhost=%s service=%s", login,
                                   ctx->rhost, ctx->service);
                        return r;
                }
                /* The keyword asks for a text; the number of asks per login is bounded. */
                if (strcasecmp(answer, keyword) != 0 || n + 1 >= MAX_PROMPTS)
                        break;
                free_answer(answer);
                answer = NULL;
                r = need_local(ctx, login, &u);
                if (r < 0) {
                        pam_syslog(ctx->pamh, LOG_ERR, "cannot send SMS token: %s; user=%s", ehr_strerror(r), login);
                        snprintf(prompt, sizeof prompt,
                                 "The text message could not be sent; use your app or a recovery code. %s", PROMPT);
                } else
                        request_sms(ctx, u, prompt, sizeof prompt);
        }

        struct ehr_verdict v;
        r = verify(ctx, &u, login, answer, &v);
        free_answer(answer);

        static const char *const factors[] = {
                [EHR_FACTOR_NONE] = "none", [EHR_FACTOR_TOTP] = "totp",
                [EHR_FACTOR_RECOVERY] = "recovery", [EHR_FACTOR_SMS] = "sms",
        };
        const char *factor = factors[v.factor];
        switch (r) {
        case 0:
                pam_syslog(ctx->pamh, LOG_INFO, "second factor accepted; user=%s rhost=%s service=%s factor=%s",
                           login, ctx->rhost, ctx->service, factor);
                if (v.factor == EHR_FACTOR_RECOVERY)
                        pam_info(ctx->pamh,
                                 "Recovery code accepted. %u left; make new ones with the help desk if you are running out.",
                                 v.recovery_left);
                offer_trust(ctx, &u, login, &dev);
                return 0;
        case -EAGAIN:
                tell_locked(ctx, v.locked_until_sec);
                return r;
        case -EACCES:
        case -EALREADY:
        case -EBADMSG:
        case -ENOENT:
                pam_syslog(ctx->pamh, r == -EBADMSG ? LOG_ERR : LOG_NOTICE,
                           "authentication failure (%s); user=%s rhost=%s service=%s factor=%s failures=%llu",
                           r == -EALREADY ? "code replayed"
                           : r == -EBADMSG ? "sealed seed does not open: store tampered with?"
                                           : "wrong code",
                           login, ctx->rhost, ctx->service, factor, (unsigned long long) v.failures);
                if (v.locked_until_sec != 0) {
                        pam_syslog(ctx->pamh, LOG_NOTICE, "account locked; user=%s failures=%llu", login,
                                   (unsigned long long) v.failures);
                        tell_locked(ctx, v.locked_until_sec);
                } else
                        pam_error(ctx->pamh, "%s", MSG_FAILED);
                return r == -ENOENT ? -EACCES : r;
        case -EROFS:
                pam_syslog(ctx->pamh, LOG_ERR, "store cannot record the code's use; refusing it; user=%s", login);
                pam_error(ctx->pamh, "The code cannot be recorded (store read-only or full); contact the help desk.");
                return r;
        default:
                return store_failed(ctx, login, r);
        }
}

int pam_do_acct_mgmt(struct pam_ctx *ctx) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        struct begin_state st;
        int r = begin(ctx, NULL, &st, &u);
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

int pam_do_chauthtok(struct pam_ctx *ctx) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        char err[EHR_CONFIG_ERR_MAX];
        int r = ehr_store_open(ctx->cfg.store_dir ?: EHR_STORE_DEFAULT_DIR, 0, ctx->cfg.store_timeout_ms, &ctx->store,
                               err, sizeof err);
        if (r < 0) {
                pam_syslog(ctx->pamh, LOG_ERR, "password changed but trusted devices not revoked: %s; user=%s", err,
                           ctx->user);
                return PAM_R_IGNORE;
        }
        r = ehr_store_user_get(ctx->store, ctx->user, &u);
        if (r < 0)
                return PAM_R_IGNORE;
        r = ehr_trust_revoke(ctx->store, u, 0, ctx->now_sec, u->login, "password changed", ctx->source);
        if (r < 0) {
                pam_syslog(ctx->pamh, LOG_ERR, "password changed but trusted devices not revoked: %s; user=%s",
                           ehr_strerror(r), u->login);
                return PAM_R_IGNORE;
        }
        if (r > 0)
                pam_syslog(ctx->pamh, LOG_NOTICE, "password changed: %d trusted device(s) revoked; user=%s", r,
                           u->login);
        return PAM_R_IGNORE;
}

#define UNLOCK_PROMPT "Unlock PIN: "
#define HELPER_TIMEOUT_MS 15000

/* Run ehr2fa-helper (setuid root) with the PIN on a pipe, never in argv, the way
 * pam_unix runs unix_chkpwd. Returns its exit code, or -errno. Never waits past
 * HELPER_TIMEOUT_MS. */
static int run_helper(struct pam_ctx *ctx, const char *pin) {
        const char *helper = ctx->helper ?: EHR2FA_HELPER_PATH;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();

        /* The installed helper reads only /etc/ehr2fa/ehr2fa.conf; its test build also
         * takes the module's conf= (built before fork: no allocation in the child). */
        char conf_env[PATH_MAX + 16] = "";
        if (ctx->conf)
                snprintf(conf_env, sizeof conf_env, "EHR2FA_CONF=%s", ctx->conf);

        /* The host (a screen locker) may have a SIGCHLD handler that reaps our child. */
        struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
        (void) sigaction(SIGCHLD, &dfl, &old);
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                (void) close(fds[0]);
                (void) close(fds[1]);
                (void) sigaction(SIGCHLD, &old, NULL);
                return r;
        }
        if (pid == 0) {
                /* Child: stdin is the pipe, nothing else of the host survives the exec. */
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (dup2(fds[0], 0) < 0 || null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                        _exit(EHR_HELPER_UNAVAILABLE);
                char *const argv[] = { (char *) "ehr2fa-helper", (char *) "unlock", (char *) ctx->user, NULL };
                char *const envp[] = { conf_env[0] ? conf_env : NULL, NULL };
                execve(helper, argv, envp);
                _exit(EHR_HELPER_UNAVAILABLE);
        }
        (void) close(fds[0]);
        size_t n = strlen(pin);
        bool written = write(fds[1], pin, n) == (ssize_t) n && write(fds[1], "\n", 1) == 1;
        (void) close(fds[1]);

        int status = 0, r = -ETIMEDOUT;
        for (int waited = 0; waited < HELPER_TIMEOUT_MS; waited += 10) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid) {
                        r = WIFEXITED(status) ? WEXITSTATUS(status) : -EIO;
                        break;
                }
                if (w < 0 && errno != EINTR) {
                        r = negative_errno();
                        break;
                }
                (void) poll(NULL, 0, 10);
        }
        if (r == -ETIMEDOUT) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
        }
        (void) sigaction(SIGCHLD, &old, NULL);
        return written || r < 0 ? r : -EIO;
}

int pam_do_unlock(struct pam_ctx *ctx) {
        char *pin = NULL;
        int r = ask(ctx, PAM_PROMPT_ECHO_OFF, UNLOCK_PROMPT, &pin);
        if (r < 0)
                return r;

        int code;
        uint64_t until = 0;
        if (geteuid() == 0) {
                /* Root (login, a root screen locker): check in-process. */
                _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
                r = open_store(ctx);
                if (r != 0) {
                        free_answer(pin);
                        return r == PAM_R_IGNORE ? -EACCES : r; /* never fail open on the unlock path */
                }
                r = ehr_store_user_get(ctx->store, ctx->user, &u);
                if (r >= 0)
                        r = ehr_unlock_pin_verify(ctx->store, &ctx->cfg, u, pin, ctx->now_sec, ctx->source, &until);
                code = r == 0         ? EHR_HELPER_OK
                       : r == -EACCES ? EHR_HELPER_WRONG
                       : r == -EAGAIN ? EHR_HELPER_LOCKED
                       : r == -ENOENT ? EHR_HELPER_NO_PIN
                                      : EHR_HELPER_UNAVAILABLE;
        } else
                code = run_helper(ctx, pin);
        free_answer(pin);

        switch (code) {
        case EHR_HELPER_OK:
                pam_syslog(ctx->pamh, LOG_INFO, "screen unlocked with the Unlock PIN; user=%s service=%s", ctx->user,
                           ctx->service);
                return 0;
        case EHR_HELPER_WRONG:
                pam_syslog(ctx->pamh, LOG_NOTICE, "wrong Unlock PIN; user=%s service=%s", ctx->user, ctx->service);
                pam_error(ctx->pamh, "Wrong Unlock PIN.");
                return -EACCES;
        case EHR_HELPER_LOCKED:
                pam_syslog(ctx->pamh, LOG_NOTICE, "Unlock PIN locked; user=%s service=%s", ctx->user, ctx->service);
                pam_error(ctx->pamh, "The Unlock PIN is locked after too many wrong tries; use your password.");
                return -EAGAIN;
        case EHR_HELPER_NO_PIN:
                pam_error(ctx->pamh, "No Unlock PIN is set; use your password.");
                return -EACCES;
        case EHR_HELPER_DENIED:
                pam_syslog(ctx->pamh, LOG_ERR, "ehr2fa-helper refused to check %s's Unlock PIN for uid %u", ctx->user,
                           (unsigned) getuid());
                return -EPERM;
        default:
                pam_syslog(ctx->pamh, LOG_ERR, "cannot check the Unlock PIN of %s: helper %s (%d)", ctx->user,
                           code < 0 ? ehr_strerror(code) : "failed", code);
                pam_error(ctx->pamh, "The Unlock PIN cannot be checked now; use your password.");
                return -EIO;
        }
}
