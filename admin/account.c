/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Groups and publishing to NSS: parse, call core/account.h, print. */
#include <sys/stat.h>

#include "admin.h"

static int group_add(struct admin *a, int argc, char **argv) {
        int64_t gid = -1;
        uint64_t v;
        int r;
        if (argc == 5 && streq(argv[3], "--gid")) {
                if ((r = parse_uint_arg("--gid", argv[4], 1000, UINT32_MAX - 1, &v)))
                        return r;
                gid = (int64_t) v;
        } else if (argc != 3)
                return admin_err(EXIT_USAGE, "usage: group add NAME [--gid N]");
        struct ehr_op op = admin_op(a);
        r = ehr_account_group_add(&op, argv[2], gid, &gid);
        if (r == -ERANGE)
                return admin_err(EXIT_USAGE, "gid %lld is outside uid_min..uid_max (%llu..%llu)", (long long) gid,
                                 (unsigned long long) a->cfg.uid_min, (unsigned long long) a->cfg.uid_max);
        if (r == -EEXIST && op.field == EHR_FIELD_UID)
                return admin_err(EXIT_FAIL, "gid %lld is already in use%s", (long long) gid, op.host ? " on this host" : "");
        if (r == -EEXIST)
                return admin_err(EXIT_FAIL, "%s %s already exists", op.host ? "this host's group" : "group", argv[2]);
        if (r == -ENOSPC)
                return admin_err(EXIT_FAIL, "no free gid between uid_min and uid_max");
        if (r < 0)
                return admin_op_fail(a, &op, r, "change the group", argv[2]);
        printf("group %s gid %lld.\n", argv[2], (long long) gid);
        return 0;
}

static int group_del(struct admin *a, const char *name) {
        struct ehr_op op = admin_op(a);
        int r = ehr_account_group_del(&op, name);
        if (r == -ENOENT && !op.committed)
                return admin_err(EXIT_NOTFOUND, "no such group: %s", name);
        if (r < 0)
                return admin_op_fail(a, &op, r, "change the group", name);
        printf("group %s.\n", name);
        return 0;
}

static int member_change(struct admin *a, const char *group, const char *login, bool add) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = admin_get_user(a, login, &u);
        if (r)
                return r;
        struct ehr_op op = admin_op(a);
        r = ehr_account_group_member(&op, group, u, add);
        if (r == -ENOENT && !op.committed)
                return admin_err(EXIT_NOTFOUND, "no such group: %s", group);
        if (r < 0)
                return admin_op_fail(a, &op, r, "change the group", group);
        printf("%s %s group %s.\n", u->login, add ? "added to" : "removed from", group);
        return 0;
}

struct list_state {
        struct admin *a;
        size_t groups, members;
};

static int print_member(const char *login, void *userdata) {
        struct list_state *st = userdata;
        fputs(st->members++ ? "," : "", stdout);
        if (st->a->json)
                json_string(stdout, login);
        else
                fputs(login, stdout);
        return 0;
}

/* "name:gid:member,member" as in /etc/group, or a JSON object. */
static int print_group(const struct ehr_group *g, void *userdata) {
        struct list_state *st = userdata;
        if (st->a->json) {
                printf("%s{\"name\":", st->groups ? ",\n " : "");
                json_string(stdout, g->name);
                printf(",\"gid\":%lld,\"members\":[", (long long) g->gid);
        } else
                printf("%s:%lld:", g->name, (long long) g->gid);
        st->members = 0;
        int r = ehr_store_group_members(st->a->store, g->id, print_member, st);
        printf(st->a->json ? "]}" : "\n");
        st->groups++;
        return r;
}

static int group_list(struct admin *a) {
        struct list_state st = { .a = a };
        int r = admin_authorize(a, "group list", NULL, EHR_PERM_MANAGE_ACCOUNTS, EHR_PERM_HELP_DESK);
        if (r)
                return r;
        if (a->json)
                printf("[");
        r = ehr_store_group_foreach(a->store, print_group, &st);
        if (a->json)
                printf("]\n");
        return r < 0 ? admin_err(admin_exit_from_errno(r), "cannot list groups: %s", ehr_strerror(r)) : 0;
}

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
        if (add)
                return group_add(a, argc, argv);
        return del ? group_del(a, argv[2]) : member_change(a, argv[3], argv[4], streq(argv[2], "add"));
}

int verb_nss(struct admin *a, int argc, char **argv) {
        if (argc != 2 || !streq(argv[1], "publish"))
                return admin_err(EXIT_USAGE, "usage: nss publish");
        int r = admin_authorize(a, "nss publish", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r)
                return r;
        struct ehr_op op = admin_op(a);
        if ((r = ehr_account_publish(&op)) < 0) {
                op.committed = true; /* nothing to roll back: the store is as it was */
                return admin_op_fail(a, &op, r, "publish", NULL);
        }
        printf("Published %s.\n", ehr_account_snapshot_path(&a->cfg));
        return 0;
}

/* What NSS serves while the store cannot be read: the last snapshot, said with its time. */
static void say_last_snapshot(struct admin *a) {
        const char *path = ehr_account_snapshot_path(&a->cfg);
        char when[ADMIN_TIME_BYTES];
        struct stat st;
        if (stat(path, &st) == 0)
                fprintf(stderr, "ehr2fa-admin: NSS keeps serving the last snapshot, %s, published %s\n", path,
                        admin_format_time((uint64_t) st.st_mtime, when, sizeof when));
        else
                fprintf(stderr, "ehr2fa-admin: there is no snapshot at %s yet: NSS knows no staff account here\n", path);
}

/* sync [--quiet] [--json]: the directory from the store (central or local) into
 * this host's snapshot, written only when it changed. Run by ehr2fa-sync.timer. */
int verb_sync(struct admin *a, int argc, char **argv) {
        bool quiet = false;
        admin_take_json(a, &argc, argv);
        if (argc == 2 && streq(argv[1], "--quiet"))
                quiet = true;
        else if (argc != 1)
                return admin_err(EXIT_USAGE, "usage: sync [--quiet] [--json]");
        /* Never migrate: every host runs this, at any version; "ehr2fa-admin migrate" does it once. */
        int r = admin_open_store(a, 0, "; this host's NSS snapshot was left as it was");
        if (r) {
                say_last_snapshot(a);
                return r;
        }
        if ((r = admin_authorize(a, "sync", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL)))
                return r;
        struct ehr_op op = admin_op(a);
        struct ehr_sync res;
        const char *path = ehr_account_snapshot_path(&a->cfg);
        if ((r = ehr_account_sync(&op, &res)) < 0) {
                if (r == -EINVAL && *op.offender)
                        r = admin_err(EXIT_FAIL, "cannot sync the NSS snapshot %s: %s '%s' breaks the rule: %s; fix or "
                                      "delete it in the store", path, op.field == EHR_FIELD_GROUP ? "group" : "the user",
                                      op.offender, ehr_field_rule(op.field));
                else
                        r = admin_err(admin_exit_from_errno(r), "cannot sync: %s; this host's NSS snapshot was left "
                                      "as it was", ehr_strerror(r));
                say_last_snapshot(a);
                return r;
        }
        if (a->json) {
                printf("{\"snapshot\":");
                json_string(stdout, path);
                printf(",\"changed\":%s,\"users\":%zu,\"groups\":%zu}\n", res.changed ? "true" : "false", res.users,
                       res.groups);
        } else if (res.changed)
                printf("Published %s: %zu users, %zu groups.\n", path, res.users, res.groups);
        else if (!quiet)
                printf("%s is up to date: %zu users, %zu groups (not rewritten).\n", path, res.users, res.groups);
        return 0;
}
