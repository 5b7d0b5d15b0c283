/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <sodium.h>
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
        if (st->a->json) {
                printf("%s{", st->n ? ",\n " : "");
                json_row(row, NULL);
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
                        if (parse_time(optarg, c == 's' ? &st.since : &st.until) < 0)
                                return admin_err(EXIT_USAGE, "bad time '%s'", optarg);
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

/* --- verifying an export (CSV) --- */

/* Read one CSV record (RFC 4180: quoted fields, "" for a quote, newlines inside quotes). */
static int csv_record(FILE *f, char **fields, size_t max, size_t *ret_n) {
        size_t n = 0, len = 0, cap = 0;
        char *cur = NULL;
        bool quoted = false, any = false;
        int ch;
        for (;;) {
                ch = getc(f);
                if (ch == EOF && !any)
                        return 0;
                any = true;
                if (quoted) {
                        if (ch == EOF)
                                goto bad;
                        if (ch == '"') {
                                int next = getc(f);
                                if (next != '"') {
                                        quoted = false;
                                        ungetc(next, f);
                                        continue;
                                }
                        }
                } else if (ch == '"' && len == 0) {
                        quoted = true;
                        continue;
                } else if (ch == ',' || ch == '\n' || ch == EOF) {
                        if (n >= max)
                                goto bad;
                        if (len > 0 && cur[len - 1] == '\r' && ch != ',')
                                len--;
                        fields[n] = cur ? cur : strdup("");
                        if (!fields[n])
                                goto bad;
                        if (cur)
                                cur[len] = 0;
                        n++;
                        cur = NULL;
                        len = cap = 0;
                        if (ch != ',') {
                                *ret_n = n;
                                return 1;
                        }
                        continue;
                }
                if (len + 2 > cap) {
                        cap = cap ? 2 * cap : 64;
                        if (cap > 1 << 20)
                                goto bad;
                        char *p = realloc(cur, cap);
                        if (!p)
                                goto bad;
                        cur = p;
                }
                cur[len++] = (char) ch;
        }
bad:
        free(cur);
        for (size_t i = 0; i < n; i++)
                free(fields[i]);
        return -EBADMSG;
}

static int unhex(const char *s, uint8_t *out, size_t n) {
        if (strlen(s) != 2 * n)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                if (sscanf(s + 2 * i, "%2x", &v) != 1)
                        return -EBADMSG;
                out[i] = (uint8_t) v;
        }
        return 0;
}

#define CSV_FIELDS 11U

static int audit_verify_file(struct admin *a, const char *path) {
        FILE *f = fopen(path, "re");
        if (!f)
                return admin_err(EXIT_NOTFOUND, "cannot open %s: %m", path);
        char *fl[CSV_FIELDS + 1];
        size_t n = 0, rows = 0;
        uint8_t last_mac[EHR_HASH_BYTES] = {};
        uint64_t last_seq = 0;
        int r = csv_record(f, fl, CSV_FIELDS + 1, &n), result = 0;
        if (r <= 0 || n != CSV_FIELDS || !streq(fl[0], "seq")) {
                fclose(f);
                return admin_err(EXIT_USAGE, "%s is not an audit export in CSV (ehr2fa-admin audit export --format csv)", path);
        }
        for (size_t i = 0; i < n; i++)
                free(fl[i]);
        while ((r = csv_record(f, fl, CSV_FIELDS + 1, &n)) > 0) {
                struct ehr_audit_row row = {};
                uint8_t prev[EHR_HASH_BYTES], mac[EHR_HASH_BYTES];
                bool ok = n == CSV_FIELDS && ehr_parse_uint(fl[0], 1, INT64_MAX, &row.seq) >= 0 &&
                          ehr_parse_uint(fl[1], 0, INT64_MAX, &row.time_sec) >= 0 &&
                          unhex(fl[9], prev, EHR_HASH_BYTES) >= 0 && unhex(fl[10], mac, EHR_HASH_BYTES) >= 0;
                if (ok) {
                        row.user = fl[3], row.actor = fl[4], row.type = fl[5], row.action = fl[6], row.details = fl[7],
                        row.source = fl[8];
                        uint8_t want[EHR_HASH_BYTES];
                        ehr_audit_mac(ehr_store_keys(a->store), prev, &row, want);
                        ok = sodium_memcmp(want, mac, EHR_HASH_BYTES) == 0;
                        /* Consecutive rows must link: a row taken out between them breaks this. */
                        if (ok && rows > 0 && row.seq == last_seq + 1)
                                ok = sodium_memcmp(prev, last_mac, EHR_HASH_BYTES) == 0;
                        if (ok && rows > 0 && row.seq <= last_seq)
                                ok = false;
                }
                for (size_t i = 0; i < n; i++)
                        free(fl[i]);
                if (!ok) {
                        printf("audit export BROKEN: record %zu (seq %llu) was changed, reordered or does not come from this store\n",
                               rows + 1, (unsigned long long) row.seq);
                        result = EXIT_TAMPER;
                        break;
                }
                memcpy(last_mac, mac, EHR_HASH_BYTES);
                last_seq = row.seq;
                rows++;
        }
        fclose(f);
        if (r < 0 && result == 0) {
                printf("audit export BROKEN: malformed CSV after record %zu\n", rows);
                return EXIT_TAMPER;
        }
        if (result == 0)
                printf("audit export intact: %zu rows, each signed by this store's key\n", rows);
        return result;
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
        return admin_err(EXIT_USAGE, "usage: audit show [--user L] [--since T] [--until T] | audit verify [--file EXPORT.csv]\n"
                                     "       audit export --format csv|json [--user L] [--since T] [--until T]");
}
