/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "audit.h"
#include "breakglass.h"
#include "policy.h"
#include "util.h"

bool ehr_break_glass_allowed(const struct ehr_config *c, const char *service) {
        return c->break_glass && service && !ehr_config_step_up_service(service);
}

bool ehr_break_glass_is_keyword(const char *answer) {
        return answer && strcasecmp(answer, EHR_BREAK_GLASS_KEYWORD) == 0;
}

int ehr_break_glass_reason_check(const struct ehr_config *c, const char *reason) {
        if (!ehr_text_valid(reason, SIZE_MAX))
                return -EINVAL;
        size_t n = strlen(reason);
        if (n > EHR_BREAK_GLASS_REASON_MAX)
                return -ERANGE;
        const char *b = reason;
        while (*b == ' ')
                b++, n--;
        while (n > 0 && b[n - 1] == ' ')
                n--;
        return ehr_utf8_chars(b, n) >= c->break_glass_reason_min ? 0 : -ERANGE;
}

bool ehr_break_glass_overdue(const struct ehr_config *c, const struct ehr_break_glass *u, uint64_t now_sec) {
        return u->reviewed_sec == 0 && now_sec >= u->time_sec && now_sec - u->time_sec >= c->break_glass_review_after;
}

/* A refusal, audited in a transaction of its own after the caller's (if any) rolled back. */
static void audit_refusal(struct ehr_store *s, const struct ehr_user *u, const char *host, uint64_t now_sec,
                          const char *why, const char *source) {
        char details[256];
        snprintf(details, sizeof details, "host=%s; %s", host, why);
        ehr_store_rollback(s);
        (void) ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_BREAK_GLASS, "break-glass refused",
                                details, source);
}

static const char *limit_words(const struct ehr_config *c, enum ehr_break_glass_limit l, char *buf, size_t len) {
        if (l == EHR_BREAK_GLASS_LIMIT_USER)
                snprintf(buf, len, "per-user limit reached (%llu in %llu s)", (unsigned long long) c->break_glass_user_max,
                         (unsigned long long) c->break_glass_user_interval);
        else
                snprintf(buf, len, "per-host limit reached (%llu in %llu s)", (unsigned long long) c->break_glass_host_max,
                         (unsigned long long) c->break_glass_host_interval);
        return buf;
}

static uint64_t since(uint64_t now_sec, uint64_t interval) {
        return now_sec > interval ? now_sec - interval + 1 : 0;
}

/* The use recorded and audited inside the open transaction. */
static int record_use(struct ehr_store *s, const struct ehr_config *c, const struct ehr_break_glass *use,
                      int64_t *ret_id, enum ehr_break_glass_limit *reterr_limit) {
        struct ehr_break_glass_limits lim = {
                .user_since_sec = since(use->time_sec, c->break_glass_user_interval),
                .user_max = c->break_glass_user_max,
                .host_since_sec = since(use->time_sec, c->break_glass_host_interval),
                .host_max = c->break_glass_host_max,
        };
        int64_t id;
        int r = ehr_store_break_glass_add(s, use, &lim, &id, reterr_limit);
        if (r < 0)
                return r;
        char details[EHR_BREAK_GLASS_REASON_MAX + EHR_BREAK_GLASS_HOST_MAX + 128];
        snprintf(details, sizeof details, "id=%lld unreviewed; host=%s service=%s; reason: %s", (long long) id,
                 use->host, use->service, use->reason);
        r = ehr_audit_append(s, use->time_sec, use->login, use->login, EHR_AUDIT_BREAK_GLASS, "break-glass access",
                             details, use->source);
        if (r >= 0)
                *ret_id = id;
        return r;
}

int ehr_break_glass_use(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u, const char *host,
                        const char *service, const char *reason, uint64_t now_sec, const char *source,
                        int64_t *ret_id, uint64_t *reterr_until, enum ehr_break_glass_limit *reterr_limit) {
        char why[128];
        int r = ehr_break_glass_reason_check(c, reason);
        if (r < 0) {
                snprintf(why, sizeof why, "reason %s (at least %llu characters)",
                         r == -ERANGE ? "too short or too long" : "not plain text",
                         (unsigned long long) c->break_glass_reason_min);
                audit_refusal(s, u, host, now_sec, why, source);
                return r;
        }
        struct ehr_break_glass use = {
                .login = u->login, .host = host, .service = service, .source = source ?: "", .reason = reason,
                .time_sec = now_sec,
        };
        struct ehr_failures f;
        enum ehr_break_glass_limit limit = EHR_BREAK_GLASS_LIMIT_USER;
        if ((r = ehr_store_begin(s)) < 0)
                return r;
        if ((r = ehr_store_failures_get(s, u->id, &f)) < 0)
                goto fail;
        uint64_t until = ehr_policy_locked_until(&f, now_sec);
        if (until != 0) {
                audit_refusal(s, u, host, now_sec, "account locked after too many failed codes", source);
                *reterr_until = until;
                return -EAGAIN;
        }
        r = record_use(s, c, &use, ret_id, &limit);
        if (r == -EUSERS) {
                audit_refusal(s, u, host, now_sec, limit_words(c, limit, why, sizeof why), source);
                *reterr_limit = limit;
                return r;
        }
        if (r >= 0)
                r = ehr_store_commit(s);
        if (r < 0)
                goto fail;
        /* The use must survive a power cut as the use of a code does. */
        return ehr_store_sync(s) < 0 ? -EROFS : 0;
fail:
        ehr_store_rollback(s);
        return r;
}

int ehr_break_glass_review(struct ehr_store *s, int64_t id, const char *reviewer, const char *note, uint64_t now_sec,
                           const char *source) {
        char details[EHR_BREAK_GLASS_NOTE_MAX + 64];
        int r = ehr_store_begin(s);
        if (r < 0)
                return r;
        r = ehr_store_break_glass_review(s, id, reviewer, note, now_sec);
        if (r >= 0) {
                snprintf(details, sizeof details, "id=%lld; note: %s", (long long) id, note);
                r = ehr_audit_append(s, now_sec, "", reviewer, EHR_AUDIT_BREAK_GLASS, "break-glass reviewed", details,
                                     source);
        }
        return ehr_store_end(s, r);
}

static const char *utc(uint64_t t, char *buf, size_t len) {
        time_t tt = (time_t) t;
        struct tm tm;
        if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
                snprintf(buf, len, "@%llu", (unsigned long long) t);
        return buf;
}

/* One use as lines of a mail body. */
static void write_use(FILE *f, const struct ehr_break_glass *u, bool overdue) {
        char when[64];
        fprintf(f, "Use %lld%s\n  user:    %s\n  host:    %s\n  service: %s\n  time:    %s\n"
                   "  from:    %s\n  reason:  %s\n\n",
                (long long) u->id, overdue ? " (OVERDUE for review)" : "", u->login, u->host, u->service,
                utc(u->time_sec, when, sizeof when), *u->source ? u->source : "-", u->reason);
}

static int close_body(FILE *f, char **body, char *subject, char **ret_subject, char **ret_body) {
        if (fclose(f) != 0 || !subject) {
                free(*body);
                free(subject);
                return -ENOMEM;
        }
        *ret_subject = subject;
        *ret_body = *body;
        return 0;
}

int ehr_break_glass_message(const struct ehr_break_glass *u, char **ret_subject, char **ret_body) {
        char *body = NULL, *subject = NULL;
        size_t n;
        FILE *f = open_memstream(&body, &n);
        if (!f)
                return -ENOMEM;
        fprintf(f, "%s logged in on %s WITHOUT a second factor (break the glass).\n\n", u->login, u->host);
        write_use(f, u, false);
        fprintf(f, "Review it (Break the Glass Review permission):\n"
                   "  ehr2fa-admin breakglass review %lld --note TEXT\n",
                (long long) u->id);
        if (asprintf(&subject, "[ehr2fa] Break-the-glass access: %s on %s", u->login, u->host) < 0)
                subject = NULL;
        return close_body(f, &body, subject, ret_subject, ret_body);
}

struct summary {
        const struct ehr_config *c;
        uint64_t now_sec;
        FILE *f;
        size_t n, overdue;
};

static int summary_one(const struct ehr_break_glass *u, void *userdata) {
        struct summary *st = userdata;
        bool late = ehr_break_glass_overdue(st->c, u, st->now_sec);
        write_use(st->f, u, late);
        st->n++;
        st->overdue += late;
        return 0;
}

int ehr_break_glass_summary(struct ehr_store *s, const struct ehr_config *c, uint64_t now_sec, char **ret_subject,
                            char **ret_body, size_t *ret_overdue) {
        char *body = NULL, *subject = NULL;
        size_t len;
        struct summary st = { .c = c, .now_sec = now_sec };
        if (!(st.f = open_memstream(&body, &len)))
                return -ENOMEM;
        int r = ehr_store_break_glass_foreach(s, true, now_sec, summary_one, &st);
        if (r < 0 || st.n == 0) {
                fclose(st.f);
                free(body);
                return r < 0 ? r : 0;
        }
        fprintf(st.f, "%zu unreviewed break-glass use(s), %zu of them older than %llu s.\n"
                      "List them: ehr2fa-admin breakglass list --unreviewed\n",
                st.n, st.overdue, (unsigned long long) c->break_glass_review_after);
        if (asprintf(&subject, "[ehr2fa] %zu unreviewed break-glass use(s), %zu overdue", st.n, st.overdue) < 0)
                subject = NULL;
        r = close_body(st.f, &body, subject, ret_subject, ret_body);
        if (r < 0)
                return r;
        *ret_overdue = st.overdue;
        return (int) st.n;
}
