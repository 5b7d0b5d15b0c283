/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "audit.h"
#include "enroll.h"
#include "sodium-load.h"
#include "util.h"

static void uri_escape(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    strchr("-._~", *p))
                        fputc(*p, f);
                else
                        fprintf(f, "%%%02X", *p);
}

int ehr_enroll_uri(const struct ehr_config *c, const char *login, const struct ehr_secret *seed,
                   const struct ehr_otp_params *p, char **ret_uri, size_t *ret_len, char key[EHR_ENROLL_KEY_SIZE]) {
        const char *issuer = c->issuer ?: "ehr2fa";
        char *uri = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&uri, &len);
        if (!m)
                return -ENOMEM;
        (void) ehr_base32_encode(seed->data, seed->len, key, EHR_ENROLL_KEY_SIZE);
        fputs("otpauth://totp/", m);
        uri_escape(m, issuer);
        fputc(':', m);
        uri_escape(m, login);
        fprintf(m, "?secret=%s&issuer=", key);
        uri_escape(m, issuer);
        fprintf(m, "&algorithm=%s&digits=%u&period=%u", ehr_otp_algorithm_to_string(p->algorithm), p->digits,
                p->period);
        if (fclose(m) != 0) {
                free(uri);
                return -ENOMEM;
        }
        *ret_uri = uri;
        *ret_len = len;
        return 0;
}

struct ehr_enrollment *ehr_enroll_free(struct ehr_enrollment *e) {
        if (!e)
                return NULL;
        ehr_secret_free(e->seed);
        if (e->uri) {
                sodium_memzero(e->uri, e->uri_len);
                free(e->uri);
        }
        sodium_memzero(e, sizeof *e);
        free(e);
        return NULL;
}

int ehr_enroll_new(const struct ehr_config *c, const char *login, struct ehr_enrollment **ret) {
        _cleanup_(ehr_enroll_freep) struct ehr_enrollment *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->p = (struct ehr_otp_params) { .digits = (unsigned) c->totp_digits, .period = (unsigned) c->totp_period };
        if (ehr_otp_algorithm_from_string(c->totp_algorithm ?: "SHA1", &e->p.algorithm) < 0)
                return -EINVAL;
        e->seed = ehr_secret_new(EHR_TOTP_SECRET_BYTES);
        if (!e->seed)
                return -ENOMEM;
        e->seed->len = EHR_TOTP_SECRET_BYTES;
        randombytes_buf(e->seed->data, e->seed->len);
        int r = ehr_enroll_uri(c, login, e->seed, &e->p, &e->uri, &e->uri_len, e->key);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(e);
        return 0;
}

/* The confirmation code's step, now that its seed is stored: never accepted again. */
static int record_confirmed(struct ehr_op *op, const struct ehr_user *u, uint64_t step) {
        int r = ehr_store_begin(op->store);
        if (r >= 0)
                r = ehr_store_totp_use_step(op->store, u->id, step);
        if (r >= 0)
                r = ehr_store_failures_clear(op->store, u->id);
        if (r >= 0)
                r = ehr_audit_append(op->store, op->now_sec, u->login, u->login, EHR_AUDIT_AUTH,
                                     "second factor accepted", "TOTP code of the app enrolled at this login accepted",
                                     op->source);
        r = ehr_store_end(op->store, r);
        return r < 0 ? r : ehr_store_sync(op->store) < 0 ? -EROFS : 0;
}

int ehr_enroll_confirm(struct ehr_op *op, const struct ehr_user *u, const struct ehr_enrollment *e,
                       const char *answer, struct ehr_verdict *v, char (*ret_codes)[EHR_RECOVERY_DISPLAY_SIZE]) {
        uint64_t step = 0;
        int r = ehr_policy_verify_new_seed(op->store, op->cfg, u, e->seed, &e->p, answer, op->now_sec, op->source, v,
                                           &step);
        if (r < 0)
                return r;
        /* Another login of the same user may have enrolled an app since this one began. */
        _cleanup_(ehr_user_freep) struct ehr_user *cur = NULL;
        r = ehr_store_user_get(op->store, u->login, &cur);
        if (r < 0)
                return r;
        if (cur->totp_enrolled)
                return -EEXIST;
        r = ehr_account_totp_enroll(op, cur, e->seed, &e->p, false);
        if (r >= 0)
                r = record_confirmed(op, cur, step);
        if (r < 0)
                return r;
        cur->totp_enrolled = true; /* as stored: recovery codes back an enrolled app */
        return ehr_account_recovery_new(op, cur, ret_codes);
}
