/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <strings.h>

#include "curl-lib.h"
#include "sms-internal.h"

/* The HTTP transport: the URL and proxy rules (what libcurl's own parser says it
 * will connect to, curl-lib.c) and one POST with every option pinned. What the
 * request carries is core/sms-request.c. */

#ifndef EHR2FA_VERSION
#define EHR2FA_VERSION "0"
#endif

/* We read at most this much of the gateway's answer, then stop reading. A 2xx
 * status is already known by then and the body is never used: the cap only keeps
 * a hostile or broken gateway from streaming into a login process until the
 * timeout. */
#define SMS_RESPONSE_MAX (64U * 1024U)

/* Parse a URL with libcurl's own parser; *ret_plain: not https. */
static int url_parse(const char *url, const char *const *schemes, CURLU **ret_u, bool *ret_loopback,
                     bool *ret_plain) {
        size_t i;
        int r = ehr_curl_url_parse(url, schemes, ret_u, &i, ret_loopback);
        if (r < 0)
                return r;
        *ret_plain = strcasecmp(schemes[i], "https") != 0;
        return 0;
}

/* Validate everything; on success hand out the parsed gateway URL for curl. */
static int gateway_check(const struct ehr_sms_gateway *g, CURLU **ret_u) {
        static const char *const gw_schemes[] = { "https", "http", NULL };
        static const char *const proxy_schemes[] = { "http", "https", "socks4", "socks4a", "socks5", "socks5h", NULL };
        char urlbuf[SMS_URL_MAX];
        const char *url;
        bool loopback, plain, proxy_loopback, proxy_plain;
        int r;

        r = sms_gateway_fields_check(g);
        if (r < 0)
                return r;
        r = sms_gateway_url(g, urlbuf, sizeof urlbuf, &url);
        if (r < 0)
                return r;
        _cleanup_(ehr_curl_url_cleanupp) CURLU *u = NULL;
        r = url_parse(url, gw_schemes, &u, &loopback, &plain);
        if (r < 0)
                return r;
        /* The body carries a login code and the header the API token: cleartext only
         * where it never leaves the machine (tests, a local relay). */
        if (plain && !loopback)
                return -EINVAL;
        if (!isempty(g->proxy)) {
                r = url_parse(g->proxy, proxy_schemes, NULL, &proxy_loopback, &proxy_plain);
                if (r < 0)
                        return r;
                /* A plain-http request through a proxy is readable by the proxy and on the
                 * wire to it: allow it only when that proxy is on this machine too. An https
                 * request is tunnelled (CONNECT) and stays end-to-end. */
                if (plain && !proxy_loopback)
                        return -EINVAL;
        }
        if (ret_u)
                *ret_u = TAKE_PTR(u);
        return 0;
}

int ehr_sms_gateway_check(const struct ehr_sms_gateway *g) {
        int r = ehr_curl_init();
        if (r < 0)
                return r;
        return gateway_check(g, NULL);
}
struct sink {
        size_t total;
};

/* Drop the answer: it is never printed (libcurl's default writes it to stdout,
 * which in a PAM module may be the user's terminal) and never parsed. */
static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        struct sink *s = userdata;
        size_t n = size * nmemb;
        (void) ptr;
        if (n > SMS_RESPONSE_MAX - s->total)
                return 0; /* libcurl stops with CURLE_WRITE_ERROR */
        s->total += n;
        return n;
}

static size_t sink_header(char *ptr, size_t size, size_t nitems, void *userdata) {
        (void) ptr, (void) userdata;
        return size * nitems;
}

/* How to connect: timeouts, protocols, no redirect, TLS, proxy, nothing from ~/.netrc. */
static int setopt_transport(CURL *h, const struct ehr_sms_gateway *g) {
        /* Signals would make libcurl's resolver timeouts use alarm(), which is not ours to
         * touch inside sshd or login; the threaded resolver still honours the timeouts. */
        EHR_CURL_SETOPT(h, CURLOPT_NOSIGNAL, 1L);
        /* libcurl's own defaults are 300 s to connect and no total limit at all. */
        EHR_CURL_SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS,
               (long) (g->connect_timeout_ms ? g->connect_timeout_ms : EHR_SMS_CONNECT_TIMEOUT_MS_DEFAULT));
        EHR_CURL_SETOPT(h, CURLOPT_TIMEOUT_MS, (long) (g->timeout_ms ? g->timeout_ms : EHR_SMS_TIMEOUT_MS_DEFAULT));
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
        EHR_CURL_SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        EHR_CURL_SETOPT(h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        /* A redirect would carry the code to wherever the gateway (or an attacker who owns
         * its DNS name) points; a gateway that moved is a configuration error. */
        EHR_CURL_SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
        EHR_CURL_SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
        EHR_CURL_SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
        EHR_CURL_SETOPT(h, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
        if (!isempty(g->ca_file)) {
                EHR_CURL_SETOPT(h, CURLOPT_CAINFO, g->ca_file);
                /* Trust this bundle only, not also the system's hashed directory: an admin who
                 * names a CA means that one. */
                EHR_CURL_SETOPT(h, CURLOPT_CAPATH, (char *) NULL);
        }
        if (isempty(g->proxy))
                /* "" turns proxies off, including http_proxy, https_proxy and all_proxy from the
                 * environment, which a user running su or sudo controls (DUO-PSA-2017-002:
                 * a dead proxy forced a fail-open). */
                EHR_CURL_SETOPT(h, CURLOPT_PROXY, "");
        else {
                EHR_CURL_SETOPT(h, CURLOPT_PROXY, g->proxy);
                /* Likewise, no_proxy from the environment must not route around the proxy. */
                EHR_CURL_SETOPT(h, CURLOPT_NOPROXY, "");
        }
        EHR_CURL_SETOPT(h, CURLOPT_NETRC, (long) CURL_NETRC_IGNORED);
        EHR_CURL_SETOPT(h, CURLOPT_VERBOSE, 0L);
        return 0;
}

/* What to send, where, and where the answer goes. */
static int setopt_request(CURL *h, CURLU *u, struct curl_slist *headers, const char *body, struct sink *sink) {
        EHR_CURL_SETOPT(h, CURLOPT_CURLU, u);
        EHR_CURL_SETOPT(h, CURLOPT_USERAGENT, "ehr2fa/" EHR2FA_VERSION);
        EHR_CURL_SETOPT(h, CURLOPT_HTTPHEADER, headers);
        EHR_CURL_SETOPT(h, CURLOPT_POST, 1L);
        /* POSTFIELDS, not COPYPOSTFIELDS: libcurl reads our buffer, which we wipe. */
        EHR_CURL_SETOPT(h, CURLOPT_POSTFIELDS, body);
        EHR_CURL_SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
        EHR_CURL_SETOPT(h, CURLOPT_WRITEFUNCTION, sink_write);
        EHR_CURL_SETOPT(h, CURLOPT_WRITEDATA, sink);
        EHR_CURL_SETOPT(h, CURLOPT_HEADERFUNCTION, sink_header);
        return 0;
}

#undef SETOPT

/* The header lines, in a list libcurl copies them into (slist_wipe_freep() wipes its copies). */
static int headers_build(const struct sms_request *req, struct curl_slist **headers) {
        const char *const lines[] = {
                /* No "Expect: 100-continue" round trip: with a larger body it would cost up to a
                 * second (CURLOPT_EXPECT_100_TIMEOUT_MS) against servers that never answer it. */
                "Expect:",
                "Accept: application/json",
                req->content_type,
                req->auth.p,
        };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                struct curl_slist *l = ehr_curl.slist_append(*headers, lines[i]);
                if (!l)
                        return -ENOMEM;
                *headers = l;
        }
        return 0;
}

/* Send, and say what happened: 0 on a 2xx answer, else the errno of ehr_sms_send(). */
static int perform(CURL *h, long *ret_http_status) {
        long status = 0, os_errno = 0;
        CURLcode c;
        int r;

        c = ehr_curl.easy_perform(h);
        (void) ehr_curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        (void) ehr_curl.easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        if (ret_http_status)
                *ret_http_status = status;

        if (c == CURLE_WRITE_ERROR && status > 0)
                /* Our cap on the answer's size stopped the transfer: the status line had
                 * already arrived and decides. */
                c = CURLE_OK;
        r = ehr_curl_errno(c, os_errno);
        if (r == 0 && (status < 200 || status > 299))
                r = -EREMOTEIO;
        return r;
}

int ehr_sms_send(const struct ehr_sms_gateway *g, const char *to_e164, const char *message, long *ret_http_status) {
        /* Cleanups run in reverse order: the easy handle goes first, before the URL, the
         * header list and the request it points to. */
        _cleanup_(ehr_curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(ehr_curl_slist_wipe_freep) struct curl_slist *headers = NULL;
        _cleanup_(sms_request_done) struct sms_request req = {};
        _cleanup_(ehr_curl_easy_cleanupp) CURL *h = NULL;
        struct sink sink = {};
        int r;

        if (ret_http_status)
                *ret_http_status = 0;
        if (!ehr_phone_is_e164(to_e164) || !message || strlen(message) > EHR_SMS_MESSAGE_MAX || !ehr_utf8_valid(message))
                return -EINVAL;
        r = ehr_curl_init();
        if (r < 0)
                return r;
        r = gateway_check(g, &u);
        if (r < 0)
                return r;
        r = sms_request_build(&req, g, to_e164, message);
        if (r < 0)
                return r;
        r = headers_build(&req, &headers);
        if (r < 0)
                return r;
        sms_secbuf_done(&req.auth);

        h = ehr_curl.easy_init();
        if (!h)
                return -ENOMEM;
        r = setopt_transport(h, g);
        if (r < 0)
                return r;
        r = setopt_request(h, u, headers, req.body.p, &sink);
        if (r < 0)
                return r;
        return perform(h, ret_http_status);
}
