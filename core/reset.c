/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The forgotten-password reset: tokens, rate limits, the mail, and completing it. */

#include <ctype.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "accounts-internal.h"
#include "base32.h"
#include "mail.h"
#include "password.h"
#include "reset.h"
#include "sodium-load.h"

#define RESET_HOUR_SEC 3600U
#define RESET_LINK_TOKEN "{token}"
#define RESET_LINK_MAX 2048U

void ehr_reset_mail_wipe(struct ehr_reset_mail *m, size_t n) {
        sodium_memzero(m, n * sizeof *m);
}

/* The token as typed, into its 32 letters (lower case). Returns 0 or -EINVAL. */
static int token_normalize(const char *typed, char out[EHR_RESET_TOKEN_CHARS + 1]) {
        size_t n = 0;
        for (const char *p = typed ? typed : ""; *p; p++) {
                char c = (char) tolower((unsigned char) *p);
                if (c == '-' || c == ' ' || c == '\t')
                        continue;
                if (n >= EHR_RESET_TOKEN_CHARS || !((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')))
                        return -EINVAL;
                out[n++] = c;
        }
        out[n] = 0;
        return n == EHR_RESET_TOKEN_CHARS ? 0 : -EINVAL;
}

/* Keyed with the store's key, as device tokens are; no user id in it: the token
 * alone finds its row. */
static void token_hash(struct ehr_store *s, const char *norm, uint8_t out[EHR_HASH_BYTES]) {
        ehr_keyed_hash(ehr_store_keys(s), EHR_KEY_TOKEN, "password-reset", 0, (const uint8_t *) norm,
                       EHR_RESET_TOKEN_CHARS, out);
}

/* A fresh token in display form ("abcd-efgh-...") and its hash. */
static int token_new(struct ehr_store *s, char display[EHR_RESET_TOKEN_SIZE], uint8_t hash[EHR_HASH_BYTES]) {
        uint8_t raw[EHR_RESET_TOKEN_BYTES];
        char b32[EHR_BASE32_ENCODED_SIZE(EHR_RESET_TOKEN_BYTES)], norm[EHR_RESET_TOKEN_CHARS + 1];
        randombytes_buf(raw, sizeof raw);
        int r = ehr_base32_encode(raw, sizeof raw, b32, sizeof b32);
        sodium_memzero(raw, sizeof raw);
        if (r < 0)
                return r;
        size_t k = 0;
        for (size_t i = 0; i < EHR_RESET_TOKEN_CHARS; i++) {
                norm[i] = (char) tolower((unsigned char) b32[i]);
                if (i > 0 && i % 4 == 0)
                        display[k++] = '-';
                display[k++] = norm[i];
        }
        display[k] = 0;
        norm[EHR_RESET_TOKEN_CHARS] = 0;
        token_hash(s, norm, hash);
        sodium_memzero(b32, sizeof b32);
        sodium_memzero(norm, sizeof norm);
        return 0;
}

/* Store a new token for u (voiding u's earlier ones) and fill m; in the caller's transaction. */
static int token_issue(struct ehr_op *op, const struct ehr_user *u, struct ehr_reset_mail *m) {
        uint8_t hash[EHR_HASH_BYTES];
        int r = token_new(op->store, m->token, hash);
        if (r < 0)
                return r;
        m->expires_sec = op->now_sec + op->cfg->reset_token_ttl;
        snprintf(m->login, sizeof m->login, "%s", u->login);
        snprintf(m->email, sizeof m->email, "%s", u->email);
        r = ehr_store_reset_token_void(op->store, u->id, op->now_sec);
        if (r >= 0)
                r = ehr_store_reset_token_put(op->store, u->id, hash, op->now_sec, m->expires_sec);
        sodium_memzero(hash, sizeof hash);
        return r;
}

/* One request counted under "what" (an address or a source), hashed: the
 * table never holds an address. */
static int rate_add(struct ehr_op *op, const char *what, uint64_t max) {
        uint8_t key[EHR_HASH_BYTES];
        ehr_keyed_hash(ehr_store_keys(op->store), EHR_KEY_TOKEN, "reset-rate", 0, (const uint8_t *) what, strlen(what),
                       key);
        uint64_t since = op->now_sec > RESET_HOUR_SEC ? op->now_sec - RESET_HOUR_SEC : 0;
        return ehr_store_reset_request_add(op->store, key, op->now_sec, since, max);
}

static int rate_limits(struct ehr_op *op, const char *email, uid_t uid, const char *host) {
        char addr[EHR_FIELD_EMAIL_MAX + 8], src[EHR_FIELD_TEXT_MAX + 32], hsrc[EHR_FIELD_TEXT_MAX + 8];
        size_t n = (size_t) snprintf(addr, sizeof addr, "addr:%s", email);
        for (size_t i = 0; i < n && i < sizeof addr; i++)
                addr[i] = (char) tolower((unsigned char) addr[i]);
        snprintf(src, sizeof src, "uid:%u@%s", (unsigned) uid, host);
        snprintf(hsrc, sizeof hsrc, "host:%s", host);
        int r = rate_add(op, addr, op->cfg->reset_max_per_hour);
        if (r >= 0)
                r = rate_add(op, src, op->cfg->reset_source_max_per_hour);
        if (r >= 0)
                r = rate_add(op, hsrc, op->cfg->reset_source_max_per_hour);
        return r;
}

struct find {
        const char *email;
        char login[EHR_RESET_MAILS_MAX][EHR_LOGIN_MAX + 1];
        size_t n;
};

/* Every user is looked at, whether or not one matches: the same work for any address. */
static int find_one(const struct ehr_user *u, void *userdata) {
        struct find *f = userdata;
        if (u->uid < 0 || isempty(u->email) || strcasecmp(u->email, f->email) != 0 || f->n >= EHR_RESET_MAILS_MAX)
                return 0;
        snprintf(f->login[f->n++], sizeof f->login[0], "%s", u->login);
        return 0;
}

/* The address as the audit row may show it: a mailable one, else a placeholder. */
static const char *audit_address(const char *email) {
        return ehr_mail_address_valid(email) ? email : "(not an address that can be mailed)";
}

int ehr_reset_request(struct ehr_op *op, const char *email, uid_t uid, const char *host,
                      struct ehr_reset_mail ret[EHR_RESET_MAILS_MAX], size_t *ret_n) {
        struct find f = { .email = email ? email : "" };
        char details[EHR_FIELD_EMAIL_MAX + 96];
        size_t n = 0;
        int r;

        *ret_n = 0;
        if (isempty(op->cfg->mail_url))
                return -EOPNOTSUPP;
        r = ehr_store_begin(op->store);
        if (r >= 0)
                r = rate_limits(op, f.email, uid, host ? host : "");
        if (r == -ETOOMANYREFS) {
                ehr_store_rollback(op->store);
                snprintf(details, sizeof details, "rate limited: too many requests for %s or from uid %u on this host",
                         audit_address(f.email), (unsigned) uid);
                r = ehr_store_begin(op->store);
                if (r >= 0)
                        r = account_audit(op, "", "password reset refused", details);
                r = account_end(op, r, false);
                return r < 0 ? r : -ETOOMANYREFS;
        }
        if (r >= 0)
                r = ehr_store_user_foreach(op->store, find_one, &f);
        for (size_t i = 0; r >= 0 && i < f.n; i++) {
                _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
                r = ehr_store_user_get(op->store, f.login[i], &u);
                if (r < 0 || !ehr_mail_address_valid(u->email))
                        continue;
                r = token_issue(op, u, &ret[n]);
                if (r >= 0)
                        r = account_audit(op, u->login, "password reset requested",
                                          "a token mailed to the address on file");
                n += r >= 0;
        }
        if (r >= 0 && n == 0) {
                snprintf(details, sizeof details, "no managed account has the address %s", audit_address(f.email));
                r = account_audit(op, "", "password reset requested", details);
        }
        r = account_end(op, r, false);
        if (r < 0) {
                ehr_reset_mail_wipe(ret, EHR_RESET_MAILS_MAX);
                return r;
        }
        *ret_n = n;
        return 0;
}

int ehr_reset_issue(struct ehr_op *op, const struct ehr_user *u, struct ehr_reset_mail *ret) {
        if (isempty(op->cfg->mail_url))
                return -EOPNOTSUPP;
        if (u->uid < 0)
                return account_fail(op, EHR_FIELD_LOGIN, -EOPNOTSUPP);
        if (isempty(u->email) || !ehr_mail_address_valid(u->email))
                return account_fail(op, EHR_FIELD_EMAIL, -ENOENT);
        int r = ehr_store_begin(op->store);
        if (r >= 0)
                r = token_issue(op, u, ret);
        if (r >= 0)
                r = account_audit(op, u->login, "password reset requested", "by an account manager: a token mailed "
                                                                            "to the address on file");
        r = account_end(op, r, false);
        if (r < 0)
                ehr_reset_mail_wipe(ret, 1);
        return r;
}

/* The message, after the seed's: why it came, what to do, the code, the login. */
static int mail_body(const struct ehr_config *c, const struct ehr_reset_mail *m, const char *by, char *buf,
                     size_t len) {
        const char *site = c->issuer ?: "ehr2fa";
        char when[64], link[RESET_LINK_MAX] = "";
        time_t t = (time_t) m->expires_sec;
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
        if (!isempty(c->reset_link)) {
                const char *at = strstr(c->reset_link, RESET_LINK_TOKEN);
                snprintf(link, sizeof link, "Or go to the following page and choose a new password:\n\n    %.*s%s%s\n\n",
                         (int) (at - c->reset_link), c->reset_link, m->token, at + strlen(RESET_LINK_TOKEN));
        }
        char who[EHR_LOGIN_MAX + 96] = "";
        if (by)
                snprintf(who, sizeof who, " An account manager (%s) had it sent to you; only you can choose the "
                                          "new password.", by);
        int n = snprintf(buf, len,
                         "You're receiving this email because a password reset was requested for your user account "
                         "at %s.%s\n\n"
                         "Please run this command and choose a new password:\n\n"
                         "    ehr2fa-admin password reset\n\n"
                         "and give it this reset code when it asks:\n\n"
                         "    %s\n\n"
                         "%s"
                         "The code works once and expires at %s.\n\n"
                         "Your username, in case you've forgotten: %s\n\n"
                         "If you did not ask for this, ignore this message: your password has not changed.\n\n"
                         "Thanks for using our site!\n\nThe %s team\n",
                         site, who, m->token, link, when, m->login, site);
        return n < 0 || (size_t) n >= len ? -EINVAL : 0;
}

int ehr_reset_mail_send(struct ehr_op *op, const struct ehr_reset_mail *m, const char *by, long *ret_smtp_status) {
        char body[4096], subject[EHR_MAIL_SUBJECT_MAX], details[256];
        const char *to[] = { m->email };
        long status = 0;
        int r = mail_body(op->cfg, m, by, body, sizeof body);
        snprintf(subject, sizeof subject, "Password reset on %s", op->cfg->issuer ?: "ehr2fa");
        if (r >= 0)
                r = ehr_mail_send_config(op->cfg, to, 1, subject, body, op->now_sec, &status);
        sodium_memzero(body, sizeof body);
        if (ret_smtp_status)
                *ret_smtp_status = status;
        if (r >= 0)
                snprintf(details, sizeof details, "to the address on file%s", by ? ", at an account manager's request" : "");
        else
                snprintf(details, sizeof details, "mail server: %s (SMTP status %ld)", ehr_strerror(r), status);
        int a = ehr_store_begin(op->store);
        if (a >= 0)
                a = account_audit(op, m->login, r >= 0 ? "password reset mail sent" : "password reset mail failed",
                                  details);
        a = account_end(op, a, false);
        return r < 0 ? r : a;
}

struct by_id {
        int64_t id;
        char login[EHR_LOGIN_MAX + 1];
};

static int by_id_one(const struct ehr_user *u, void *userdata) {
        struct by_id *b = userdata;
        if (u->id == b->id)
                snprintf(b->login, sizeof b->login, "%s", u->login);
        return 0;
}

/* The user whose token hashes to hash: 0 and the user, -ENOENT, -ETIME (expired). */
static int token_owner(struct ehr_op *op, const uint8_t hash[EHR_HASH_BYTES], struct ehr_user **ret_user,
                       uint64_t *ret_expires_sec) {
        struct by_id b = {};
        uint64_t expires = 0;
        int r = ehr_store_reset_token_find(op->store, hash, &b.id, &expires);
        if (r >= 0)
                r = ehr_store_user_foreach(op->store, by_id_one, &b);
        if (r >= 0)
                r = b.login[0] ? ehr_store_user_get(op->store, b.login, ret_user) : -ENOENT;
        *ret_expires_sec = expires;
        if (r >= 0 && expires <= op->now_sec) {
                *ret_user = ehr_user_free(*ret_user);
                return -ETIME;
        }
        return r;
}

/* Audit a refused token: the account when it is known. */
static int refused(struct ehr_op *op, const char *login, int r) {
        const char *why = r == -ETIME ? "an expired reset code" : r == -EINVAL ? "not a reset code"
                                                                                : "an unknown or already used reset code";
        int a = ehr_store_begin(op->store);
        if (a >= 0)
                a = account_audit(op, login ? login : "", "password reset refused", why);
        a = account_end(op, a, false);
        return a < 0 ? a : r;
}

int ehr_reset_token_check(struct ehr_op *op, const char *typed, struct ehr_user **ret_user, uint64_t *ret_expires_sec) {
        char norm[EHR_RESET_TOKEN_CHARS + 1];
        uint8_t hash[EHR_HASH_BYTES];
        int r = token_normalize(typed, norm);
        if (r < 0)
                return refused(op, NULL, r);
        token_hash(op->store, norm, hash);
        sodium_memzero(norm, sizeof norm);
        r = token_owner(op, hash, ret_user, ret_expires_sec);
        return r == -ENOENT || r == -ETIME ? refused(op, NULL, r) : r;
}

/* Take the token and void the rest: one transaction. */
static int token_take(struct ehr_op *op, const struct ehr_user *u, const uint8_t hash[EHR_HASH_BYTES]) {
        int64_t id = 0;
        uint64_t expires = 0;
        char details[128];
        int r = ehr_store_begin(op->store);
        if (r >= 0)
                r = ehr_store_reset_token_take(op->store, hash, &id, &expires);
        if (r >= 0 && id != u->id)
                r = -ENOENT;
        if (r == -ENOENT || (r >= 0 && expires <= op->now_sec)) {
                /* Used meanwhile by another reset, or expired: an expired one is gone now too. */
                int e = r == -ENOENT ? r : -ETIME;
                r = account_end(op, 0, false);
                return r < 0 ? r : refused(op, u->login, e);
        }
        int devices = r >= 0 ? ehr_store_device_del(op->store, u->id, 0) : r;
        r = devices < 0 ? devices : ehr_store_reset_token_void(op->store, u->id, op->now_sec);
        snprintf(details, sizeof details, "every other reset code and %d trusted device(s) voided", devices);
        if (r >= 0)
                r = account_audit(op, u->login, "password reset code used", details);
        return account_end(op, r, false);
}

int ehr_reset_complete(struct ehr_op *op, const char *typed, const char *password, char *ret_login,
                       char *reterr_msg, size_t msglen) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        char norm[EHR_RESET_TOKEN_CHARS + 1];
        uint8_t hash[EHR_HASH_BYTES];
        uint64_t expires = 0;

        snprintf(reterr_msg, msglen, "%s", "");
        int r = token_normalize(typed, norm);
        if (r < 0)
                return refused(op, NULL, r);
        token_hash(op->store, norm, hash);
        sodium_memzero(norm, sizeof norm);
        r = token_owner(op, hash, &u, &expires);
        if (r == -ENOENT || r == -ETIME)
                return refused(op, NULL, r);
        if (r < 0)
                return r;
        snprintf(ret_login, EHR_LOGIN_MAX + 1, "%s", u->login);
        if (u->uid < 0) {
                snprintf(reterr_msg, msglen, "%s is not a managed account: its password is the host's.", u->login);
                return account_fail(op, EHR_FIELD_LOGIN, -EOPNOTSUPP);
        }
        /* The policy first: a refused password keeps the token for another try. */
        r = ehr_password_policy_check(op->cfg, u->login, password, reterr_msg, msglen);
        if (r < 0)
                return -EINVAL; /* a rule, or a list that cannot be read (the message names it): refused */
        r = token_take(op, u, hash);
        sodium_memzero(hash, sizeof hash);
        if (r < 0)
                return r;
        op->committed = false;
        r = ehr_account_password_set(op, u, password, EHR_PASSWORD_BY_RESET, reterr_msg, msglen);
        if (r < 0 && !op->committed)
                op->committed = true; /* the token is used all the same: say so */
        return r;
}
