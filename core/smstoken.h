/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* One-time tokens sent by text message on request: a user without their phone
 * app types the SMS keyword, gets a short-lived token, and types it back.
 * NIST SP 800-63B treats SMS as restricted: tokens expire within minutes, are
 * single use, allow few tries, and a resend voids the earlier token. Tokens
 * are stored only as keyed hashes; sending is rate limited per user. */

#include <stdint.h>

#include "config.h"
#include "sms.h"
#include "store.h"

struct ehr_sms_request {
        char masked[EHR_PHONE_MASK_BYTES]; /* "***66" */
        uint64_t retry_after_sec;          /* -ETOOMANYREFS: the next send is possible at this time */
        uint64_t expires_sec;              /* 0: the token expires at this time */
        int send_error;                    /* -ECOMM: what ehr_sms_send() returned */
        long http_status;                  /* -ECOMM: the gateway's status, 0 if none */
};

/* Make a token, record its hash, and send it to the user's phone. The store is
 * not locked while the gateway is contacted (that takes up to sms_timeout_ms).
 * Returns 0 (sent), -EOPNOTSUPP (SMS is off), -ENOENT (no phone on file),
 * -ETOOMANYREFS (rate limited; see retry_after_sec), -ECOMM (the gateway failed;
 * the token is voided), -EINVAL (gateway settings), or a store error. Audited. */
int ehr_sms_token_request(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u,
                          uint64_t now_sec, const char *source, struct ehr_sms_request *ret);

/* Inside a transaction: check answer against the user's pending token. Returns
 * 0 (match: the token is spent), -ENOENT (no usable token: none, expired or out
 * of tries), or -EBADRQC (a token is pending and this is not it; the try is
 * counted and the token voided after sms_max_tries). */
int ehr_sms_token_check(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u,
                        const char *answer, uint64_t now_sec);
