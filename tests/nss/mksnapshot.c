/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mksnapshot: write an NSS snapshot from a text spec, for tests and benches.
 *
 *   mksnapshot SPEC OUT        SPEC ("-" = stdin) lines, '#' comments:
 *                                user:NAME:UID:GID:GECOS:DIR:SHELL
 *                                group:NAME:GID:MEMBER,MEMBER,...
 *   mksnapshot --check FILE    open with full verification; print the counts
 *   mksnapshot --dump FILE     print the users and groups, passwd/group style
 *
 * Exit 0 on success, 1 on a failure of the library (its errno is printed),
 * 2 on a usage or spec syntax error. */

#include <stdio.h>

#include "snapshot.h"
#include "util.h"

#define SPEC_LINE_MAX 65536U
#define SPEC_FIELDS_MAX 8U

struct spec {
        struct ehr_snap_user *u;
        size_t nu, cu;
        struct ehr_snap_group *g;
        size_t ng, cg;
};

static void spec_done(struct spec *s) {
        for (size_t i = 0; i < s->nu; i++)
                free((char *) s->u[i].name); /* one allocation per line, see parse_line() */
        for (size_t i = 0; i < s->ng; i++) {
                free((char *) s->g[i].name);
                free((void *) s->g[i].members);
        }
        free(s->u);
        free(s->g);
}

/* Split on ':' in place, keeping empty fields. */
static size_t split(char *line, char sep, char **f, size_t max) {
        size_t n = 0;
        for (char *p = line;; p++) {
                if (n == max)
                        return max + 1;
                f[n++] = p;
                p = strchr(p, sep);
                if (!p)
                        return n;
                *p = '\0';
        }
}

static int parse_id(const char *s, uint32_t *ret) {
        uint64_t v;
        int r = ehr_parse_uint(s, 0, UINT32_MAX, &v);
        if (r < 0)
                return r;
        *ret = (uint32_t) v;
        return 0;
}

static int parse_line(struct spec *s, const char *text) {
        char *line = strdup(text), *f[SPEC_FIELDS_MAX];
        if (!line)
                return -ENOMEM;
        size_t n = split(line, ':', f, SPEC_FIELDS_MAX);

        if (n == 7 && streq(f[0], "user")) {
                struct ehr_snap_user u = { .name = f[1], .gecos = f[4], .dir = f[5], .shell = f[6] };
                if (parse_id(f[2], &u.uid) < 0 || parse_id(f[3], &u.gid) < 0)
                        goto bad;
                if (s->nu == s->cu) {
                        size_t c = s->cu ? s->cu * 2 : 16;
                        struct ehr_snap_user *q = reallocarray(s->u, c, sizeof *q);
                        if (!q)
                                goto nomem;
                        s->u = q;
                        s->cu = c;
                }
                /* f[1] is the start of `line`: freeing the name frees the line. */
                memmove(line, f[1], strlen(f[1]) + 1);
                u.name = line;
                s->u[s->nu++] = u;
                return 0;
        }
        if (n == 4 && streq(f[0], "group")) {
                struct ehr_snap_group g = { .name = f[1] };
                if (parse_id(f[2], &g.gid) < 0)
                        goto bad;
                size_t nm = 0;
                if (*f[3]) {
                        nm = 1;
                        for (const char *p = f[3]; *p; p++)
                                nm += *p == ',';
                }
                char **m = calloc(nm + 1, sizeof(char *));
                if (!m)
                        goto nomem;
                if (nm > 0)
                        (void) split(f[3], ',', m, nm);
                g.members = (const char *const *) m;
                g.n_members = nm;
                if (s->ng == s->cg) {
                        size_t c = s->cg ? s->cg * 2 : 16;
                        struct ehr_snap_group *q = reallocarray(s->g, c, sizeof *q);
                        if (!q) {
                                free(m);
                                goto nomem;
                        }
                        s->g = q;
                        s->cg = c;
                }
                memmove(line, f[1], strlen(f[1]) + 1);
                g.name = line;
                s->g[s->ng++] = g;
                return 0;
        }
bad:
        free(line);
        return -EINVAL;
nomem:
        free(line);
        return -ENOMEM;
}

static int cmd_write(const char *spec_path, const char *out) {
        struct spec s = {};
        FILE *f = streq(spec_path, "-") ? stdin : fopen(spec_path, "re");
        if (!f) {
                fprintf(stderr, "mksnapshot: %s: %s\n", spec_path, strerror(errno));
                return 1;
        }
        char *line = NULL;
        size_t cap = 0;
        unsigned lineno = 0;
        int ret = 0;
        ssize_t k;
        while ((k = getline(&line, &cap, f)) >= 0) {
                lineno++;
                if (k > 0 && line[k - 1] == '\n')
                        line[--k] = '\0';
                if (line[0] == '\0' || line[0] == '#')
                        continue;
                if ((size_t) k > SPEC_LINE_MAX || parse_line(&s, line) < 0) {
                        fprintf(stderr, "mksnapshot: %s:%u: bad line\n", spec_path, lineno);
                        ret = 2;
                        break;
                }
        }
        free(line);
        if (f != stdin)
                fclose(f);
        _cleanup_free_ char *abs = NULL;
        if (ret == 0 && out[0] != '/') {
                /* The library wants an absolute path: it fsyncs the directory by name. */
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd || asprintf(&abs, "%s/%s", cwd, out) < 0) {
                        abs = NULL;
                        ret = 1;
                }
                out = abs;
        }
        if (ret == 0) {
                int r = ehr_snapshot_write(out, s.u, s.nu, s.g, s.ng);
                if (r < 0) {
                        fprintf(stderr, "mksnapshot: %s: %s\n", out, strerror(-r));
                        ret = 1;
                }
        }
        spec_done(&s);
        return ret;
}

static int cmd_read(const char *path, bool dump) {
        _cleanup_(ehr_snapshot_freep) struct ehr_snapshot *s = NULL;
        int r = ehr_snapshot_open(path, EHR_SNAPSHOT_VERIFY, &s);
        if (r < 0) {
                fprintf(stderr, "mksnapshot: %s: %s\n", path, strerror(-r));
                return 1;
        }
        if (!dump) {
                printf("users=%zu groups=%zu\n", ehr_snapshot_n_users(s), ehr_snapshot_n_groups(s));
                return 0;
        }
        struct ehr_snap_user u;
        for (size_t i = 0; ehr_snapshot_user_at(s, i, &u) >= 0; i++)
                printf("user:%s:%u:%u:%s:%s:%s\n", u.name, u.uid, u.gid, u.gecos, u.dir, u.shell);
        struct ehr_snap_group_view g;
        for (size_t i = 0; ehr_snapshot_group_at(s, i, &g) >= 0; i++) {
                printf("group:%s:%u:", g.name, g.gid);
                for (size_t m = 0; m < g.n_members; m++) {
                        const char *name;
                        if (ehr_snapshot_group_member(s, &g, m, &name) < 0)
                                return 1;
                        printf("%s%s", m ? "," : "", name);
                }
                printf("\n");
        }
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 3 && streq(argv[1], "--check"))
                return cmd_read(argv[2], false);
        if (argc == 3 && streq(argv[1], "--dump"))
                return cmd_read(argv[2], true);
        if (argc == 3 && argv[1][0] != '-')
                return cmd_write(argv[1], argv[2]);
        if (argc == 3 && streq(argv[1], "-"))
                return cmd_write(argv[1], argv[2]);
        fprintf(stderr, "usage: mksnapshot SPEC OUT | --check FILE | --dump FILE\n");
        return 2;
}
