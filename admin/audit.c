/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <time.h>

#include "admin.h"
#include "audit.h"

/* Accept a Unix time, "YYYY-MM-DD" or "YYYY-MM-DD HH:MM[:SS]" (local time). */
static int parse_time(const char *s, uint64_t *ret) {
        if (ehr_parse_uint(s, 0, UINT32_MAX * 2ULL, ret) >= 0)
                return 0;
        struct tm tm = {};
        const char *end = strptime(s, "%Y-%m-%d", &tm);
        if (end && *end == ' ')
                end = strptime(end + 1, strchr(end, ':') != strrchr(end, ':') ? "%H:%M:%S" : "%H:%M", &tm);
        if (!end || *end)
                return -EINVAL;
        tm.tm_isdst = -1;
        time_t t = mktime(&tm);
        if (t < 0)
                return -EINVAL;
        *ret = (uint64_t) t;
        return 0;
}

struct show_state {
        struct admin *a;
        size_t n;
};

static int show_row(const struct ehr_audit_row *row, void *userdata) {
        struct show_state *st = userdata;
        if (st->a->json) {
                printf("%s{\"seq\":%llu,\"time\":%llu,\"user\":", st->n ? ",\n " : "", (unsigned long long) row->seq,
                       (unsigned long long) row->time_sec);
                json_string(stdout, row->user);
                printf(",\"actor\":");
                json_string(stdout, row->actor);
                printf(",\"type\":");
                json_string(stdout, row->type);
                printf(",\"action\":");
                json_string(stdout, row->action);
                printf(",\"details\":");
                json_string(stdout, row->details);
                printf(",\"source\":");
                json_string(stdout, row->source);
                printf("}");
        } else {
                char when[32];
                time_t t = (time_t) row->time_sec;
                struct tm tm;
                if (localtime_r(&t, &tm))
                        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
                else
                        snprintf(when, sizeof when, "@%llu", (unsigned long long) row->time_sec);
                printf("%6llu  %s  %-12s %-12s %-8s %-26s %s [%s]\n", (unsigned long long) row->seq, when, row->user,
                       row->actor, row->type, row->action, row->details, row->source);
        }
        st->n++;
        return 0;
}

static int audit_show(struct admin *a, int argc, char **argv) {
        static const struct option opts[] = {
                { "user", required_argument, NULL, 'u' },
                { "since", required_argument, NULL, 's' },
                { "until", required_argument, NULL, 't' },
                {},
        };
        uint64_t since = 0, until = UINT64_MAX;
        const char *user = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'u':
                        user = optarg;
                        break;
                case 's':
                case 't':
                        if (parse_time(optarg, c == 's' ? &since : &until) < 0)
                                return admin_err(EXIT_USAGE, "bad time '%s': use YYYY-MM-DD [HH:MM[:SS]] or Unix seconds",
                                                 optarg);
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind != argc)
                return admin_err(EXIT_USAGE, "usage: audit show [--user LOGIN] [--since T] [--until T]");

        struct show_state st = { .a = a };
        if (a->json)
                printf("[");
        else
                printf("%6s  %-19s  %-12s %-12s %-8s %-26s %s\n", "SEQ", "TIME", "USER", "ACTOR", "TYPE", "ACTION",
                       "DETAILS [SOURCE]");
        int r = ehr_store_audit_foreach(a->store, since, until, user, show_row, &st);
        if (a->json)
                printf("]\n");
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot read the audit log: %s", ehr_strerror(r));
        return 0;
}

static int audit_verify(struct admin *a) {
        uint64_t rows = 0, bad = 0;
        int r = ehr_audit_verify(a->store, &rows, &bad);
        if (r == -EBADMSG) {
                printf("audit log BROKEN: row %llu was changed, removed, inserted or reordered\n",
                       (unsigned long long) bad);
                return EXIT_TAMPER;
        }
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot verify the audit log: %s", ehr_strerror(r));
        printf("audit log intact: %llu rows\n", (unsigned long long) rows);
        return 0;
}

int verb_audit(struct admin *a, int argc, char **argv) {
        admin_take_json(a, &argc, argv);
        int r = admin_authorize(a, "audit", NULL, EHR_PERM_AUDIT_EXPORT, EHR_PERM_MANAGE_ACCOUNTS);
        if (r)
                return r;
        if (argc >= 2 && streq(argv[1], "show"))
                return audit_show(a, argc - 1, argv + 1);
        if (argc == 2 && streq(argv[1], "verify"))
                return audit_verify(a);
        return admin_err(EXIT_USAGE, "usage: audit show [--user L] [--since T] [--until T] | audit verify");
}
