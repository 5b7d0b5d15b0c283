/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Telling the reviewers of break-glass uses: a mail through core/mail.h to the
 * addresses of break_glass_reviewers, its outcome audited either way; from a
 * login, in a process of its own (ehr2fa-notify) that outlives it. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "breakglass.h"
#include "child.h"
#include "field.h"
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

void ehr_break_glass_notice_line(char *buf, size_t len, int64_t id, const char *login, int r, long smtp_status,
                                 const char *why) {
        int n = snprintf(buf, len, "break-glass use %lld%s%s: ", (long long) id, login ? " of " : "", login ?: "");
        size_t k = n < 0 ? 0 : (size_t) n < len ? (size_t) n : len;
        if (r == 0)
                snprintf(buf + k, len - k, "reviewers notified");
        else if (smtp_status && !why)
                snprintf(buf + k, len - k, "reviewers NOT notified: %s (SMTP %ld)", ehr_strerror(r), smtp_status);
        else
                snprintf(buf + k, len - k, "reviewers NOT notified: %s", why ?: ehr_strerror(r));
}

/* --- Telling them after the login has gone on (ehr2fa-notify) --- */

enum { N_CONFIG, N_ID, N_SOURCE, _N_MAX };
#define NOTICE_SOURCE_MAX 2048U /* "service=... rhost=... tty=..." */

struct lines {
        char *buf;
        size_t len, size;
};

static int add_line(const char *key, const char *value, void *userdata) {
        struct lines *l = userdata;
        int n = snprintf(l->buf + l->len, l->size - l->len, "%s=%s\n", key, value);
        if (n < 0 || (size_t) n >= l->size - l->len)
                return -E2BIG;
        l->len += (size_t) n;
        return 0;
}

int ehr_break_glass_notify_detached(const struct ehr_config *c, int64_t id, const char *source) {
        char idbuf[24];
        _cleanup_free_ char *buf = malloc(EHR_CHILD_REQUEST_MAX);
        if (!buf)
                return -ENOMEM;
        /* The config as this process has it (file and module arguments), as the keys
         * that differ from the defaults: what ehr2fad is sent too. */
        struct lines l = { buf, 0, EHR_CHILD_REQUEST_MAX - NOTICE_SOURCE_MAX - 64 };
        buf[0] = 0;
        int r = ehr_config_foreach_changed(c, add_line, &l);
        snprintf(idbuf, sizeof idbuf, "%lld", (long long) id);
        const char *f[_N_MAX] = { [N_CONFIG] = buf, [N_ID] = idbuf, [N_SOURCE] = source };
        long status = 0;
        /* Answered once ehr2fa-notify has forked the process that does the work: the
         * limit is its start (EHR_CHILD_START_MS), never the mail server's. */
        if (r >= 0)
                r = ehr_child_call(c->notifier ?: EHR2FA_NOTIFIER_PATH, "ehr2fa-notify", f, _N_MAX, 0, &status);
        explicit_bzero(buf, l.len);
        return r;
}

/* The config of the request: the changed keys over the defaults (c is initialised). */
static int config_of(char *lines, struct ehr_config *c) {
        for (char *save = NULL, *line = strtok_r(lines, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                if (!eq)
                        return -EINVAL;
                *eq = 0;
                int r = ehr_config_set(c, line, eq + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void wipe_fields(const char *const *f) {
        for (size_t i = 0; i < _N_MAX; i++)
                explicit_bzero((char *) f[i], strlen(f[i]));
}

/* The grandchild: the login has its answer and has gone on. Opens the store, mails
 * and audits (ehr_break_glass_notify()), reports the outcome, and exits. */
__attribute__((noreturn)) static void notify_now(struct ehr_config *c, int64_t id, char *source,
                                                 const struct ehr_notice_report *report) {
        char err[256] = "";
        struct ehr_store *s = NULL;
        long status = 0;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                (void) dup2(null, STDIN_FILENO);
                (void) dup2(null, STDOUT_FILENO);
        }
        int r = ehr_store_open_config(c, 0, &s, err, sizeof err);
        if (r >= 0)
                r = ehr_break_glass_notify(s, c, id, (uint64_t) time(NULL), source, &status);
        report->done(id, r, status, s ? NULL : err);
        ehr_store_free(s);
        ehr_config_done(c);
        free(source);
        _exit(r < 0 ? 1 : 0);
}

static int serve_notice(const char *const *f, void *userdata, long *ret_status) {
        struct ehr_config c;
        uint64_t id = 0;
        *ret_status = 0;
        ehr_config_init(&c);
        int r = ehr_parse_uint(f[N_ID], 1, INT64_MAX, &id);
        if (r >= 0)
                r = ehr_text_valid(f[N_SOURCE], NOTICE_SOURCE_MAX) ? 0 : -EINVAL;
        char *source = r < 0 ? NULL : strdup(f[N_SOURCE]);
        if (r >= 0 && !source)
                r = -ENOMEM;
        if (r >= 0)
                r = config_of((char *) f[N_CONFIG], &c);
        if (r < 0 && r != -ENOMEM)
                r = -EINVAL; /* not what a login sends, whichever field */
        wipe_fields(f);
        pid_t pid = r < 0 ? 0 : fork();
        if (r < 0 || pid != 0) {
                /* The answer (0: handed over) ends this process: the login reaps it at once. */
                if (pid < 0)
                        r = negative_errno();
                ehr_config_done(&c);
                free(source);
                return r;
        }
        notify_now(&c, (int64_t) id, source, userdata);
}

int ehr_break_glass_notify_serve(int in_fd, int out_fd, const struct ehr_notice_report *report) {
        return ehr_child_serve(in_fd, out_fd, _N_MAX, serve_notice, (void *) report);
}
