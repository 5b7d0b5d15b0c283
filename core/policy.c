/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <time.h>

#include "audit.h"
#include "policy.h"
#include "recovery.h"
#include "smstoken.h"
#include "totp.h"

uint64_t ehr_policy_locked_until(const struct ehr_failures *f, uint64_t now_sec) {
        return f->locked_until_sec > now_sec ? f->locked_until_sec : 0;
}

/* An impossible value read from the store (a failure count of -100 set by hand,
 * say) is hostile: nothing is checked or counted, the login is refused, and the
 * refusal is audited in a transaction of its own (the caller's, which read the
 * value, is rolled back first). Returns -EOVERFLOW. */
static int refuse_bad_value(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, const char *source) {
        char details[EHR_STORE_BAD_VALUE_MAX + 64];
        ehr_store_rollback(s);
        snprintf(details, sizeof details, "impossible value in the store: %s; no code checked", ehr_store_bad_value(s));
        (void) ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "second factor refused", details,
                                source);
        return -EOVERFLOW;
}

int ehr_policy_check_lock(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, uint64_t *ret_until) {
        struct ehr_failures f;
        int r = ehr_store_failures_get(s, u->id, &f);
        if (r == -EOVERFLOW)
                return refuse_bad_value(s, u, now_sec, "");
        if (r < 0)
                return r;
        uint64_t until = ehr_policy_locked_until(&f, now_sec);
        if (until == 0)
                return 0;
        *ret_until = until;
        return -EAGAIN;
}

const char *ehr_policy_format_until(uint64_t until_sec, uint64_t now_sec, char *buf, size_t len) {
        if (until_sec == UINT64_MAX) {
                snprintf(buf, len, "an administrator clears it");
                return buf;
        }
        time_t t = (time_t) until_sec, n = (time_t) now_sec;
        struct tm tm, tn;
        if (!localtime_r(&t, &tm) || !localtime_r(&n, &tn)) {
                snprintf(buf, len, "@%llu", (unsigned long long) until_sec);
                return buf;
        }
        bool today = tm.tm_year == tn.tm_year && tm.tm_yday == tn.tm_yday;
        strftime(buf, len, today ? "%H:%M" : "%Y-%m-%d %H:%M", &tm);
        return buf;
}

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

bool ehr_policy_answer_well_formed(const char *answer) {
        size_t n = strlen(answer);
        if (all_digits(answer))
                return n >= EHR_OTP_DIGITS_MIN && n <= EHR_OTP_DIGITS_MAX;
        return ehr_recovery_looks_like(answer);
}

/* Count a failure; returns the lock end if this failure locks the user. */
static uint64_t count_failure(const struct ehr_config *c, struct ehr_failures *f, uint64_t now_sec) {
        /* A lock that has run out, or a quiet fail_interval, starts a new count; the
         * consecutive count goes on until a success, so waiting out locks cannot
         * become unlimited guessing (NIST SP 800-63B caps it at 100). */
        if (f->count == 0 || (f->locked_until_sec != 0 && f->locked_until_sec <= now_sec) ||
            now_sec >= f->first_sec + c->fail_interval) {
                f->count = 0;
                f->first_sec = now_sec;
                f->locked_until_sec = 0;
        }
        f->count++;
        f->consecutive++;
        f->last_sec = now_sec;
        if (f->consecutive >= c->max_failures)
                f->locked_until_sec = UINT64_MAX;
        else if (f->count >= c->deny)
                f->locked_until_sec = c->unlock_time == 0 ? UINT64_MAX : now_sec + c->unlock_time;
        return f->locked_until_sec;
}

static const char *factor_name(enum ehr_factor f) {
        switch (f) {
        case EHR_FACTOR_RECOVERY:
                return "recovery code";
        case EHR_FACTOR_TOTP:
                return "TOTP code";
        case EHR_FACTOR_SMS:
                return "SMS token";
        default:
                return "code";
        }
}

static int check_answer(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u, const char *answer,
                        uint64_t now_sec, struct ehr_verdict *v) {
        if (all_digits(answer)) {
                /* A pending SMS token is tried first; if it is not this, the TOTP code may be. */
                int sms = ehr_sms_token_check(s, c, u, answer, now_sec);
                if (sms == 0) {
                        v->factor = EHR_FACTOR_SMS;
                        return 0;
                }
                if (sms != -ENOENT && sms != -EBADRQC)
                        return sms;
                v->factor = sms == -EBADRQC ? EHR_FACTOR_SMS : EHR_FACTOR_TOTP;

                _cleanup_(ehr_secret_freep) struct ehr_secret *secret = NULL;
                struct ehr_otp_params p;
                uint64_t last_step, step;
                bool have_last;
                int r = ehr_store_totp_get(s, u, &secret, &p, &last_step, &have_last);
                /* Staff whose 2FA a manager set up may have SMS only: no app is just a wrong code. */
                if (r == -ENOENT && ehr_user_enrolled(u))
                        return -EBADRQC;
                if (r < 0)
                        return r;
                r = ehr_totp_verify(secret->data, secret->len, &p, now_sec, (unsigned) c->window, last_step, have_last,
                                    answer, &step);
                if (r < 0)
                        return r;
                v->factor = EHR_FACTOR_TOTP;
                /* The conditional write is the replay check that holds across hosts sharing a store. */
                return ehr_store_totp_use_step(s, u->id, step);
        }
        if (ehr_recovery_looks_like(answer)) {
                uint8_t hash[EHR_HASH_BYTES];
                v->factor = EHR_FACTOR_RECOVERY;
                int r = ehr_recovery_hash(ehr_store_keys(s), u->id, answer, hash);
                if (r >= 0)
                        r = ehr_store_recovery_use(s, u->id, hash, now_sec);
                sodium_memzero(hash, sizeof hash);
                if (r >= 0 && v->recovery_left > 0)
                        v->recovery_left--;
                return r;
        }
        return -EBADRQC;
}

/* Why a code that failed did not count as a success, for the audit row. */
static const char *failure_reason(int check, const char *answer) {
        return check == -EALREADY  ? "replayed (already used)"
               : check == -EBADMSG ? "not checked: sealed seed does not open for this user"
               : check == -ENOENT  ? "not checked: not enrolled"
               : *answer == 0      ? "empty"
                                   : "wrong";
}

/* A locked account: nothing checked, the refusal audited. Returns 0 or -errno (the
 * transaction is left for the caller to end). */
static int record_locked(struct ehr_store *s, const struct ehr_user *u, const struct ehr_failures *f, uint64_t now_sec,
                         const char *source, struct ehr_verdict *v) {
        v->failures = f->count;
        int r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "second factor refused",
                                 "account locked; no code checked", source);
        if (r >= 0)
                r = ehr_store_commit(s);
        return r;
}

/* An accepted code: the failures cleared, the success audited, committed. */
static int record_success(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, const char *source,
                          const struct ehr_verdict *v) {
        char details[160];
        int r = ehr_store_failures_clear(s, u->id);
        if (r < 0)
                return r;
        if (v->factor == EHR_FACTOR_RECOVERY)
                snprintf(details, sizeof details, "recovery code used; %u left", v->recovery_left);
        else
                snprintf(details, sizeof details, "%s accepted", factor_name(v->factor));
        r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "second factor accepted", details,
                             source);
        if (r >= 0)
                r = ehr_store_commit(s);
        return r;
}

/* A failed code (check: -EBADRQC, -EALREADY, -EBADMSG or -ENOENT): counted, audited,
 * and the lock it may cause audited too, committed. */
static int record_failure(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u,
                          struct ehr_failures *f, int check, const char *answer, uint64_t now_sec, const char *source,
                          struct ehr_verdict *v) {
        char details[160];
        uint64_t locked = count_failure(c, f, now_sec);
        v->failures = f->count;
        int r = ehr_store_failures_put(s, u->id, f);
        if (r < 0)
                return r;
        snprintf(details, sizeof details, "%s %s; failure %llu of %llu", factor_name(v->factor),
                 failure_reason(check, answer), (unsigned long long) f->count, (unsigned long long) c->deny);
        r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "second factor failed", details, source);
        if (r >= 0 && locked != 0) {
                char until[64];
                snprintf(details, sizeof details, "locked until %s after %llu failures (%llu consecutive)",
                         ehr_policy_format_until(locked, now_sec, until, sizeof until), (unsigned long long) f->count,
                         (unsigned long long) f->consecutive);
                r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_LOCKOUT, "account locked", details,
                                     source);
                v->locked_until_sec = locked;
        }
        if (r >= 0)
                r = ehr_store_commit(s);
        return r;
}

/* A seed not stored yet (enrollment at login): its code, and the step it was for. */
struct new_seed {
        const struct ehr_secret *seed;
        const struct ehr_otp_params *p;
        uint64_t step;
};

static int check_new_seed(const struct ehr_config *c, struct new_seed *ns, const char *answer, uint64_t now_sec) {
        if (!all_digits(answer))
                return -EBADRQC;
        return ehr_totp_verify(ns->seed->data, ns->seed->len, ns->p, now_sec, (unsigned) c->window, 0, false, answer,
                               &ns->step);
}

/* ehr_policy_verify(), or with ns the check of a seed not stored yet. */
static int verify(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u, const char *answer,
                  uint64_t now_sec, const char *source, struct ehr_verdict *v, struct new_seed *ns) {
        *v = (struct ehr_verdict) { .factor = ns ? EHR_FACTOR_TOTP : EHR_FACTOR_NONE,
                                    .recovery_left = u->recovery_left };
        struct ehr_failures f;

        int r = ehr_store_begin(s);
        if (r < 0)
                return r;
        r = ehr_store_failures_get(s, u->id, &f);
        if (r < 0)
                goto fail;

        v->locked_until_sec = ehr_policy_locked_until(&f, now_sec);
        if (v->locked_until_sec != 0) {
                r = record_locked(s, u, &f, now_sec, source, v);
                if (r < 0)
                        goto fail;
                return -EAGAIN;
        }

        int check = ns ? check_new_seed(c, ns, answer, now_sec) : check_answer(s, c, u, answer, now_sec, v);
        if (check == 0 && ns) {
                /* Nothing is written yet: the caller stores the seed, then the step. */
                ehr_store_rollback(s);
                return 0;
        }
        if (check == 0) {
                r = record_success(s, u, now_sec, source, v);
                if (r < 0)
                        goto fail;
                /* The code's use must outlive a power cut, or it could be replayed after one. */
                return ehr_store_sync(s) < 0 ? -EROFS : 0;
        }
        if (check != -EBADRQC && check != -EALREADY && check != -EBADMSG && check != -ENOENT) {
                /* A store fault is not the user's failure: count nothing, change nothing. */
                r = check;
                goto fail;
        }
        r = record_failure(s, c, u, &f, check, answer, now_sec, source, v);
        if (r < 0)
                goto fail;
        return check;

fail:
        if (r == -EOVERFLOW)
                return refuse_bad_value(s, u, now_sec, source);
        ehr_store_rollback(s);
        return r;
}

int ehr_policy_verify(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u, const char *answer,
                      uint64_t now_sec, const char *source, struct ehr_verdict *v) {
        return verify(s, c, u, answer, now_sec, source, v, NULL);
}

int ehr_policy_verify_new_seed(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u,
                               const struct ehr_secret *seed, const struct ehr_otp_params *p, const char *answer,
                               uint64_t now_sec, const char *source, struct ehr_verdict *v, uint64_t *ret_step) {
        struct new_seed ns = { .seed = seed, .p = p };
        int r = verify(s, c, u, answer, now_sec, source, v, &ns);
        if (r == 0)
                *ret_step = ns.step;
        return r;
}
