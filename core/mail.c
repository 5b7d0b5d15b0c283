/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SMTP transport: the server's settings checked, and one message sent with every
 * libcurl option pinned (curl-lib.c loads libcurl and maps its failures). Building
 * the message and the config's side are mail-message.c; the child process
 * mail-child.c. libcurl turns a line that starts with "." into ".." on the wire
 * (dot-stuffing) and ends the DATA itself. */

#include <strings.h>

#include "curl-lib.h"
#include "mail.h"

enum { SCHEME_SMTPS, SCHEME_SMTP };

static bool timeouts_valid(const struct ehr_mail_server *m) {
        return m->connect_timeout_ms <= EHR_MAIL_TIMEOUT_MS_MAX && m->timeout_ms <= EHR_MAIL_TIMEOUT_MS_MAX;
}

/* Validate everything; on success hand out the parsed URL and whether it is smtp://. */
static int server_check(const struct ehr_mail_server *m, CURLU **ret_u, bool *ret_starttls) {
        static const char *const schemes[] = { [SCHEME_SMTPS] = "smtps", [SCHEME_SMTP] = "smtp", NULL };
        size_t scheme;
        bool loopback;

        if (!m || !ehr_mail_address_valid(m->from) || !timeouts_valid(m))
                return -EINVAL;
        if (m->user && (strpbrk(m->user, "\r\n") || !m->password || strpbrk(m->password, "\r\n")))
                return -EINVAL;
        int r = ehr_curl_url_parse(m->url, schemes, ret_u, &scheme, &loopback);
        if (r < 0)
                return r;
        /* A password in the clear only to this machine (a local relay). */
        if (scheme == SCHEME_SMTP && m->allow_plain && m->user && !loopback)
                return -EINVAL;
        if (ret_starttls)
                *ret_starttls = scheme == SCHEME_SMTP;
        return 0;
}

int ehr_mail_server_check(const struct ehr_mail_server *m) {
        int r = ehr_curl_init();
        return r < 0 ? r : server_check(m, NULL, NULL);
}

struct source {
        const char *p;
        size_t n, off;
};

static size_t source_read(char *buf, size_t size, size_t nitems, void *userdata) {
        struct source *s = userdata;
        size_t k = size * nitems;
        if (k > s->n - s->off)
                k = s->n - s->off;
        memcpy(buf, s->p + s->off, k);
        s->off += k;
        return k;
}

/* How to connect: timeouts, protocols, TLS, no proxy, nothing from ~/.netrc. */
static int setopt_transport(CURL *h, const struct ehr_mail_server *m, CURLU *u, bool starttls) {
        /* Signals would make the resolver's timeouts use alarm(). */
        EHR_CURL_SETOPT(h, CURLOPT_NOSIGNAL, 1L);
        /* libcurl's own defaults are 300 s to connect and no total limit at all. */
        EHR_CURL_SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS,
                        (long) (m->connect_timeout_ms ?: EHR_MAIL_CONNECT_TIMEOUT_MS_DEFAULT));
        EHR_CURL_SETOPT(h, CURLOPT_TIMEOUT_MS, (long) (m->timeout_ms ?: EHR_MAIL_TIMEOUT_MS_DEFAULT));
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
        EHR_CURL_SETOPT(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
        EHR_CURL_SETOPT(h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
        EHR_CURL_SETOPT(h, CURLOPT_CURLU, u);
        /* smtp:// must upgrade with STARTTLS or fail (CURLE_USE_SSL_FAILED), unless the
         * config allows cleartext; smtps:// is TLS from the first byte anyway. */
        EHR_CURL_SETOPT(h, CURLOPT_USE_SSL, (long) (starttls && m->allow_plain ? CURLUSESSL_NONE : CURLUSESSL_ALL));
        EHR_CURL_SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
        EHR_CURL_SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
        EHR_CURL_SETOPT(h, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
        if (!isempty(m->ca_file)) {
                EHR_CURL_SETOPT(h, CURLOPT_CAINFO, m->ca_file);
                EHR_CURL_SETOPT(h, CURLOPT_CAPATH, (char *) NULL);
        }
        /* No proxy, whatever the environment says (it is ours in the child anyway). */
        EHR_CURL_SETOPT(h, CURLOPT_PROXY, "");
        EHR_CURL_SETOPT(h, CURLOPT_NETRC, (long) CURL_NETRC_IGNORED);
        EHR_CURL_SETOPT(h, CURLOPT_VERBOSE, 0L);
        if (m->user) {
                /* libcurl keeps its own copies: the child that holds them exits after one message. */
                EHR_CURL_SETOPT(h, CURLOPT_USERNAME, m->user);
                EHR_CURL_SETOPT(h, CURLOPT_PASSWORD, m->password);
        }
        return 0;
}

/* The envelope and the message. */
static int setopt_message(CURL *h, const char *from, struct curl_slist *rcpt, struct source *src) {
        EHR_CURL_SETOPT(h, CURLOPT_MAIL_FROM, from);
        EHR_CURL_SETOPT(h, CURLOPT_MAIL_RCPT, rcpt);
        EHR_CURL_SETOPT(h, CURLOPT_UPLOAD, 1L);
        EHR_CURL_SETOPT(h, CURLOPT_READFUNCTION, source_read);
        EHR_CURL_SETOPT(h, CURLOPT_READDATA, src);
        EHR_CURL_SETOPT(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) src->n);
        return 0;
}

#undef SETOPT

/* "<addr>" for each recipient. */
static int rcpt_build(const char *const *to, size_t n, struct curl_slist **ret) {
        for (size_t i = 0; i < n; i++) {
                char buf[EHR_FIELD_EMAIL_MAX + 3];
                if (!ehr_mail_address_valid(to[i]))
                        return -EINVAL;
                snprintf(buf, sizeof buf, "<%s>", to[i]);
                struct curl_slist *l = ehr_curl.slist_append(*ret, buf);
                if (!l)
                        return -ENOMEM;
                *ret = l;
        }
        return 0;
}

/* Send, and say what happened: any 4xx or 5xx reply is the server refusing. */
static int perform(CURL *h, long *ret_smtp_status) {
        long status = 0, os_errno = 0;
        CURLcode c = ehr_curl.easy_perform(h);
        (void) ehr_curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        (void) ehr_curl.easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        if (ret_smtp_status)
                *ret_smtp_status = status;
        if (c == CURLE_OK)
                return 0;
        if (c == CURLE_LOGIN_DENIED || (status >= 400 && status <= 599 && c != CURLE_OPERATION_TIMEDOUT))
                return -EREMOTEIO;
        return ehr_curl_errno(c, os_errno);
}

int ehr_mail_send(const struct ehr_mail_server *m, const char *const *to, size_t n, const char *message,
                  long *ret_smtp_status) {
        _cleanup_(ehr_curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(ehr_curl_slist_wipe_freep) struct curl_slist *rcpt = NULL;
        _cleanup_(ehr_curl_easy_cleanupp) CURL *h = NULL;
        char from[EHR_FIELD_EMAIL_MAX + 3];
        bool starttls;
        int r;

        if (ret_smtp_status)
                *ret_smtp_status = 0;
        if (!to || n == 0 || n > EHR_MAIL_RECIPIENTS_MAX || !message || strlen(message) > 2 * EHR_MAIL_BODY_MAX)
                return -EINVAL;
        r = ehr_curl_init();
        if (r < 0)
                return r;
        r = server_check(m, &u, &starttls);
        if (r < 0)
                return r;
        r = rcpt_build(to, n, &rcpt);
        if (r < 0)
                return r;
        snprintf(from, sizeof from, "<%s>", m->from);
        struct source src = { .p = message, .n = strlen(message) };

        h = ehr_curl.easy_init();
        if (!h)
                return -ENOMEM;
        r = setopt_transport(h, m, u, starttls);
        if (r < 0)
                return r;
        r = setopt_message(h, from, rcpt, &src);
        if (r < 0)
                return r;
        return perform(h, ret_smtp_status);
}
