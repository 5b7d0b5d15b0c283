/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Groups and publishing to NSS: parse, call core/account.h, print. */
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
