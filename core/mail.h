/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The mail client: one plain-text message to one or more recipients, over SMTP
 * through libcurl, sent from a child process (ehr2fa-mail-send, see child.h) so
 * that nothing of the caller's environment reaches libcurl or OpenSSL.
 *
 * The server, its credentials and the From address come from the root-owned
 * ehr2fa.conf (mail_* keys, ehr2fa.conf(5)); the password from a root-only file.
 * TLS is required: smtps:// (TLS from the start) or smtp:// with STARTTLS; a
 * cleartext session only when mail_allow_plain = yes says so, and never with
 * credentials to a host other than this one. Every call is bounded in time
 * (mail_connect_timeout_ms, mail_timeout_ms). Nothing here logs or audits: the
 * caller does, with the errno and the SMTP status returned. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "field.h"
#include "util.h"

#define EHR_MAIL_CONNECT_TIMEOUT_MS_DEFAULT 5000U
#define EHR_MAIL_TIMEOUT_MS_DEFAULT 15000U
#define EHR_MAIL_TIMEOUT_MS_MAX 120000U
/* RFC 5321: 100 recipients must be accepted; we never need more. */
#define EHR_MAIL_RECIPIENTS_MAX 100U
/* A subject is one line; the body a few paragraphs. */
#define EHR_MAIL_SUBJECT_MAX 200U
#define EHR_MAIL_BODY_MAX (32U * 1024U)
/* The credentials file: "USER:PASSWORD" on one line. */
#define EHR_MAIL_CREDENTIALS_MAX 1024U

/* ---- The one call most callers need ---- */

/* Send subject and body (UTF-8 text, lines separated by "\n"; no control
 * characters but "\n" and "\t") to the n addresses in to, as ehr2fa.conf
 * configures it, dated now_sec. Headers are built here (Date, Message-ID, From,
 * To, Subject encoded per RFC 2047 when not ASCII, MIME-Version, Content-Type):
 * nothing a caller passes can add a header or a recipient. Blocks at most
 * mail_timeout_ms plus a few seconds for the child to start.
 *
 * ret_smtp_status (may be NULL) is always written: the server's last SMTP reply
 * code, or 0 when none was received.
 *
 * Returns 0 once the server accepted the message for every recipient, or
 *   -EOPNOTSUPP    no mail_url: this host sends no mail
 *   -EINVAL        bad arguments (an address that is not a plain ASCII
 *                  local@domain, a subject with a line break, too long) or
 *                  settings (see ehr_mail_config_check()), or the CA file
 *   -ETIMEDOUT     the server did not connect or answer in time
 *   -ECONNREFUSED  nothing listens there
 *   -EHOSTUNREACH  the name does not resolve, or no route
 *   -EKEYREJECTED  TLS failed: handshake, certificate, or no STARTTLS offered
 *   -ECONNRESET    the connection dropped
 *   -EREMOTEIO     the server refused (a 4xx or 5xx reply: *ret_smtp_status),
 *                  the sender, a recipient, the message or our credentials
 *   -EBADE         the server's answer is not SMTP we understand
 *   -ECHILD        ehr2fa-mail-send (mail_sender) could not run or died
 *   -ENOMEM, -EIO, or the errors of reading mail_credentials_file
 *                  (ehr_open_checked(): -ENOENT, -ENOTUNIQ, -EPERM, ...) */
_warn_unused_result_ int ehr_mail_send_config(const struct ehr_config *c, const char *const *to, size_t n,
                                              const char *subject, const char *body, uint64_t now_sec,
                                              long *ret_smtp_status);

/* Check the mail_* settings without sending: URL scheme and host rules, From,
 * timeouts, and that the credentials file (when set) reads. Returns 0,
 * -EOPNOTSUPP (no mail_url) or the errors above. Does not block. */
int ehr_mail_config_check(const struct ehr_config *c);

/* Is s an address we send to: ASCII local@domain, a dot-atom on each side (no
 * quotes, comments, brackets, spaces or commas), at most 254 bytes? Stricter than
 * the stored email rule (field.h), so a stored value can never carry a second
 * recipient or a header into a message. */
bool ehr_mail_address_valid(const char *s);

/* ---- The parts, for ehr2fa-mail-send and tests ---- */

struct ehr_mail_server {
        const char *url;          /* smtp://HOST[:PORT] or smtps://HOST[:PORT] */
        bool allow_plain;         /* smtp:// without STARTTLS (mail_allow_plain) */
        const char *user, *password; /* NULL user: no AUTH */
        const char *from;         /* the envelope sender, an address */
        const char *ca_file;      /* NULL: the system's trust store */
        uint64_t connect_timeout_ms, timeout_ms; /* 0: the defaults */
};

/* Check a server's settings. Returns 0 or -EINVAL (or -ELIBACC: no libcurl). */
int ehr_mail_server_check(const struct ehr_mail_server *m);

/* Build the whole message (CRLF line ends, headers and body) into a malloc'd
 * string; display (may be NULL) is the From line's name. Release it with
 * ehr_mail_message_free(), which wipes it (it may carry a token). Returns 0 or
 * -EINVAL, -ENOMEM. */
int ehr_mail_message_build(const char *from, const char *display, const char *const *to, size_t n,
                           const char *subject, const char *body, uint64_t now_sec, char **ret);
char *ehr_mail_message_free(char *m);
static inline void ehr_mail_message_freep(char **m) {
        *m = ehr_mail_message_free(*m);
}

/* Send a built message in this process (libcurl). Returns as ehr_mail_send_config(). */
_warn_unused_result_ int ehr_mail_send(const struct ehr_mail_server *m, const char *const *to, size_t n,
                                       const char *message, long *ret_smtp_status);

/* The same, from the child sender (an absolute path). */
_warn_unused_result_ int ehr_mail_send_isolated(const char *sender, const struct ehr_mail_server *m,
                                                const char *const *to, size_t n, const char *message,
                                                long *ret_smtp_status);

/* The child's side, for ehr2fa-mail-send. Returns 0 once answered, else -errno. */
int ehr_mail_child_serve(int in_fd, int out_fd);
