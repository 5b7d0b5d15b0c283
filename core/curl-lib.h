/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* libcurl for the two transports that use it, the SMS gateway (sms.c) and the
 * mail server (mail.c): loading it on first use (never linked, see dl.h), its
 * failures as our errnos, and URL checks made with libcurl's own parser, so what
 * we check is what it will connect to. Only sms.c, mail.c and curl-lib.c include
 * this header. */

#include <curl/curl.h>
#include <stdbool.h>

#include "util.h"

/* Longest server or proxy URL we accept (a Twilio URL is about 100 bytes). */
#define EHR_CURL_URL_MAX 2048U

struct ehr_curl_lib {
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
};

/* Filled by ehr_curl_init(); read it only after that returned 0. */
extern struct ehr_curl_lib ehr_curl;

/* Load libcurl and call curl_global_init() once per process (ehr_dl_load_once()).
 * Returns 0, -ELIBACC (not installed), -ELIBBAD (older than 7.62) or -EIO (its
 * initialisation failed). */
int ehr_curl_init(void);

/* A libcurl result as our errno; os_errno (CURLINFO_OS_ERRNO) tells a refused
 * connection from an unreachable host. See ehr_sms_send() for the table. */
int ehr_curl_errno(CURLcode c, long os_errno);

/* Set one option on easy handle h, or return from the calling function with the
 * option's failure as a negative errno (ehr_curl_errno()). */
#define EHR_CURL_SETOPT(h, opt, val)                                    \
        do {                                                            \
                CURLcode _c_ = ehr_curl.easy_setopt((h), (opt), (val)); \
                if (_c_ != CURLE_OK)                                    \
                        return ehr_curl_errno(_c_, 0);                  \
        } while (0)

/* Parse url with libcurl's parser. Refused with -EINVAL: empty, longer than
 * EHR_CURL_URL_MAX, unparsable, a scheme not in schemes (NULL-terminated,
 * case-insensitive), or a user name or password inside (configuration files are
 * world-readable). ret_u (may be NULL) gets the parsed URL; ret_scheme (may be
 * NULL) the index of its scheme in schemes; ret_loopback whether the host is
 * 127.0.0.0/8, ::1 or localhost. Returns 0, -EINVAL or -ENOMEM. */
int ehr_curl_url_parse(const char *url, const char *const *schemes, CURLU **ret_u, size_t *ret_scheme,
                       bool *ret_loopback);

/* Cleanups for _cleanup_(); each accepts NULL. slist_wipe_freep wipes each line
 * first (libcurl copies what we append, an Authorization header included). */
void ehr_curl_easy_cleanupp(CURL **c);
void ehr_curl_url_cleanupp(CURLU **u);
void ehr_curl_slist_wipe_freep(struct curl_slist **l);
