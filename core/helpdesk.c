/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "sodium-load.h"
#include <stdio.h>

#include "audit.h"
#include "helpdesk.h"

#define EHR_AUDIT_ACCOUNT "account"

bool ehr_pin_valid(const char *pin) {
        if (!pin || strlen(pin) != EHR_PIN_DIGITS)
                return false;
        for (const char *p = pin; *p; p++)
                if (*p < '0' || *p > '9')
                        return false;
        return true;
}

static void unlock_hash(const struct ehr_store *s, int64_t user_id, const char *pin, uint8_t out[EHR_HASH_BYTES]) {
        ehr_keyed_hash(ehr_store_keys(s), EHR_KEY_TOKEN, "unlock-pin", user_id, (const uint8_t *) pin, strlen(pin), out);
}

/* True when pin is the user's Unlock PIN. */
static int equals_unlock_pin(struct ehr_store *s, const struct ehr_user *u, const char *pin) {
        uint8_t have[EHR_HASH_BYTES], want[EHR_HASH_BYTES];
        struct ehr_pin_state st;
        int r = ehr_store_unlock_pin_get(s, u->id, have, &st);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        unlock_hash(s, u->id, pin, want);
        r = sodium_memcmp(have, want, EHR_HASH_BYTES) == 0;
        sodium_memzero(want, sizeof want);
        return r;
}

static int end(struct ehr_store *s, bool own, int r) {
        return own ? ehr_store_end(s, r) : r;
}

static int begin(struct ehr_store *s, bool *own) {
        *own = !ehr_store_in_transaction(s);
        return *own ? ehr_store_begin(s) : 0;
}

/* A fresh PIN, never the Unlock PIN (the seed keeps the two distinct). */
static int fresh_pin(struct ehr_store *s, const struct ehr_user *u, char pin[EHR_PIN_DIGITS + 1]) {
        for (;;) {
                snprintf(pin, EHR_PIN_DIGITS + 1, "%04u", (unsigned) randombytes_uniform(10000));
                int r = equals_unlock_pin(s, u, pin);
                if (r <= 0)
                        return r;
        }
}

int ehr_support_pin_new(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, const char *actor,
                        const char *source, char ret_pin[EHR_PIN_DIGITS + 1]) {
        char pin[EHR_PIN_DIGITS + 1];
        bool own;
        int r = begin(s, &own);
        if (r < 0)
                return r;
        r = fresh_pin(s, u, pin);
        if (r >= 0)
                r = ehr_store_support_pin_put(s, u, pin, now_sec);
        if (r >= 0)
                r = ehr_audit_append(s, now_sec, u->login, actor, EHR_AUDIT_ACCOUNT, "Update", "Generated New PIN for user",
                                     source);
        r = end(s, own, r);
        if (r >= 0 && ret_pin)
                memcpy(ret_pin, pin, sizeof pin);
        sodium_memzero(pin, sizeof pin);
        return r;
}

int ehr_support_pin_view(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, const char *source,
                         char ret_pin[EHR_PIN_DIGITS + 1]) {
        struct ehr_pin_state st;
        bool own;
        int r = begin(s, &own);
        if (r < 0)
                return r;
        r = ehr_store_support_pin_get(s, u, ret_pin, &st);
        if (r == -ENOENT)
                r = ehr_support_pin_new(s, u, now_sec, u->login, source, ret_pin);
        if (r >= 0)
                r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_ACCOUNT, "Not specified",
                                     "Support PIN viewed for user", source);
        r = end(s, own, r);
        if (r < 0)
                sodium_memzero(ret_pin, EHR_PIN_DIGITS + 1);
        return r;
}

int ehr_support_pin_validate(struct ehr_store *s, const struct ehr_user *u, const char *pin, uint64_t now_sec,
                             const char *actor, const char *source) {
        char have[EHR_PIN_DIGITS + 1], details[160];
        struct ehr_pin_state st;
        bool own;
        int r = begin(s, &own);
        if (r < 0)
                return r;
        r = ehr_store_support_pin_get(s, u, have, &st);
        if (r < 0)
                return end(s, own, r);
        if (st.locked_until_sec > now_sec) {
                snprintf(details, sizeof details,
                         "Unsuccessful validation of Support PIN for user %s: validation locked after %llu failures",
                         u->login, (unsigned long long) st.failures);
                r = ehr_audit_append(s, now_sec, u->login, actor, EHR_AUDIT_ACCOUNT, "Not specified", details, source);
                sodium_memzero(have, sizeof have);
                r = end(s, own, r);
                return r < 0 ? r : -EAGAIN;
        }

        bool ok = ehr_pin_valid(pin) && sodium_memcmp(have, pin, EHR_PIN_DIGITS) == 0;
        sodium_memzero(have, sizeof have);
        int verdict;
        if (ok) {
                snprintf(details, sizeof details, "Successful validation of Support PIN for user %s", u->login);
                r = ehr_audit_append(s, now_sec, u->login, actor, EHR_AUDIT_ACCOUNT, "Not specified", details, source);
                /* Once said on the phone, a PIN is spent: a new one replaces it at once. */
                if (r >= 0)
                        r = ehr_support_pin_new(s, u, now_sec, actor, source, NULL);
                verdict = 0;
        } else {
                st.failures++;
                if (st.failures >= EHR_SUPPORT_PIN_MAX_FAILURES)
                        st.locked_until_sec = UINT64_MAX;
                snprintf(details, sizeof details, "Unsuccessful validation of Support PIN for user %s (%llu of %u)%s",
                         u->login, (unsigned long long) st.failures, EHR_SUPPORT_PIN_MAX_FAILURES,
                         st.locked_until_sec ? "; validation locked until a manager clears it" : "");
                r = ehr_store_support_pin_set_state(s, u->id, &st);
                if (r >= 0)
                        r = ehr_audit_append(s, now_sec, u->login, actor, EHR_AUDIT_ACCOUNT, "Not specified", details,
                                             source);
                verdict = st.locked_until_sec ? -EAGAIN : -EBADRQC;
        }
        r = end(s, own, r);
        return r < 0 ? r : verdict;
}

int ehr_support_pin_unlock(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, const char *actor,
                           const char *source) {
        struct ehr_pin_state st = {};
        bool own;
        int r = begin(s, &own);
        if (r < 0)
                return r;
        r = ehr_store_support_pin_set_state(s, u->id, &st);
        if (r >= 0)
                r = ehr_audit_append(s, now_sec, u->login, actor, EHR_AUDIT_ACCOUNT, "Update",
                                     "Support PIN validation unlocked", source);
        return end(s, own, r);
}

int ehr_unlock_pin_set(struct ehr_store *s, const struct ehr_user *u, const char *pin, uint64_t now_sec,
                       const char *actor, const char *source) {
        if (!ehr_pin_valid(pin))
                return -EINVAL;
        char support[EHR_PIN_DIGITS + 1];
        struct ehr_pin_state st;
        uint8_t h[EHR_HASH_BYTES];
        bool own;
        int r = begin(s, &own);
        if (r < 0)
                return r;
        r = ehr_store_support_pin_get(s, u, support, &st);
        if (r >= 0 && sodium_memcmp(support, pin, EHR_PIN_DIGITS) == 0)
                r = -EEXIST;
        else if (r == -ENOENT)
                r = 0;
        sodium_memzero(support, sizeof support);
        if (r == -EEXIST) {
                (void) ehr_audit_append(s, now_sec, u->login, actor, EHR_AUDIT_ACCOUNT, "Not specified",
                                        "Unlock PIN refused: same as the Support PIN", source);
                r = end(s, own, 0);
                return r < 0 ? r : -EEXIST;
        }
        if (r >= 0) {
                unlock_hash(s, u->id, pin, h);
                r = ehr_store_unlock_pin_put(s, u->id, h, now_sec);
                sodium_memzero(h, sizeof h);
        }
        if (r >= 0)
                r = ehr_audit_append(s, now_sec, u->login, actor, EHR_AUDIT_ACCOUNT, "Update", "Unlock PIN set", source);
        return end(s, own, r);
}

int ehr_unlock_pin_verify(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u, const char *pin,
                          uint64_t now_sec, const char *source, uint64_t *ret_until) {
        uint8_t have[EHR_HASH_BYTES], want[EHR_HASH_BYTES];
        struct ehr_pin_state st;
        char details[128];
        int r = ehr_store_begin(s);
        if (r < 0)
                return r;
        r = ehr_store_unlock_pin_get(s, u->id, have, &st);
        if (r < 0) {
                ehr_store_rollback(s);
                return r;
        }
        if (st.locked_until_sec > now_sec) {
                *ret_until = st.locked_until_sec;
                r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "screen unlock refused",
                                     "Unlock PIN locked; not checked", source);
                r = end(s, true, r);
                return r < 0 ? r : -EAGAIN;
        }
        unlock_hash(s, u->id, ehr_pin_valid(pin) ? pin : "", want);
        bool ok = ehr_pin_valid(pin) && sodium_memcmp(have, want, EHR_HASH_BYTES) == 0;
        sodium_memzero(want, sizeof want);
        int verdict = 0;
        if (ok) {
                st = (struct ehr_pin_state) {};
                r = ehr_store_unlock_pin_set_state(s, u->id, &st);
                if (r >= 0)
                        r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "screen unlocked",
                                             "Unlock PIN accepted", source);
        } else {
                st.failures++;
                if (st.failures >= EHR_UNLOCK_PIN_MAX_FAILURES) {
                        st.locked_until_sec = c->unlock_time ? now_sec + c->unlock_time : UINT64_MAX;
                        *ret_until = st.locked_until_sec;
                        st.failures = 0;
                        verdict = -EAGAIN;
                } else
                        verdict = -EBADRQC;
                snprintf(details, sizeof details, "wrong Unlock PIN%s", verdict == -EAGAIN ? "; Unlock PIN locked" : "");
                r = ehr_store_unlock_pin_set_state(s, u->id, &st);
                if (r >= 0)
                        r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "screen unlock failed",
                                             details, source);
        }
        r = end(s, true, r);
        return r < 0 ? r : verdict;
}

int ehr_support_request_create(struct ehr_store *s, const struct ehr_user *target, const struct ehr_user *by,
                               const char *note, uint64_t now_sec, const char *actor, const char *source,
                               int64_t *ret_id, bool *ret_needs_approval) {
        _cleanup_(ehr_user_freep) struct ehr_user *approver = NULL;
        char details[192];
        bool needs = streq(by->role, "staff");
        int r;

        if (!ehr_field_valid(EHR_FIELD_TEXT, note ?: ""))
                return -EINVAL;

        /* Staff asking for a provider: that provider approves. Staff asking for staff:
         * the target's primary provider approves. Providers asking for staff: no one. */
        if (needs) {
                if (streq(target->role, "provider"))
                        r = ehr_store_user_get(s, target->login, &approver);
                else if (*target->provider)
                        r = ehr_store_user_get(s, target->provider, &approver);
                else
                        r = -ENOENT;
                if (r < 0)
                        return r;
        } else if (!streq(target->role, "staff") && !streq(target->login, by->login)) {
                /* A provider for another provider: not in the seed's table; it needs that provider. */
                needs = true;
                r = ehr_store_user_get(s, target->login, &approver);
                if (r < 0)
                        return r;
        }

        bool own;
        r = begin(s, &own);
        if (r < 0)
                return r;
        r = ehr_store_request_add(s, target->id, by->id, approver ? approver->id : 0, needs ? "open" : "approved",
                                  needs ? "" : "provider for staff: support can assist", note, now_sec, ret_id);
        if (r >= 0) {
                snprintf(details, sizeof details, "request #%lld by %s on behalf of %s: %s%s", (long long) *ret_id,
                         by->login, target->login, needs ? "needs approval of provider " : "support can assist",
                         approver ? approver->login : "");
                r = ehr_audit_append(s, now_sec, target->login, actor, EHR_AUDIT_ACCOUNT, "Support request", details,
                                     source);
        }
        r = end(s, own, r);
        if (r >= 0)
                *ret_needs_approval = needs;
        return r;
}

int ehr_support_request_approve(struct ehr_store *s, int64_t id, const char *for_login, const char *how,
                                uint64_t now_sec, const char *actor, const char *source) {
        char details[192];
        bool own;
        int r = begin(s, &own);
        if (r < 0)
                return r;
        r = ehr_store_request_decide(s, id, "approved", how, now_sec);
        if (r >= 0) {
                snprintf(details, sizeof details, "request #%lld approved: %s", (long long) id, how);
                r = ehr_audit_append(s, now_sec, for_login, actor, EHR_AUDIT_ACCOUNT, "Support request", details,
                                     source);
        }
        return end(s, own, r);
}
