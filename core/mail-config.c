/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Mail as ehr2fa.conf configures it, sent from ehr2fa-mail-send (child.h says why a
 * child): the settings, the credentials file, the request to the child and the
 * child's side. The request: the server's settings and credentials, the
 * recipients (one field, separated by newlines, which no valid address holds) and
 * the built message, in the order of enum field. */

#include <stdio.h>

#include "child.h"
#include "mail.h"
#include "sms.h" /* ehr_sms_read_token_file(): the same rules for a credentials file */

enum field { F_URL, F_PLAIN, F_USER, F_PASSWORD, F_FROM, F_CA_FILE, F_CONNECT_MS, F_TIMEOUT_MS, F_TO, F_MESSAGE, _F_MAX };

/* Fill m from the config, reading the credentials (USER:PASSWORD) into *creds,
 * which m->user and m->password then point into. */
static int server_from_config(const struct ehr_config *c, struct ehr_mail_server *m, char **creds) {
        *m = (struct ehr_mail_server) {
                .url = c->mail_url,
                .allow_plain = c->mail_allow_plain,
                .from = c->mail_from,
                .ca_file = c->mail_ca_file,
                .connect_timeout_ms = c->mail_connect_timeout_ms,
                .timeout_ms = c->mail_timeout_ms,
        };
        if (isempty(c->mail_url))
                return -EOPNOTSUPP;
        if (isempty(c->mail_from))
                return -EINVAL;
        if (isempty(c->mail_credentials_file))
                return 0;
        int r = ehr_sms_read_token_file(c->mail_credentials_file, creds);
        if (r < 0)
                return r;
        char *colon = strchr(*creds, ':');
        if (!colon || colon == *creds)
                return -EINVAL;
        *colon = 0;
        m->user = *creds;
        m->password = colon + 1;
        return 0;
}

int ehr_mail_config_check(const struct ehr_config *c) {
        _cleanup_(ehr_sms_token_freep) char *creds = NULL;
        struct ehr_mail_server m;
        int r = server_from_config(c, &m, &creds);
        return r < 0 ? r : ehr_mail_server_check(&m);
}

int ehr_mail_send_isolated(const char *sender, const struct ehr_mail_server *m, const char *const *to, size_t n,
                           const char *message, long *ret_smtp_status) {
        char cto[24], tmo[24], rcpt[EHR_MAIL_RECIPIENTS_MAX * (EHR_FIELD_EMAIL_MAX + 1)];
        size_t k = 0;

        *ret_smtp_status = 0;
        if (!m || !to || n == 0 || n > EHR_MAIL_RECIPIENTS_MAX || !message)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!ehr_mail_address_valid(to[i]))
                        return -EINVAL;
                k += (size_t) snprintf(rcpt + k, sizeof rcpt - k, "%s%s", i ? "\n" : "", to[i]);
        }
        snprintf(cto, sizeof cto, "%llu", (unsigned long long) m->connect_timeout_ms);
        snprintf(tmo, sizeof tmo, "%llu", (unsigned long long) m->timeout_ms);
        const char *f[_F_MAX] = {
                [F_URL] = m->url, [F_PLAIN] = m->allow_plain ? "1" : "0", [F_USER] = m->user,
                [F_PASSWORD] = m->password, [F_FROM] = m->from, [F_CA_FILE] = m->ca_file,
                [F_CONNECT_MS] = cto, [F_TIMEOUT_MS] = tmo, [F_TO] = rcpt, [F_MESSAGE] = message,
        };
        int r = ehr_child_call(sender, "ehr2fa-mail-send", f, _F_MAX, m->timeout_ms ?: EHR_MAIL_TIMEOUT_MS_DEFAULT,
                               ret_smtp_status);
        explicit_bzero(rcpt, sizeof rcpt);
        return r;
}

int ehr_mail_send_config(const struct ehr_config *c, const char *const *to, size_t n, const char *subject,
                         const char *body, uint64_t now_sec, long *ret_smtp_status) {
        _cleanup_(ehr_sms_token_freep) char *creds = NULL;
        _cleanup_(ehr_mail_message_freep) char *message = NULL;
        struct ehr_mail_server m;
        long status = 0;

        if (ret_smtp_status)
                *ret_smtp_status = 0;
        int r = server_from_config(c, &m, &creds);
        if (r < 0)
                return r;
        r = ehr_mail_message_build(m.from, c->issuer, to, n, subject, body, now_sec, &message);
        if (r < 0)
                return r;
        r = ehr_mail_send_isolated(c->mail_sender ?: EHR2FA_MAIL_SENDER_PATH, &m, to, n, message, &status);
        if (ret_smtp_status)
                *ret_smtp_status = status;
        return r;
}

/* --- the child's side --- */

static int serve_one(const char *const *f, void *userdata, long *ret_status) {
        struct ehr_mail_server m = {
                .url = f[F_URL], .allow_plain = streq(f[F_PLAIN], "1"), .from = f[F_FROM],
                .user = isempty(f[F_USER]) ? NULL : f[F_USER], .password = f[F_PASSWORD],
                .ca_file = isempty(f[F_CA_FILE]) ? NULL : f[F_CA_FILE],
        };
        const char *to[EHR_MAIL_RECIPIENTS_MAX];
        size_t n = 0;
        (void) userdata;
        if (ehr_parse_uint(f[F_CONNECT_MS], 0, EHR_MAIL_TIMEOUT_MS_MAX, &m.connect_timeout_ms) < 0 ||
            ehr_parse_uint(f[F_TIMEOUT_MS], 0, EHR_MAIL_TIMEOUT_MS_MAX, &m.timeout_ms) < 0)
                return -EINVAL;
        /* The recipients' field is ours to split: the request buffer is writable. */
        for (char *p = (char *) f[F_TO], *next; p && n < EHR_MAIL_RECIPIENTS_MAX; p = next) {
                next = strchr(p, '\n');
                if (next)
                        *next++ = 0;
                to[n++] = p;
        }
        return ehr_mail_send(&m, to, n, f[F_MESSAGE], ret_status);
}

int ehr_mail_child_serve(int in_fd, int out_fd) {
        return ehr_child_serve(in_fd, out_fd, _F_MAX, serve_one, NULL);
}
