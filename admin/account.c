/* SPDX-License-Identifier: GPL-2.0-or-later */
/* System accounts: uids, groups, locking, and publishing the NSS snapshot that
 * libnss_ehr.so.2 serves to every process (write, fsync, rename). */
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include "admin.h"
#include "snapshot.h"

#define NOLOGIN "/usr/sbin/nologin"

const char *admin_snapshot_path(const struct admin *a) {
        return a->cfg.nss_snapshot ?: EHR_SNAPSHOT_DEFAULT_PATH;
}

/* Is id free everywhere: the store, and the system's own users and groups? */
static int id_free(struct admin *a, int64_t id) {
        int r = ehr_store_id_used(a->store, id);
        if (r != 0)
                return r < 0 ? r : 0;
        /* getpwuid() also asks libnss_ehr when installed: that is the store again, and harmless. */
        return getpwuid((uid_t) id) == NULL && getgrgid((gid_t) id) == NULL;
}

int admin_allocate_uid(struct admin *a, int64_t *ret) {
        for (uint64_t id = a->cfg.uid_min; id <= a->cfg.uid_max; id++) {
                int r = id_free(a, (int64_t) id);
                if (r < 0)
                        return r;
                if (r) {
                        *ret = (int64_t) id;
                        return 0;
                }
        }
        return -ENOSPC;
}

int admin_check_uid(struct admin *a, int64_t uid) {
        int r = id_free(a, uid);
        return r < 0 ? r : r ? 0 : -EEXIST;
}

/* --- publishing --- */

struct pub {
        struct ehr_snap_user *users;
        struct ehr_snap_group *groups;
        char **strings;
        size_t nu, ng, ns, cap_u, cap_g, cap_s;
        struct admin *a;
        /* members of the group being collected */
        const char **members;
        size_t nm, cap_m;
};

static char *keep(struct pub *p, const char *s) {
        if (p->ns == p->cap_s) {
                size_t cap = p->cap_s ? 2 * p->cap_s : 64;
                char **n = realloc(p->strings, cap * sizeof *n);
                if (!n)
                        return NULL;
                p->strings = n, p->cap_s = cap;
        }
        return p->strings[p->ns] = strdup(s), p->strings[p->ns] ? p->strings[p->ns++] : NULL;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
        if (n < *cap)
                return 0;
        size_t c = *cap ? 2 * *cap : 64;
        void *x = realloc(*arr, c * elem);
        if (!x)
                return -ENOMEM;
        *arr = x, *cap = c;
        return 0;
}

static int add_user(const struct ehr_user *u, void *userdata) {
        struct pub *p = userdata;
        if (u->uid < 0)
                return 0;
        if (grow((void **) &p->users, &p->cap_u, p->nu, sizeof *p->users) < 0)
                return -ENOMEM;
        char home[EHR_LOGIN_MAX + 64];
        snprintf(home, sizeof home, "%s/%s", p->a->cfg.home_base ?: "/home", u->login);
        struct ehr_snap_user *s = &p->users[p->nu];
        *s = (struct ehr_snap_user) {
                .name = keep(p, u->login),
                .uid = (uint32_t) u->uid,
                .gid = (uint32_t) u->gid,
                .gecos = keep(p, u->name),
                .dir = keep(p, *u->home ? u->home : home),
                /* A locked account stays visible (files keep their owner) but cannot log in. */
                .shell = keep(p, u->locked ? NOLOGIN : *u->shell ? u->shell : p->a->cfg.default_shell ?: "/bin/bash"),
        };
        if (!s->name || !s->gecos || !s->dir || !s->shell)
                return -ENOMEM;
        p->nu++;
        /* The user's private group, when their gid is not a named group. */
        if (u->gid == u->uid) {
                if (grow((void **) &p->groups, &p->cap_g, p->ng, sizeof *p->groups) < 0)
                        return -ENOMEM;
                p->groups[p->ng++] = (struct ehr_snap_group) { .name = s->name, .gid = s->gid };
        }
        return 0;
}

static int add_member(const char *login, void *userdata) {
        struct pub *p = userdata;
        if (grow((void **) &p->members, &p->cap_m, p->nm, sizeof *p->members) < 0)
                return -ENOMEM;
        return (p->members[p->nm++] = keep(p, login)) ? 0 : -ENOMEM;
}

static int add_group(const struct ehr_group *g, void *userdata) {
        struct pub *p = userdata;
        p->members = NULL, p->nm = p->cap_m = 0;
        int r = ehr_store_group_members(p->a->store, g->id, add_member, p);
        if (r >= 0)
                r = grow((void **) &p->groups, &p->cap_g, p->ng, sizeof *p->groups);
        if (r < 0) {
                free(p->members);
                return r;
        }
        p->groups[p->ng++] = (struct ehr_snap_group) {
                .name = keep(p, g->name), .gid = (uint32_t) g->gid, .members = p->members, .n_members = p->nm,
        };
        return p->groups[p->ng - 1].name ? 0 : -ENOMEM;
}

int admin_publish(struct admin *a) {
        struct pub p = { .a = a };
        const char *path = admin_snapshot_path(a);
        int r = ehr_store_user_foreach(a->store, add_user, &p);
        size_t private_groups = p.ng;
        if (r >= 0)
                r = ehr_store_group_foreach(a->store, add_group, &p);
        if (r >= 0) {
                /* The snapshot directory is world-readable: NSS reads it in every process. */
                _cleanup_free_ char *dir = strdup(path);
                char *slash = dir ? strrchr(dir, '/') : NULL;
                if (slash && slash != dir) {
                        *slash = 0;
                        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                                r = negative_errno();
                }
        }
        if (r >= 0)
                r = ehr_snapshot_write(path, p.users, p.nu, p.groups, p.ng);
        for (size_t i = private_groups; i < p.ng; i++)
                free((void *) p.groups[i].members);
        for (size_t i = 0; i < p.ns; i++)
                free(p.strings[i]);
        free(p.strings);
        free(p.users);
        free(p.groups);
        if (r < 0)
                return admin_err(EXIT_FAIL, "cannot publish the NSS snapshot %s: %s (the store is updated; retry with "
                                 "'ehr2fa-admin nss publish')", path, ehr_strerror(r));
        return 0;
}

/* --- groups --- */

static int group_list(struct admin *a);

int verb_group(struct admin *a, int argc, char **argv) {
        admin_take_json(a, &argc, argv);
        if (argc == 2 && streq(argv[1], "list"))
                return group_list(a);
        bool add = argc >= 3 && streq(argv[1], "add"), del = argc == 3 && streq(argv[1], "del"),
             member = argc == 5 && streq(argv[1], "member") && (streq(argv[2], "add") || streq(argv[2], "del"));
        if (!add && !del && !member)
                return admin_err(EXIT_USAGE, "usage: group add NAME [--gid N] | group del NAME | "
                                             "group member add|del GROUP LOGIN | group list");
        int r = admin_authorize(a, "group", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r)
                return r;
        const char *name = member ? argv[3] : argv[2];
        if (!ehr_snapshot_name_valid(name) || !ehr_login_valid(name))
                return admin_err(EXIT_USAGE, "bad group name '%s'", name);
        char details[160];
        if (add) {
                int64_t gid = -1;
                uint64_t v;
                if (argc == 5 && streq(argv[3], "--gid")) {
                        if ((r = parse_uint_arg("--gid", argv[4], 1000, UINT32_MAX - 1, &v)))
                                return r;
                        gid = (int64_t) v;
                        if ((r = admin_check_uid(a, gid)) < 0)
                                return admin_err(EXIT_FAIL, "gid %lld is already in use", (long long) gid);
                } else if (argc != 3)
                        return admin_err(EXIT_USAGE, "usage: group add NAME [--gid N]");
                else if ((r = admin_allocate_uid(a, &gid)) < 0)
                        return admin_err(EXIT_FAIL, "no free gid between uid_min and uid_max");
                snprintf(details, sizeof details, "group %s gid %lld", name, (long long) gid);
                r = ehr_store_begin(a->store);
                if (r >= 0)
                        r = ehr_store_group_add(a->store, name, gid);
                if (r == -EEXIST) {
                        ehr_store_rollback(a->store);
                        return admin_err(EXIT_FAIL, "group %s already exists", name);
                }
                if (r >= 0)
                        r = admin_audit(a, "", "group added", details);
        } else if (del) {
                r = ehr_store_begin(a->store);
                if (r >= 0)
                        r = ehr_store_group_del(a->store, name);
                if (r == -ENOENT) {
                        ehr_store_rollback(a->store);
                        return admin_err(EXIT_NOTFOUND, "no such group: %s", name);
                }
                snprintf(details, sizeof details, "group %s", name);
                if (r >= 0)
                        r = admin_audit(a, "", "group deleted", details);
        } else {
                _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
                int64_t id, gid;
                bool on = streq(argv[2], "add");
                if ((r = admin_get_user(a, argv[4], &u)))
                        return r;
                if ((r = ehr_store_group_get(a->store, name, &id, &gid)) < 0)
                        return admin_err(EXIT_NOTFOUND, "no such group: %s", name);
                snprintf(details, sizeof details, "%s %s group %s", u->login, on ? "added to" : "removed from", name);
                r = ehr_store_begin(a->store);
                if (r >= 0)
                        r = ehr_store_group_member(a->store, id, u->id, on);
                if (r >= 0)
                        r = admin_audit(a, u->login, "group membership", details);
        }
        if ((r = admin_end(a, r, "change the group")))
                return r;
        printf("%s.\n", details);
        return admin_publish(a);
}

static int print_member(const char *login, void *userdata) {
        size_t *n = userdata;
        printf("%s%s", (*n)++ ? "," : "", login);
        return 0;
}

static int print_group(const struct ehr_group *g, void *userdata) {
        size_t n = 0;
        printf("%s:%lld:", g->name, (long long) g->gid);
        int r = ehr_store_group_members(((struct admin *) userdata)->store, g->id, print_member, &n);
        printf("\n");
        return r;
}

static int group_list(struct admin *a) {
        int r = admin_authorize(a, "group list", NULL, EHR_PERM_MANAGE_ACCOUNTS, EHR_PERM_HELP_DESK);
        if (r)
                return r;
        r = ehr_store_group_foreach(a->store, print_group, a);
        return r < 0 ? admin_err(admin_exit_from_errno(r), "cannot list groups: %s", ehr_strerror(r)) : 0;
}

int verb_nss(struct admin *a, int argc, char **argv) {
        if (argc != 2 || !streq(argv[1], "publish"))
                return admin_err(EXIT_USAGE, "usage: nss publish");
        int r = admin_authorize(a, "nss publish", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r || (r = admin_publish(a)))
                return r;
        printf("Published %s.\n", admin_snapshot_path(a));
        return 0;
}
