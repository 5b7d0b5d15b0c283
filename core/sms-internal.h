/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by core/sms.c (the libcurl transport) and core/sms-request.c (what a
 * provider's request carries) only. */

#include "sms.h"

/* Longest gateway or proxy URL we accept (a Twilio URL is about 100 bytes). */
#define SMS_URL_MAX 2048U

/* A heap buffer that is wiped before it is freed: it holds the token or the code. */
struct sms_secbuf {
        char *p;
        size_t size;
};

void sms_secbuf_done(struct sms_secbuf *b);
int sms_secbuf_alloc(struct sms_secbuf *b, size_t size);

/* The gateway's settings but its URL: mode, timeouts, token shape (no control
 * characters; twilio: "SID:TOKEN"), From (twilio), CA file. Returns 0 or -EINVAL. */
int sms_gateway_fields_check(const struct ehr_sms_gateway *g);

/* The URL to POST to: g->url, or the one a Twilio account implies (written to buf).
 * Returns 0 or -EINVAL. */
int sms_gateway_url(const struct ehr_sms_gateway *g, char *buf, size_t len, const char **ret);

/* One request in the gateway's format: the body (JSON for generic, a form for
 * twilio), the whole "Authorization: ..." header line, and the Content-Type line.
 * body and auth are wiped when released. */
struct sms_request {
        struct sms_secbuf body, auth;
        const char *content_type;
};

/* Returns 0 or -ENOMEM; release with sms_request_done() either way. The gateway
 * must have passed sms_gateway_fields_check(). */
int sms_request_build(struct sms_request *req, const struct ehr_sms_gateway *g, const char *to_e164,
                      const char *message);
void sms_request_done(struct sms_request *req);
