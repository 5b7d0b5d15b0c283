/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "sodium-load.h"
#include <stdio.h>

#include "audit.h"
#include "smstoken.h"

#define SMS_TOKEN_MAX_DIGITS 8U
#define SMS_HOUR_SEC 3600U
#define SMS_FORGET_SEC 86400U

static void token_hash(const struct ehr_store *s, int64_t user_id, const char *code, uint8_t out[EHR_HASH_BYTES]) {
        ehr_keyed_hash(ehr_store_keys(s), EHR_KEY_TOKEN, "sms", user_id, (const uint8_t *) code, strlen(code), out);
}

/* Rate limit, then record the new token (voiding any earlier one), in one transaction. */
static int reserve(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u, uint64_t now_sec,
                   const char *code, const char *source, struct ehr_sms_request *ret) {
        uint64_t last = 0, nth = 0, next = 0;
        int r = ehr_store_begin(s);
        if (r < 0)
                return r;
        r = ehr_store_sms_send_nth(s, u->id, 0, &last);
        if (r >= 0 && now_sec < last + c->sms_min_interval)
                next = last + c->sms_min_interval;
        if (r >= 0)
                r = ehr_store_sms_send_nth(s, u->id, c->sms_max_per_hour - 1, &nth);
        /* The hour's quota frees up when its oldest send is an hour old. */
        if (r >= 0 && nth + SMS_HOUR_SEC > now_sec && nth + SMS_HOUR_SEC > next)
                next = nth + SMS_HOUR_SEC;
        if (r < 0 && r != -ENOENT)
                goto fail;

        if (next != 0) {
                char details[96];
                ret->retry_after_sec = next;
                snprintf(details, sizeof details, "rate limited: next send possible in %llu s",
                         (unsigned long long) (next - now_sec));
                r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "SMS token refused", details,
                                     source);
                if (r >= 0)
                        r = ehr_store_commit(s);
                if (r < 0)
                        goto fail;
                return -ETOOMANYREFS; /* not -EAGAIN: that is "locked out" */
        }

        struct ehr_sms_token t = { .created_sec = now_sec, .expires_sec = now_sec + c->sms_token_ttl };
        token_hash(s, u->id, code, t.hash);
        r = ehr_store_sms_token_put(s, u->id, &t);
        sodium_memzero(&t, sizeof t);
        if (r >= 0)
                r = ehr_store_sms_send_add(s, u->id, now_sec, now_sec - (now_sec > SMS_FORGET_SEC ? SMS_FORGET_SEC : now_sec));
        if (r >= 0)
                r = ehr_store_commit(s);
        if (r < 0)
                goto fail;
        ret->expires_sec = now_sec + c->sms_token_ttl;
        return 0;
fail:
        ehr_store_rollback(s);
        return r;
}

int ehr_sms_token_request(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u,
                          uint64_t now_sec, const char *source, struct ehr_sms_request *ret) {
        char code[SMS_TOKEN_MAX_DIGITS + 1], message[160], details[160];
        _cleanup_(ehr_sms_token_freep) char *api_token = NULL;
        int r;

        *ret = (struct ehr_sms_request) {};
        if (c->sms_mode == EHR_SMS_OFF)
                return -EOPNOTSUPP;
        if (!ehr_phone_is_e164(u->phone)) {
                (void) ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "SMS token refused",
                                        "no cell phone on file", source);
                return -ENOENT;
        }
        ehr_phone_mask(u->phone, ret->masked, sizeof ret->masked);

        const char *token_file = c->sms_token_file ?: EHR_SMS_TOKEN_FILE_DEFAULT;
        r = ehr_sms_read_token_file(token_file, &api_token);
        if (r < 0) {
                char why[256];
                snprintf(details, sizeof details, "gateway credential file unusable: %s",
                         ehr_open_error(r, token_file, true, why, sizeof why));
                (void) ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "SMS token not sent", details,
                                        source);
                ret->send_error = r;
                return -EINVAL;
        }

        for (unsigned i = 0; i < c->sms_token_digits; i++)
                code[i] = (char) ('0' + randombytes_uniform(10));
        code[c->sms_token_digits] = 0;

        r = reserve(s, c, u, now_sec, code, source, ret);
        if (r < 0) {
                sodium_memzero(code, sizeof code);
                return r;
        }

        snprintf(message, sizeof message, "%s verification code: %s. It expires in %llu minutes. Do not share it.",
                 c->issuer ?: "ehr2fa", code, (unsigned long long) (c->sms_token_ttl + 59) / 60);
        sodium_memzero(code, sizeof code);
        struct ehr_sms_gateway g = {
                .mode = c->sms_mode == EHR_SMS_MODE_TWILIO ? EHR_SMS_TWILIO : EHR_SMS_GENERIC,
                .url = c->sms_url,
                .token = api_token,
                .from = c->sms_from,
                .proxy = c->sms_proxy,
                .ca_file = c->sms_ca_file,
                .connect_timeout_ms = c->sms_connect_timeout_ms,
                .timeout_ms = c->sms_timeout_ms,
        };
        long status = 0;
        int sent = ehr_sms_send_isolated(c->sms_sender ?: EHR2FA_SMS_SENDER_PATH, &g, u->phone, message, &status);
        sodium_memzero(message, sizeof message);

        if (sent >= 0) {
                snprintf(details, sizeof details, "sent to the phone ending in %s; valid %llu s", ret->masked + 3,
                         (unsigned long long) c->sms_token_ttl);
                r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "SMS token sent", details, source);
                return r < 0 ? r : 0;
        }

        /* The user never got it: void it, so it cannot be guessed while they use the app. */
        ret->send_error = sent;
        ret->http_status = status;
        if (status)
                snprintf(details, sizeof details, "gateway answered HTTP %ld; token voided", status);
        else
                snprintf(details, sizeof details, "gateway failed: %s; token voided", ehr_strerror(sent));
        r = ehr_store_begin(s);
        if (r >= 0)
                r = ehr_store_sms_token_del(s, u->id);
        if (r >= 0)
                r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "SMS token not sent", details,
                                     source);
        r = ehr_store_end(s, r);
        return r < 0 ? r : -ECOMM;
}

int ehr_sms_token_check(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u,
                        const char *answer, uint64_t now_sec) {
        struct ehr_sms_token t;
        int r = ehr_store_sms_token_get(s, u->id, &t);
        if (r < 0)
                return r;
        if (t.expires_sec <= now_sec || t.tries >= c->sms_max_tries) {
                r = ehr_store_sms_token_del(s, u->id);
                return r < 0 ? r : -ENOENT;
        }
        uint8_t h[EHR_HASH_BYTES];
        token_hash(s, u->id, answer, h);
        bool match = sodium_memcmp(h, t.hash, EHR_HASH_BYTES) == 0;
        uint64_t tries = t.tries + 1;
        sodium_memzero(h, sizeof h);
        sodium_memzero(&t, sizeof t);
        if (match) {
                r = ehr_store_sms_token_del(s, u->id);
                return r < 0 ? r : 0;
        }
        r = tries >= c->sms_max_tries ? ehr_store_sms_token_del(s, u->id)
                                      : ehr_store_sms_token_set_tries(s, u->id, tries);
        return r < 0 ? r : -EBADRQC;
}
