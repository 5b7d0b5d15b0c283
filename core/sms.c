/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>

#include "dl.h"
#include "sms-internal.h"

/* The libcurl transport: loading libcurl, the URL and proxy rules (what libcurl's own
 * parser says it will connect to), one POST with every option pinned, and libcurl's
 * failures as errnos. What the request carries is core/sms-request.c. */

#ifndef EHR2FA_VERSION
#define EHR2FA_VERSION "0"
#endif

/* We read at most this much of the gateway's answer, then stop reading. A 2xx
 * status is already known by then and the body is never used: the cap only keeps
 * a hostile or broken gateway from streaming into a login process until the
 * timeout. */
#define SMS_RESPONSE_MAX (64U * 1024U)

/* libcurl is loaded on the first text message, not linked. Linked, it made every
 * login process (each sshd connection, su, sudo, login) map and relocate libcurl
 * and the ~35 libraries it pulls in (TLS, HTTP/2, LDAP, Kerberos, SSH...): about
 * 3.7 ms per login here, several times a whole pam_oath check, for a feature most
 * logins never use. It stays loaded once used (never closed, see dl.h): a
 * process that has sent one text may send another, and libcurl keeps global state
 * that must not vanish under it. The soname has been libcurl.so.4 since 2006. */
#define LIBCURL_SONAME "libcurl.so.4"

static struct {
        __typeof__(&curl_global_init) global_init;
        __typeof__(&curl_easy_init) easy_init;
        __typeof__(&curl_easy_setopt) easy_setopt;
        __typeof__(&curl_easy_perform) easy_perform;
        __typeof__(&curl_easy_getinfo) easy_getinfo;
        __typeof__(&curl_easy_cleanup) easy_cleanup;
        __typeof__(&curl_slist_append) slist_append;
        __typeof__(&curl_slist_free_all) slist_free_all;
        __typeof__(&curl_url) url;
        __typeof__(&curl_url_set) url_set;
        __typeof__(&curl_url_get) url_get;
        __typeof__(&curl_url_cleanup) url_cleanup;
        __typeof__(&curl_free) free;
} lc;

static int load_libcurl(void) {
        static const struct ehr_dl_sym syms[] = {
#define SYM(f) { "curl_" #f, offsetof(__typeof__(lc), f) }
                SYM(global_init), SYM(easy_init),    SYM(easy_setopt), SYM(easy_perform),   SYM(easy_getinfo),
                SYM(easy_cleanup), SYM(slist_append), SYM(slist_free_all), SYM(url),        SYM(url_set),
                SYM(url_get),     SYM(url_cleanup),  SYM(free),
#undef SYM
        };
        /* -ELIBBAD: older than 7.62 (no URL API), not ours to use. */
        return ehr_dl_load(LIBCURL_SONAME, syms, ELEMENTSOF(syms), &lc);
}

/* curl_slist_append() copies our Authorization header; wipe its copy too. */
static void slist_wipe_freep(struct curl_slist **l) {
        for (struct curl_slist *i = *l; i; i = i->next)
                if (i->data)
                        explicit_bzero(i->data, strlen(i->data));
        if (*l)
                lc.slist_free_all(*l);
        *l = NULL;
}

static void curl_easy_cleanupp(CURL **c) {
        if (*c)
                lc.easy_cleanup(*c);
}

static void curl_url_cleanupp(CURLU **u) {
        if (*u)
                lc.url_cleanup(*u);
}

static void curl_freep(char **p) {
        if (*p)
                lc.free(*p);
}

static bool is_loopback_host(const char *host) {
        struct in_addr a4;
        struct in6_addr a6;
        char buf[INET6_ADDRSTRLEN + 2];
        size_t n = strlen(host);

        /* libcurl (7.78+) resolves "localhost" itself to 127.0.0.1/::1, without /etc/hosts or
         * DNS, so it cannot be pointed elsewhere. "*.localhost" is not accepted: keep it simple. */
        if (strcasecmp(host, "localhost") == 0)
                return true;
        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (n >= 2 && n < sizeof buf && host[0] == '[' && host[n - 1] == ']') {
                memcpy(buf, host + 1, n - 2);
                buf[n - 2] = 0;
                return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
        }
        return false;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_result = -EIO;

static void global_init(void) {
        global_result = load_libcurl();
        if (global_result < 0)
                return;
        CURLcode c = lc.global_init(CURL_GLOBAL_DEFAULT);
        global_result = c == CURLE_OK ? 0 : c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

/* libcurl wants curl_global_init() before any other call, once; pthread_once() makes
 * that safe even with a libcurl older than 7.84 (not thread-safe there). Returns 0,
 * -ELIBACC (libcurl is not installed), -ELIBBAD (too old), -ENOMEM or -EIO. */
static int global_init_once(void) {
        if (pthread_once(&global_once, global_init) != 0)
                return -EIO;
        return global_result;
}

static int curlu_errno(CURLUcode uc) {
        return uc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

/* Parse a URL with libcurl's own parser, so what we check is what it will connect to.
 * Returns 0 with *ret_loopback set, -EINVAL or -ENOMEM. */
static int url_parse(const char *url, const char *const *schemes, CURLU **ret_u, bool *ret_loopback,
                     bool *ret_plain) {
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(curl_freep) char *scheme = NULL, *host = NULL, *user = NULL;
        CURLUcode uc;

        if (isempty(url) || strlen(url) > SMS_URL_MAX)
                return -EINVAL;
        u = lc.url();
        if (!u)
                return -ENOMEM;
        uc = lc.url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
        if (uc != CURLUE_OK)
                return curlu_errno(uc);
        uc = lc.url_get(u, CURLUPART_SCHEME, &scheme, 0);
        if (uc != CURLUE_OK)
                return curlu_errno(uc);
        uc = lc.url_get(u, CURLUPART_HOST, &host, 0);
        if (uc != CURLUE_OK)
                return curlu_errno(uc);
        /* Credentials never go in a URL: the config file is world-readable. */
        uc = lc.url_get(u, CURLUPART_USER, &user, 0);
        if (uc == CURLUE_OK)
                return -EINVAL;
        if (uc != CURLUE_NO_USER)
                return curlu_errno(uc);

        bool known = false;
        for (const char *const *s = schemes; *s; s++)
                known = known || strcasecmp(scheme, *s) == 0;
        if (!known)
                return -EINVAL;
        if (ret_u)
                *ret_u = TAKE_PTR(u);
        *ret_loopback = is_loopback_host(host);
        *ret_plain = strcasecmp(scheme, "https") != 0;
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
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
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
        int r = global_init_once();
        if (r < 0)
                return r;
        return gateway_check(g, NULL);
}
static int errno_from_curl(CURLcode c, long os_errno) {
        switch (c) {
        case CURLE_OK:
                return 0;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                /* libcurl folds every connect() failure into one code; the socket's errno
                 * tells "nothing listens" from "no route". */
                switch (os_errno) {
                case ETIMEDOUT:
                        return -ETIMEDOUT;
                case EHOSTUNREACH:
                case ENETUNREACH:
                case ENETDOWN:
                case EADDRNOTAVAIL:
                        return -EHOSTUNREACH;
                default:
                        return -ECONNREFUSED;
                }
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_USE_SSL_FAILED:
                return -EKEYREJECTED;
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_URL_MALFORMAT:
        case CURLE_BAD_FUNCTION_ARGUMENT:
        case CURLE_NOT_BUILT_IN:
        case CURLE_UNKNOWN_OPTION:
                return -EINVAL;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
                return -ECONNRESET;
        case CURLE_GOT_NOTHING:
        case CURLE_WEIRD_SERVER_REPLY:
        /* The scheme was checked before (gateway_check(), CURLOPT_PROTOCOLS_STR): from
         * easy_perform() this is an answer without an HTTP status line ("HTTP/0.9"). */
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_PARTIAL_FILE:
        case CURLE_PROXY:
                return -EBADE;
        case CURLE_ABORTED_BY_CALLBACK:
                return -ECANCELED;
        default:
                return -EIO;
        }
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

#define SETOPT(h, opt, val)                                             \
        do {                                                            \
                CURLcode _c_ = lc.easy_setopt((h), (opt), (val));       \
                if (_c_ != CURLE_OK)                                    \
                        return errno_from_curl(_c_, 0);                 \
        } while (0)

/* How to connect: timeouts, protocols, no redirect, TLS, proxy, nothing from ~/.netrc. */
static int setopt_transport(CURL *h, const struct ehr_sms_gateway *g) {
        /* Signals would make libcurl's resolver timeouts use alarm(), which is not ours to
         * touch inside sshd or login; the threaded resolver still honours the timeouts. */
        SETOPT(h, CURLOPT_NOSIGNAL, 1L);
        /* libcurl's own defaults are 300 s to connect and no total limit at all. */
        SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS,
               (long) (g->connect_timeout_ms ? g->connect_timeout_ms : EHR_SMS_CONNECT_TIMEOUT_MS_DEFAULT));
        SETOPT(h, CURLOPT_TIMEOUT_MS, (long) (g->timeout_ms ? g->timeout_ms : EHR_SMS_TIMEOUT_MS_DEFAULT));
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
        SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        SETOPT(h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        /* A redirect would carry the code to wherever the gateway (or an attacker who owns
         * its DNS name) points; a gateway that moved is a configuration error. */
        SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
        SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
        SETOPT(h, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
        if (!isempty(g->ca_file)) {
                SETOPT(h, CURLOPT_CAINFO, g->ca_file);
                /* Trust this bundle only, not also the system's hashed directory: an admin who
                 * names a CA means that one. */
                SETOPT(h, CURLOPT_CAPATH, (char *) NULL);
        }
        if (isempty(g->proxy))
                /* "" turns proxies off, including http_proxy, https_proxy and all_proxy from the
                 * environment, which a user running su or sudo controls (DUO-PSA-2017-002:
                 * a dead proxy forced a fail-open). */
                SETOPT(h, CURLOPT_PROXY, "");
        else {
                SETOPT(h, CURLOPT_PROXY, g->proxy);
                /* Likewise, no_proxy from the environment must not route around the proxy. */
                SETOPT(h, CURLOPT_NOPROXY, "");
        }
        SETOPT(h, CURLOPT_NETRC, (long) CURL_NETRC_IGNORED);
        SETOPT(h, CURLOPT_VERBOSE, 0L);
        return 0;
}

/* What to send, where, and where the answer goes. */
static int setopt_request(CURL *h, CURLU *u, struct curl_slist *headers, const char *body, struct sink *sink) {
        SETOPT(h, CURLOPT_CURLU, u);
        SETOPT(h, CURLOPT_USERAGENT, "ehr2fa/" EHR2FA_VERSION);
        SETOPT(h, CURLOPT_HTTPHEADER, headers);
        SETOPT(h, CURLOPT_POST, 1L);
        /* POSTFIELDS, not COPYPOSTFIELDS: libcurl reads our buffer, which we wipe. */
        SETOPT(h, CURLOPT_POSTFIELDS, body);
        SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
        SETOPT(h, CURLOPT_WRITEFUNCTION, sink_write);
        SETOPT(h, CURLOPT_WRITEDATA, sink);
        SETOPT(h, CURLOPT_HEADERFUNCTION, sink_header);
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
                struct curl_slist *l = lc.slist_append(*headers, lines[i]);
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

        c = lc.easy_perform(h);
        (void) lc.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        (void) lc.easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        if (ret_http_status)
                *ret_http_status = status;

        if (c == CURLE_WRITE_ERROR && status > 0)
                /* Our cap on the answer's size stopped the transfer: the status line had
                 * already arrived and decides. */
                c = CURLE_OK;
        r = errno_from_curl(c, os_errno);
        if (r == 0 && (status < 200 || status > 299))
                r = -EREMOTEIO;
        return r;
}

int ehr_sms_send(const struct ehr_sms_gateway *g, const char *to_e164, const char *message, long *ret_http_status) {
        /* Cleanups run in reverse order: the easy handle goes first, before the URL, the
         * header list and the request it points to. */
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(slist_wipe_freep) struct curl_slist *headers = NULL;
        _cleanup_(sms_request_done) struct sms_request req = {};
        _cleanup_(curl_easy_cleanupp) CURL *h = NULL;
        struct sink sink = {};
        int r;

        if (ret_http_status)
                *ret_http_status = 0;
        if (!ehr_phone_is_e164(to_e164) || !message || strlen(message) > EHR_SMS_MESSAGE_MAX || !ehr_utf8_valid(message))
                return -EINVAL;
        r = global_init_once();
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

        h = lc.easy_init();
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
