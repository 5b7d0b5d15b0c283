/* SPDX-License-Identifier: GPL-2.0-or-later */
/* audit verify --file: check an export (CSV or JSON, as "audit export" writes
 * them) row by row with the store's key, and that consecutive rows link. */
#include <sodium.h>

#include "admin.h"
#include "audit.h"

/* The columns of an export, in the CSV's order; JSON objects carry the same names. */
static const char *const columns[] = { "seq",    "time",    "utc",    "user",     "actor", "type",
                                       "action", "details", "source", "prev_mac", "mac" };
#define EXPORT_FIELDS ELEMENTSOF(columns)
#define FIELD_BYTES_MAX (1U << 20)

/* Reads the next record into fields[EXPORT_FIELDS] (malloc'd strings). Returns 1, 0 at
 * the end, or -EBADMSG. */
typedef int (*record_reader)(FILE *f, char **fields);

static void free_fields(char **fields, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(fields[i]);
                fields[i] = NULL;
        }
}

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

static int csv_next(FILE *f, char **fields) {
        char *fl[EXPORT_FIELDS + 1];
        size_t n = 0;
        int r = csv_record(f, fl, EXPORT_FIELDS + 1, &n);
        if (r <= 0)
                return r;
        if (n != EXPORT_FIELDS) {
                free_fields(fl, n);
                return -EBADMSG;
        }
        memcpy(fields, fl, sizeof *fields * EXPORT_FIELDS);
        return 1;
}

/* --- JSON, as "audit export --format json" writes it: an array of flat objects
 * whose values are strings or whole numbers --- */

static int skip_ws(FILE *f) {
        int c;
        while ((c = getc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t')
                ;
        return c;
}

static int put(char **s, size_t *len, size_t *cap, char c) {
        if (*len + 2 > *cap) {
                size_t n = *cap ? 2 * *cap : 64;
                char *p = n <= FIELD_BYTES_MAX ? realloc(*s, n) : NULL;
                if (!p)
                        return -EBADMSG;
                *s = p, *cap = n;
        }
        (*s)[(*len)++] = c;
        (*s)[*len] = 0;
        return 0;
}

/* \uXXXX (json_string() writes these for control characters only) as UTF-8. */
static int put_unicode(FILE *f, char **s, size_t *len, size_t *cap) {
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
                int c = getc(f);
                int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                if (d < 0)
                        return -EBADMSG;
                v = v * 16 + (unsigned) d;
        }
        if (v >= 0xd800 && v <= 0xdfff)
                return -EBADMSG; /* not written by an export */
        if (v < 0x80)
                return put(s, len, cap, (char) v);
        if (v < 0x800)
                return put(s, len, cap, (char) (0xc0 | (v >> 6))) ?: put(s, len, cap, (char) (0x80 | (v & 0x3f)));
        return put(s, len, cap, (char) (0xe0 | (v >> 12))) ?: put(s, len, cap, (char) (0x80 | ((v >> 6) & 0x3f)))
                       ?: put(s, len, cap, (char) (0x80 | (v & 0x3f)));
}

/* The character after a backslash (other than u). */
static int put_escape(int c, char **s, size_t *len, size_t *cap) {
        switch (c) {
        case '"':
        case '\\':
        case '/':
                return put(s, len, cap, (char) c);
        case 'b':
                return put(s, len, cap, '\b');
        case 'f':
                return put(s, len, cap, '\f');
        case 'n':
                return put(s, len, cap, '\n');
        case 'r':
                return put(s, len, cap, '\r');
        case 't':
                return put(s, len, cap, '\t');
        default:
                return -EBADMSG;
        }
}

/* A string (after its opening quote) or a bare number (first digit c). */
static int json_value(FILE *f, int c, char **ret) {
        char *s = NULL;
        size_t len = 0, cap = 0;
        int r = put(&s, &len, &cap, 0);
        len = 0;
        if (c != '"') {
                for (; r == 0 && c >= '0' && c <= '9'; c = getc(f))
                        r = put(&s, &len, &cap, (char) c);
                ungetc(c, f);
                r = r < 0 || len == 0 ? -EBADMSG : 0;
        } else
                while (r == 0 && (c = getc(f)) != '"') {
                        if (c == EOF || (c >= 0 && c < 0x20))
                                r = -EBADMSG;
                        else if (c != '\\')
                                r = put(&s, &len, &cap, (char) c);
                        else if ((c = getc(f)) == 'u')
                                r = put_unicode(f, &s, &len, &cap);
                        else
                                r = put_escape(c, &s, &len, &cap);
                }
        if (r < 0) {
                free(s);
                return -EBADMSG;
        }
        *ret = s;
        return 0;
}

/* One member "key": value into its column; unknown keys are refused. */
static int json_member(FILE *f, char **fields) {
        _cleanup_free_ char *key = NULL;
        char *value = NULL;
        if (skip_ws(f) != '"' || json_value(f, '"', &key) < 0 || skip_ws(f) != ':' ||
            json_value(f, skip_ws(f), &value) < 0)
                return -EBADMSG;
        for (size_t i = 0; i < EXPORT_FIELDS; i++)
                if (streq(key, columns[i]) && !fields[i]) {
                        fields[i] = value;
                        return 0;
                }
        free(value);
        return -EBADMSG;
}

static int json_next(FILE *f, char **fields) {
        int c = skip_ws(f);
        if (c == ']')
                return skip_ws(f) == EOF ? 0 : -EBADMSG;
        if (c == ',')
                c = skip_ws(f);
        if (c != '{')
                return -EBADMSG;
        memset(fields, 0, sizeof *fields * EXPORT_FIELDS);
        do {
                if (json_member(f, fields) < 0) {
                        free_fields(fields, EXPORT_FIELDS);
                        return -EBADMSG;
                }
        } while ((c = skip_ws(f)) == ',');
        /* The export writes every column but "utc" may be absent from others' tools: it is not signed. */
        if (!fields[2])
                fields[2] = strdup("");
        for (size_t i = 0; i < EXPORT_FIELDS; i++)
                if (c != '}' || !fields[i]) {
                        free_fields(fields, EXPORT_FIELDS);
                        return -EBADMSG;
                }
        return 1;
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

/* One record against the key and the record before it. */
static bool record_ok(struct admin *a, char **fl, bool first, uint64_t last_seq, const uint8_t last_mac[EHR_HASH_BYTES],
                      struct ehr_audit_row *row, uint8_t mac[EHR_HASH_BYTES]) {
        uint8_t prev[EHR_HASH_BYTES], want[EHR_HASH_BYTES];
        if (ehr_parse_uint(fl[0], 1, INT64_MAX, &row->seq) < 0 || ehr_parse_uint(fl[1], 0, INT64_MAX, &row->time_sec) < 0 ||
            unhex(fl[9], prev, EHR_HASH_BYTES) < 0 || unhex(fl[10], mac, EHR_HASH_BYTES) < 0)
                return false;
        row->user = fl[3], row->actor = fl[4], row->type = fl[5], row->action = fl[6], row->details = fl[7],
        row->source = fl[8];
        ehr_audit_mac(ehr_store_keys(a->store), prev, row, want);
        if (sodium_memcmp(want, mac, EHR_HASH_BYTES) != 0)
                return false;
        /* Consecutive rows must link: a row taken out between them breaks this. */
        if (!first && row->seq == last_seq + 1 && sodium_memcmp(prev, last_mac, EHR_HASH_BYTES) != 0)
                return false;
        return first || row->seq > last_seq;
}

static int verify_records(struct admin *a, FILE *f, record_reader next, const char *format) {
        char *fl[EXPORT_FIELDS];
        size_t rows = 0;
        uint8_t last_mac[EHR_HASH_BYTES] = {};
        uint64_t last_seq = 0;
        int r;
        while ((r = next(f, fl)) > 0) {
                struct ehr_audit_row row = {};
                uint8_t mac[EHR_HASH_BYTES];
                bool ok = record_ok(a, fl, rows == 0, last_seq, last_mac, &row, mac);
                free_fields(fl, EXPORT_FIELDS);
                if (!ok) {
                        printf("audit export BROKEN: record %zu (seq %llu) was changed, reordered or does not come from this store\n",
                               rows + 1, (unsigned long long) row.seq);
                        return EXIT_TAMPER;
                }
                memcpy(last_mac, mac, EHR_HASH_BYTES);
                last_seq = row.seq;
                rows++;
        }
        if (r < 0) {
                printf("audit export BROKEN: malformed %s after record %zu\n", format, rows);
                return EXIT_TAMPER;
        }
        printf("audit export intact: %zu rows, each signed by this store's key\n", rows);
        return 0;
}

static int verify_file(struct admin *a, FILE *f, const char *path) {
        int c = skip_ws(f);
        if (c == '[')
                return verify_records(a, f, json_next, "JSON");
        ungetc(c, f);
        char *fl[EXPORT_FIELDS + 1];
        size_t n = 0;
        int r = csv_record(f, fl, EXPORT_FIELDS + 1, &n);
        bool header = r > 0 && n == EXPORT_FIELDS && streq(fl[0], "seq");
        if (r > 0)
                free_fields(fl, n);
        if (!header)
                return admin_err(EXIT_USAGE, "%s is not an audit export (ehr2fa-admin audit export --format csv|json)",
                                 path);
        return verify_records(a, f, csv_next, "CSV");
}

int audit_verify_file(struct admin *a, const char *path) {
        FILE *f = fopen(path, "re");
        if (!f)
                return admin_err(EXIT_NOTFOUND, "cannot open %s: %m", path);
        int r = verify_file(a, f, path);
        fclose(f);
        return r;
}
