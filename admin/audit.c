/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <sodium.h>
#include <time.h>

#include "admin.h"
#include "audit.h"

/* Accept a Unix time, "YYYY-MM-DD" or "YYYY-MM-DD HH:MM[:SS]" (local time), or a
 * time before now: "90s", "30m", "1h", "2d", "1w". */
static int parse_time(const char *s, uint64_t now, uint64_t *ret) {
        static const struct {
                char unit;
                uint64_t sec;
        } units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 } };
        size_t n = strlen(s);
        uint64_t v;
        if (ehr_parse_uint(s, 0, UINT32_MAX * 2ULL, ret) >= 0)
                return 0;
        for (size_t i = 0; n > 1 && i < ELEMENTSOF(units); i++) {
                char num[24];
                if (s[n - 1] != units[i].unit || n > sizeof num)
                        continue;
                snprintf(num, sizeof num, "%.*s", (int) (n - 1), s);
                if (ehr_parse_uint(num, 0, now / units[i].sec, &v) < 0)
                        return -EINVAL;
                *ret = now - v * units[i].sec;
                return 0;
        }
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
        const char *type; /* only rows of this type, or NULL */
        size_t n;
};

/* The fields of one row as JSON members (no braces), for show and export. */
static void json_row(const struct ehr_audit_row *row, const char *utc) {
        printf("\"seq\":%llu,\"time\":%llu", (unsigned long long) row->seq, (unsigned long long) row->time_sec);
        if (utc)
                printf(",\"utc\":\"%s\"", utc);
        const char *names[] = { "user", "actor", "type", "action", "details", "source" };
        const char *values[] = { row->user, row->actor, row->type, row->action, row->details, row->source };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                printf(",\"%s\":", names[i]);
                json_string(stdout, values[i]);
        }
}

static int show_row(const struct ehr_audit_row *row, void *userdata) {
        struct show_state *st = userdata;
        if (st->type && !streq(st->type, row->type))
                return 0;
        if (st->a->json) {
                printf("%s{", st->n ? ",\n " : "");
                json_row(row, NULL);
                printf("}");
        } else {
                char when[ADMIN_TIME_BYTES];
                admin_format_time(row->time_sec, when, sizeof when);
                printf("%6llu  %s  %-12s %-12s %-8s %-26s %s [%s]\n", (unsigned long long) row->seq, when, row->user,
                       row->actor, row->type, row->action, row->details, row->source);
        }
        st->n++;
        return 0;
}

#define TIME_HELP "use YYYY-MM-DD [HH:MM[:SS]], Unix seconds, or a time ago such as 30m, 1h, 2d, 1w"

static int audit_show(struct admin *a, int argc, char **argv) {
        static const struct option opts[] = {
                { "user", required_argument, NULL, 'u' },
                { "since", required_argument, NULL, 's' },
                { "until", required_argument, NULL, 't' },
                { "type", required_argument, NULL, 'T' },
                {},
        };
        uint64_t since = 0, until = UINT64_MAX;
        const char *user = NULL, *type = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'u':
                        user = optarg;
                        break;
                case 's':
                case 't':
                        if (parse_time(optarg, a->now_sec, c == 's' ? &since : &until) < 0)
                                return admin_err(EXIT_USAGE, "bad time '%s': " TIME_HELP, optarg);
                        break;
                case 'T':
                        if (!streq(optarg, EHR_AUDIT_AUTH) && !streq(optarg, EHR_AUDIT_ADMIN) &&
                            !streq(optarg, EHR_AUDIT_LOCKOUT) && !streq(optarg, EHR_AUDIT_BREAK_GLASS))
                                return admin_err(EXIT_USAGE, "bad type '%s': auth, admin, lockout or breakglass", optarg);
                        type = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind != argc)
                return admin_err(EXIT_USAGE, "usage: audit show [--user LOGIN] [--since T] [--until T] [--type auth|admin|lockout|breakglass]");

        struct show_state st = { .a = a, .type = type };
        if (a->json)
                printf("[");
        else
                printf("%6s  %-25s  %-12s %-12s %-8s %-26s %s\n", "SEQ", "TIME", "USER", "ACTOR", "TYPE", "ACTION",
                       "DETAILS [SOURCE]");
        int r = ehr_store_audit_foreach(a->store, since, until, user, show_row, &st);
        if (a->json)
                printf("]\n");
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot read the audit log: %s", ehr_strerror(r));
        return 0;
}

/* --- export: every row with the MAC of the row before it, so an export (even a
 * filtered one) can be checked row by row with the store's key --- */

struct export_state {
        struct admin *a;
        bool csv;
        uint64_t since, until;
        const char *user;
        uint8_t prev[EHR_HASH_BYTES];
        size_t n;
};

static void csv_field(const char *s) {
        putchar('"');
        for (; *s; s++) {
                if (*s == '"')
                        putchar('"');
                putchar(*s);
        }
        putchar('"');
}

static void hex(const uint8_t *b, size_t n, char *out) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[b[i] >> 4];
                out[2 * i + 1] = digits[b[i] & 15];
        }
        out[2 * n] = 0;
}

static int export_row(const struct ehr_audit_row *row, void *userdata) {
        struct export_state *st = userdata;
        char prev[2 * EHR_HASH_BYTES + 1], mac[2 * EHR_HASH_BYTES + 1], when[32];
        bool wanted = row->time_sec >= st->since && row->time_sec <= st->until && (!st->user || streq(st->user, row->user));
        if (wanted) {
                hex(st->prev, EHR_HASH_BYTES, prev);
                hex(row->mac, EHR_HASH_BYTES, mac);
                time_t t = (time_t) row->time_sec;
                struct tm tm;
                if (!gmtime_r(&t, &tm) || !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
                        snprintf(when, sizeof when, "@%llu", (unsigned long long) row->time_sec);
                if (st->csv) {
                        printf("%llu,%llu,%s,", (unsigned long long) row->seq, (unsigned long long) row->time_sec, when);
                        const char *fields[] = { row->user, row->actor, row->type, row->action, row->details, row->source };
                        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                                csv_field(fields[i]);
                                putchar(',');
                        }
                        printf("%s,%s\r\n", prev, mac);
                } else {
                        printf("%s{", st->n ? ",\n " : "");
                        json_row(row, when);
                        printf(",\"prev_mac\":\"%s\",\"mac\":\"%s\"}", prev, mac);
                }
                st->n++;
        }
        memcpy(st->prev, row->mac, EHR_HASH_BYTES);
        return 0;
}

static int audit_export(struct admin *a, int argc, char **argv) {
        static const struct option opts[] = {
                { "format", required_argument, NULL, 'f' }, { "user", required_argument, NULL, 'u' },
                { "since", required_argument, NULL, 's' },  { "until", required_argument, NULL, 't' },
                {},
        };
        struct export_state st = { .a = a, .csv = true, .until = UINT64_MAX };
        int c, r;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'f':
                        if (!streq(optarg, "csv") && !streq(optarg, "json"))
                                return admin_err(EXIT_USAGE, "bad format '%s': csv or json", optarg);
                        st.csv = streq(optarg, "csv");
                        break;
                case 'u':
                        st.user = optarg;
                        break;
                case 's':
                case 't':
                        if (parse_time(optarg, a->now_sec, c == 's' ? &st.since : &st.until) < 0)
                                return admin_err(EXIT_USAGE, "bad time '%s': " TIME_HELP, optarg);
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind != argc)
                return admin_err(EXIT_USAGE, "usage: audit export --format csv|json [--user L] [--since T] [--until T]");
        if ((r = admin_authorize(a, "audit export", NULL, EHR_PERM_AUDIT_EXPORT, NULL)))
                return r;
        if (st.csv)
                printf("seq,time,utc,user,actor,type,action,details,source,prev_mac,mac\r\n");
        else
                printf("[");
        /* All rows are walked, in order, to know each exported row's predecessor. */
        r = ehr_store_audit_foreach(a->store, 0, UINT64_MAX, NULL, export_row, &st);
        if (!st.csv)
                printf("]\n");
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot read the audit log: %s", ehr_strerror(r));
        char details[160];
        snprintf(details, sizeof details, "%zu rows exported as %s%s%s", st.n, st.csv ? "CSV" : "JSON",
                 st.user ? " for user " : "", st.user ?: "");
        r = admin_audit(a, st.user ?: "", "audit exported", details);
        return r < 0 ? admin_err(admin_exit_from_errno(r), "cannot record the export: %s", ehr_strerror(r)) : 0;
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
        if (argc >= 2 && streq(argv[1], "export"))
                return audit_export(a, argc - 1, argv + 1);
        int r = admin_authorize(a, "audit", NULL, EHR_PERM_AUDIT_EXPORT, EHR_PERM_MANAGE_ACCOUNTS);
        if (r)
                return r;
        if (argc >= 2 && streq(argv[1], "show"))
                return audit_show(a, argc - 1, argv + 1);
        if (argc == 2 && streq(argv[1], "verify"))
                return audit_verify(a);
        if (argc == 4 && streq(argv[1], "verify") && streq(argv[2], "--file"))
                return audit_verify_file(a, argv[3]);
        return admin_err(EXIT_USAGE, "usage: audit show [--user L] [--since T] [--until T] [--type auth|admin|lockout|breakglass] | audit verify [--file EXPORT]\n"
                                     "       audit export --format csv|json [--user L] [--since T] [--until T]");
}
