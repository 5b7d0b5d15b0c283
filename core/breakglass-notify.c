/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Telling the reviewers of break-glass uses: a mail through core/mail.h to the
 * addresses of break_glass_reviewers, its outcome audited either way. */

#include <stdio.h>
#include <stdlib.h>

#include "audit.h"
#include "breakglass.h"
#include "mail.h"

#define LIST_SEPARATORS " \t,"
#define REVIEWERS_MAX 4096U /* a config line */

/* The addresses of break_glass_reviewers, pointing into buf. Returns how many. */
static size_t reviewers(const char *list, char *buf, size_t len, const char **to, size_t max) {
        size_t n = 0;
        snprintf(buf, len, "%s", list ?: "");
        for (char *save = NULL, *w = strtok_r(buf, LIST_SEPARATORS, &save); w && n < max;
             w = strtok_r(NULL, LIST_SEPARATORS, &save))
                to[n++] = w;
        return n;
}

int ehr_break_glass_mail(struct ehr_store *s, const struct ehr_config *c, const char *user, const char *what,
                         const char *subject, const char *body, uint64_t now_sec, const char *actor,
                         const char *source, long *ret_smtp_status) {
        char buf[REVIEWERS_MAX], details[256];
        const char *to[EHR_MAIL_RECIPIENTS_MAX];
        long status = 0;
        size_t n = reviewers(c->break_glass_reviewers, buf, sizeof buf, to, ELEMENTSOF(to));
        int r = n == 0 ? -EOPNOTSUPP : ehr_mail_send_config(c, to, n, subject, body, now_sec, &status);
        if (r == 0)
                snprintf(details, sizeof details, "%s; mailed to %zu reviewer(s)", what, n);
        else if (n == 0)
                snprintf(details, sizeof details, "%s; not sent: no break_glass_reviewers in ehr2fa.conf", what);
        else if (status)
                snprintf(details, sizeof details, "%s; not sent: %s (SMTP %ld)", what, ehr_strerror(r), status);
        else
                snprintf(details, sizeof details, "%s; not sent: %s", what, ehr_strerror(r));
        int a = ehr_audit_append(s, now_sec, user, actor, EHR_AUDIT_BREAK_GLASS,
                                 r == 0 ? "break-glass notification sent" : "break-glass notification failed",
                                 details, source);
        if (ret_smtp_status)
                *ret_smtp_status = status;
        return r < 0 ? r : a;
}

struct notice {
        char *subject, *body;
        char login[EHR_LOGIN_MAX + 1];
};

static int notice_of(const struct ehr_break_glass *u, void *userdata) {
        struct notice *n = userdata;
        snprintf(n->login, sizeof n->login, "%s", u->login);
        return ehr_break_glass_message(u, &n->subject, &n->body);
}

int ehr_break_glass_notify(struct ehr_store *s, const struct ehr_config *c, int64_t id, uint64_t now_sec,
                           const char *source, long *ret_smtp_status) {
        struct notice n = {};
        char what[64];
        int r = ehr_store_break_glass_get(s, id, notice_of, &n);
        if (r < 0)
                return r;
        snprintf(what, sizeof what, "use %lld", (long long) id);
        r = ehr_break_glass_mail(s, c, n.login, what, n.subject, n.body, now_sec, n.login, source, ret_smtp_status);
        free(n.subject);
        free(n.body);
        return r;
}
