/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <strings.h>

#include "curl-lib.h"
#include "dl.h"

/* libcurl is loaded on the first text message or mail, not linked. Linked, it made
 * every login process (each sshd connection, su, sudo, login) map and relocate
 * libcurl and the ~35 libraries it pulls in (TLS, HTTP/2, LDAP, Kerberos, SSH...):
 * about 3.7 ms per login here, several times a whole pam_oath check, for a feature
 * most logins never use. It stays loaded once used (never closed, see dl.h): a
 * process that has sent one message may send another, and libcurl keeps global
 * state that must not vanish under it. The soname has been libcurl.so.4 since 2006. */
#define LIBCURL_SONAME "libcurl.so.4"

struct ehr_curl_lib ehr_curl;

static const struct ehr_dl_sym syms[] = {
#define SYM(f) { "curl_" #f, offsetof(struct ehr_curl_lib, f) }
        SYM(global_init), SYM(easy_init),    SYM(easy_setopt), SYM(easy_perform), SYM(easy_getinfo),
        SYM(easy_cleanup), SYM(slist_append), SYM(slist_free_all), SYM(url),      SYM(url_set),
        SYM(url_get),     SYM(url_cleanup),  SYM(free),
#undef SYM
};

/* libcurl wants curl_global_init() before any other call, once: ehr_dl_load_once()
 * runs it once per process, even with a libcurl older than 7.84 (not thread-safe
 * there). */
static int global_init(const struct ehr_dl_lib *l) {
        (void) l;
        return ehr_curl.global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

/* -ELIBBAD: older than 7.62 (no URL API), not ours to use. */
static struct ehr_dl_lib lib = EHR_DL_LIB(LIBCURL_SONAME, "libcurl4", syms, &ehr_curl, global_init);

int ehr_curl_init(void) {
        return ehr_dl_load_once(&lib, NULL);
}

void ehr_curl_easy_cleanupp(CURL **c) {
        if (*c)
                ehr_curl.easy_cleanup(*c);
}

void ehr_curl_url_cleanupp(CURLU **u) {
        if (*u)
                ehr_curl.url_cleanup(*u);
}

void ehr_curl_slist_wipe_freep(struct curl_slist **l) {
        for (struct curl_slist *i = *l; i; i = i->next)
                if (i->data)
                        explicit_bzero(i->data, strlen(i->data));
        if (*l)
                ehr_curl.slist_free_all(*l);
        *l = NULL;
}

static void curl_freep(char **p) {
        if (*p)
                ehr_curl.free(*p);
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

static int curlu_errno(CURLUcode uc) {
        return uc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

int ehr_curl_url_parse(const char *url, const char *const *schemes, CURLU **ret_u, size_t *ret_scheme,
                       bool *ret_loopback) {
        _cleanup_(ehr_curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(curl_freep) char *scheme = NULL, *host = NULL, *user = NULL;
        CURLUcode uc;

        if (isempty(url) || strlen(url) > EHR_CURL_URL_MAX)
                return -EINVAL;
        u = ehr_curl.url();
        if (!u)
                return -ENOMEM;
        uc = ehr_curl.url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
        if (uc != CURLUE_OK)
                return curlu_errno(uc);
        uc = ehr_curl.url_get(u, CURLUPART_SCHEME, &scheme, 0);
        if (uc != CURLUE_OK)
                return curlu_errno(uc);
        uc = ehr_curl.url_get(u, CURLUPART_HOST, &host, 0);
        if (uc != CURLUE_OK)
                return curlu_errno(uc);
        /* Credentials never go in a URL: the config file is world-readable. */
        uc = ehr_curl.url_get(u, CURLUPART_USER, &user, 0);
        if (uc == CURLUE_OK)
                return -EINVAL;
        if (uc != CURLUE_NO_USER)
                return curlu_errno(uc);

        size_t i = 0;
        while (schemes[i] && strcasecmp(scheme, schemes[i]) != 0)
                i++;
        if (!schemes[i])
                return -EINVAL;
        if (ret_u)
                *ret_u = TAKE_PTR(u);
        if (ret_scheme)
                *ret_scheme = i;
        *ret_loopback = is_loopback_host(host);
        return 0;
}

int ehr_curl_errno(CURLcode c, long os_errno) {
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
        case CURLE_USE_SSL_FAILED: /* SMTP: the server offers no STARTTLS, and we require it */
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
        /* The scheme was checked before (the URL checks, CURLOPT_PROTOCOLS_STR): from
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
