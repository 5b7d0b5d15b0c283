/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The SMS gateway client: one HTTPS POST per message, through libcurl.
 *
 * Token generation, storage, expiry and rate limits are not here (they need
 * the store, see policy.c); this unit only carries a finished message to the
 * gateway and reports, as a negative errno, what happened. It never logs and
 * never prints the gateway's answer. It is thread-safe: no mutable state but
 * the one-time load of libcurl and its curl_global_init() (ehr_dl_load_once()). */

#include <stddef.h>
#include <stdint.h>

#include "field.h" /* ehr_phone_normalize(), ehr_utf8_valid() */
#include "util.h"

/* Defaults applied when a timeout is 0, and the ceiling we accept: the login
 * process has its own deadline (sshd LoginGraceTime), and a gateway that
 * takes longer than this is down for our purposes. */
#define EHR_SMS_CONNECT_TIMEOUT_MS_DEFAULT 5000U
#define EHR_SMS_TIMEOUT_MS_DEFAULT 10000U
#define EHR_SMS_TIMEOUT_MS_MAX 120000U

/* Twilio's own limit on a message body, in bytes here (we send ASCII codes). */
#define EHR_SMS_MESSAGE_MAX 1600U
/* Longest API token file we read: real tokens are well under 200 bytes. */
#define EHR_SMS_TOKEN_MAX 4096U
/* "***" + two digits + NUL. */
#define EHR_PHONE_MASK_BYTES 6U
/* A Twilio alphanumeric sender ID is at most 11 characters. */
#define EHR_SMS_SENDER_ID_MAX 11U

enum ehr_sms_mode {
        EHR_SMS_GENERIC, /* POST application/json {"to": ..., "message": ...}, Authorization: Bearer */
        EHR_SMS_TWILIO,  /* POST x-www-form-urlencoded To, From, Body, HTTP basic auth SID:TOKEN */
        _EHR_SMS_MODE_MAX,
};

struct ehr_sms_gateway {
        enum ehr_sms_mode mode;
        /* https://...; plain http only to a loopback host (127.0.0.0/8, ::1, localhost).
         * Twilio mode: NULL or "" means https://api.twilio.com/2010-04-01/Accounts/<SID>/Messages.json. */
        const char *url;
        /* Bearer token (generic) or "ACCOUNT_SID:AUTH_TOKEN" (twilio), already read from a
         * root-only file by the caller (ehr_sms_read_token_file()). */
        const char *token;
        /* Twilio From: an E.164 number or an alphanumeric sender ID; unused in generic mode. */
        const char *from;
        /* Proxy URL from the root-owned config; NULL or "" = no proxy at all (the http_proxy,
         * https_proxy and all_proxy environment variables are ignored either way). */
        const char *proxy;
        /* CA bundle (PEM) to trust instead of the system store; NULL = system store. */
        const char *ca_file;
        /* 0 = the defaults above; at most EHR_SMS_TIMEOUT_MS_MAX. */
        uint64_t connect_timeout_ms, timeout_ms;
};

/* "generic" / "twilio". Returns 0 or -EINVAL. */
int ehr_sms_mode_from_string(const char *s, enum ehr_sms_mode *ret);
/* Returns NULL for a value out of range. */
const char *ehr_sms_mode_to_string(enum ehr_sms_mode m);

/* Check a gateway configuration without sending anything, for config loading and
 * `ehr2fa-admin check`: mode, URL (scheme, loopback rule, no user:password@ in it),
 * token shape (no control characters; twilio: "SID:TOKEN"), From (twilio), timeouts.
 * Returns 0 or -EINVAL. Does not block. */
int ehr_sms_gateway_check(const struct ehr_sms_gateway *g);

/* Send `message` (valid UTF-8, at most EHR_SMS_MESSAGE_MAX bytes) to `to_e164`
 * (already normalized: "+15551234567").
 *
 * Blocks for at most connect_timeout_ms to connect and timeout_ms in all (the
 * latter bounds the whole call, name resolution included). Redirects are not
 * followed. The request body and the Authorization header, which carry the
 * token and the one-time code, are wiped before returning.
 *
 * ret_http_status (may be NULL) is always written: the HTTP status of the answer,
 * or 0 when none was received.
 *
 * Returns 0 on a 2xx answer, or
 *   -EINVAL        bad arguments or gateway settings (see ehr_sms_gateway_check()),
 *                  or the ca_file cannot be loaded
 *   -ETIMEDOUT     connect or total timeout
 *   -ECONNREFUSED  nothing listens (gateway or configured proxy down)
 *   -EHOSTUNREACH  name does not resolve, or no route
 *   -EKEYREJECTED  TLS handshake failed or the certificate did not verify
 *   -ECONNRESET    connection dropped while sending or receiving
 *   -EREMOTEIO     the gateway answered, with a status other than 2xx (3xx, 4xx,
 *                  5xx: see *ret_http_status)
 *   -EBADE         the gateway's (or the proxy's) answer is not HTTP we understand
 * (These three are ours alone in core, so ehr_strerror() can say what happened;
 * -EPROTO is the store's schema version, see errors.h.)
 *   -ENOMEM
 *   -EIO           any other libcurl failure
 *
 * Calls curl_global_init(CURL_GLOBAL_DEFAULT) once per process (ehr_dl_load_once()); a program
 * that also uses libcurl elsewhere may call it first itself. Never calls
 * curl_global_cleanup() (we live inside a PAM module that may be unloaded and
 * reloaded; libcurl 7.84+ as built on Debian 12 reports CURL_VERSION_THREADSAFE). */
_warn_unused_result_ int ehr_sms_send(const struct ehr_sms_gateway *g, const char *to_e164, const char *message,
                                      long *ret_http_status);

/* The same send as ehr_sms_send(), from a child process: `sender` (an absolute path,
 * the installed ehr2fa-sms-send) is started with posix_spawn() and an environment of
 * our own, so nothing of the caller's environment (OPENSSL_CONF, SSL_CERT_FILE,
 * SSLKEYLOGFILE, proxies...) reaches libcurl or OpenSSL, which are never loaded into
 * the calling process. The request (token and code included) goes over a socket,
 * never argv, and is wiped. Safe in a multi-threaded host: no environment, signal
 * disposition or descriptor of the host is changed. Blocks at most timeout_ms (or
 * its default) plus a few seconds for the child to start; then kills it.
 * Returns what ehr_sms_send() returned in the child, or -ECHILD (the sender could
 * not be started, or died before answering), -ETIMEDOUT, -EINVAL, -E2BIG, -ENOMEM. */
_warn_unused_result_ int ehr_sms_send_isolated(const char *sender, const struct ehr_sms_gateway *g,
                                               const char *to_e164, const char *message, long *ret_http_status);

/* The child's side, for ehr2fa-sms-send: read one request from in_fd, send it with
 * ehr_sms_send(), write the answer to out_fd. Returns 0 once answered, else -errno. */
int ehr_sms_child_serve(int in_fd, int out_fd);

/* Read an API token from a file that must be a regular file owned by the effective
 * uid or root, not group/other accessible, and not a symlink (opened with
 * O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK and checked on the descriptor, see
 * ehr_open_checked()). Trailing whitespace (the newline an editor adds) is stripped;
 * an empty token or one with control characters inside is refused.
 * *ret is malloc'd: release it with ehr_sms_token_free(), which wipes it.
 * Returns 0, -EINVAL (empty, control characters), -EFBIG (over EHR_SMS_TOKEN_MAX),
 * -ENOMEM, or the errors of ehr_open_checked(). */
_warn_unused_result_ int ehr_sms_read_token_file(const char *path, char **ret);

/* Wipe and free a token from ehr_sms_read_token_file(). Accepts NULL, returns NULL. */
char *ehr_sms_token_free(char *token);
static inline void ehr_sms_token_freep(char **p) {
        *p = ehr_sms_token_free(*p);
}

/* "***66": the last two digits only, for logs, the audit log and prompts
 * ("code sent to the phone ending in 66"). A NULL or too short number gives "***".
 * Always NUL-terminates buf (when len > 0; EHR_PHONE_MASK_BYTES is enough);
 * returns buf. */
const char *ehr_phone_mask(const char *phone, char *buf, size_t len);
