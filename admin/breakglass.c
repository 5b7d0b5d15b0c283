/* SPDX-License-Identifier: GPL-2.0-or-later */
/* breakglass list|review|summary: the uses of emergency access, for holders of
 * the Break the Glass Review permission (core/breakglass.h). */

#include "admin.h"
#include "breakglass.h"

#define BG_USAGE "usage: breakglass list [--unreviewed] | breakglass review ID --note TEXT | breakglass summary [--mail]"

struct bg_list {
        struct admin *a;
        size_t n, overdue;
};

static void json_use(const struct admin *a, const struct ehr_break_glass *u) {
        printf("{\"id\":%lld,\"time\":%llu", (long long) u->id, (unsigned long long) u->time_sec);
        json_field("login", u->login);
        json_field("host", u->host);
        json_field("service", u->service);
        json_field("source", u->source);
        json_field("reason", u->reason);
        printf(",\"reviewed\":%s,\"overdue\":%s", u->reviewed_sec ? "true" : "false",
               ehr_break_glass_overdue(&a->cfg, u, a->now_sec) ? "true" : "false");
        if (u->reviewed_sec) {
                printf(",\"reviewed_time\":%llu", (unsigned long long) u->reviewed_sec);
                json_field("reviewer", u->reviewer);
                json_field("note", u->note);
        }
        printf("}");
}

static int list_one(const struct ehr_break_glass *u, void *userdata) {
        struct bg_list *st = userdata;
        char when[ADMIN_TIME_BYTES], state[EHR_LOGIN_MAX + 32];
        bool late = ehr_break_glass_overdue(&st->a->cfg, u, st->a->now_sec);
        if (st->a->json) {
                printf("%s", st->n ? ",\n " : "");
                json_use(st->a, u);
        } else {
                if (u->reviewed_sec)
                        snprintf(state, sizeof state, "reviewed by %s", u->reviewer);
                else
                        snprintf(state, sizeof state, "%s", late ? "OVERDUE" : "unreviewed");
                printf("%5lld  %s  %-12s %-16s %-12s %-22s %s\n", (long long) u->id,
                       admin_format_time(u->time_sec, when, sizeof when), u->login, u->host, u->service, state,
                       u->reason);
                if (u->reviewed_sec)
                        printf("       note: %s\n", u->note);
        }
        st->n++;
        st->overdue += late;
        return 0;
}

static int bg_list(struct admin *a, int argc, char **argv) {
        bool unreviewed = argc == 3 && streq(argv[2], "--unreviewed");
        if (argc > 3 || (argc == 3 && !unreviewed))
                return admin_err(EXIT_USAGE, "%s", BG_USAGE);
        struct bg_list st = { .a = a };
        if (a->json)
                printf("[");
        else
                printf("%5s  %-25s  %-12s %-16s %-12s %-22s %s\n", "ID", "TIME", "USER", "HOST", "SERVICE", "STATE",
                       "REASON");
        int r = ehr_store_break_glass_foreach(a->store, unreviewed, a->now_sec, list_one, &st);
        if (a->json)
                printf("]\n");
        else if (r >= 0 && st.n == 0)
                printf("(no %sbreak-glass uses)\n", unreviewed ? "unreviewed " : "");
        return r < 0 ? admin_err(admin_exit_from_errno(r), "cannot list break-glass uses: %s", ehr_strerror(r)) : 0;
}

static int bg_review(struct admin *a, int argc, char **argv) {
        const char *note = NULL, *id_arg = NULL;
        uint64_t id;
        for (int i = 2; i < argc; i++) {
                if (streq(argv[i], "--note") && i + 1 < argc && !note)
                        note = argv[++i];
                else if (strncmp(argv[i], "--note=", 7) == 0 && !note)
                        note = argv[i] + 7;
                else if (!id_arg && argv[i][0] != '-')
                        id_arg = argv[i];
                else
                        return admin_err(EXIT_USAGE, "%s", BG_USAGE);
        }
        if (!id_arg || !note)
                return admin_err(EXIT_USAGE, "%s", BG_USAGE);
        int r = parse_uint_arg("ID", id_arg, 1, INT64_MAX, &id);
        if (r)
                return r;
        r = ehr_break_glass_review(a->store, (int64_t) id, a->actor, note, a->now_sec, a->source);
        switch (r) {
        case 0:
                printf("Break-glass use %llu reviewed by %s.\n", (unsigned long long) id, a->actor);
                return 0;
        case -ENOENT:
                return admin_err(EXIT_NOTFOUND, "no break-glass use %llu", (unsigned long long) id);
        case -EINVAL:
                return admin_err(EXIT_USAGE, "bad note: 1 to %u bytes of UTF-8 text, no control characters",
                                 EHR_BREAK_GLASS_NOTE_MAX);
        case -EEXIST:
                return admin_err(EXIT_FAIL, "break-glass use %llu is already reviewed", (unsigned long long) id);
        case -EBADR:
                (void) admin_audit(a, a->actor, "permission denied", "breakglass review refused: the caller's own use");
                return admin_err(EXIT_PERM, "permission denied: %s (use %llu is %s's own)", ehr_strerror(r),
                                 (unsigned long long) id, a->actor);
        default:
                return admin_err(admin_exit_from_errno(r), "cannot review break-glass use %llu: %s",
                                 (unsigned long long) id, ehr_strerror(r));
        }
}

static int bg_summary(struct admin *a, int argc, char **argv) {
        bool mail = argc == 3 && streq(argv[2], "--mail");
        if (argc > 3 || (argc == 3 && !mail))
                return admin_err(EXIT_USAGE, "%s", BG_USAGE);
        _cleanup_free_ char *subject = NULL, *body = NULL;
        size_t overdue = 0;
        int n = ehr_break_glass_summary(a->store, &a->cfg, a->now_sec, &subject, &body, &overdue);
        if (n < 0)
                return admin_err(admin_exit_from_errno(n), "cannot read break-glass uses: %s", ehr_strerror(n));
        if (n == 0) {
                printf("No unreviewed break-glass uses.\n");
                return 0;
        }
        if (!mail) {
                printf("%s\n\n%s", subject, body);
                return 0;
        }
        char what[96];
        long status = 0;
        snprintf(what, sizeof what, "daily summary: %d unreviewed, %zu overdue", n, overdue);
        int r = ehr_break_glass_mail(a->store, &a->cfg, "", what, subject, body, a->now_sec, a->actor, a->source,
                                     &status);
        if (r == -EOPNOTSUPP)
                return admin_err(EXIT_STORE, "cannot mail the summary: set break_glass_reviewers and mail_url in %s",
                                 a->conf_path ?: EHR_CONFIG_DEFAULT_PATH);
        if (r < 0 && status)
                return admin_err(EXIT_FAIL, "cannot mail the summary: %s (SMTP %ld)", ehr_strerror(r), status);
        if (r < 0)
                return admin_err(EXIT_FAIL, "cannot mail the summary: %s", ehr_strerror(r));
        printf("Summary of %d unreviewed break-glass use(s), %zu overdue, mailed to the reviewers.\n", n, overdue);
        return 0;
}

int verb_breakglass(struct admin *a, int argc, char **argv) {
        admin_take_json(a, &argc, argv);
        if (argc < 2)
                return admin_err(EXIT_USAGE, "%s", BG_USAGE);
        if (!streq(argv[1], "list") && !streq(argv[1], "review") && !streq(argv[1], "summary"))
                return admin_err(EXIT_USAGE, "%s", BG_USAGE);
        char what[32];
        snprintf(what, sizeof what, "breakglass %s", argv[1]);
        int r = admin_authorize(a, what, NULL, EHR_PERM_BREAK_GLASS_REVIEW, NULL);
        if (r)
                return r;
        if (streq(argv[1], "list"))
                return bg_list(a, argc, argv);
        if (streq(argv[1], "review"))
                return bg_review(a, argc, argv);
        if (streq(argv[1], "summary"))
                return bg_summary(a, argc, argv);
        return admin_err(EXIT_USAGE, "%s", BG_USAGE);
}
