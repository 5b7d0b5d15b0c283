/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <time.h>

#include "account-host.h"
#include "admin.h"
#include "helpdesk.h"
#include "policy.h"
#include "snapshot.h"

/* Options of "user add" into n; returns 0 or an exit code. */
static int parse_user_add(int argc, char **argv, struct ehr_account_new *n) {
        static const struct option opts[] = {
                { "name", required_argument, NULL, 'n' },   { "email", required_argument, NULL, 'e' },
                { "phone", required_argument, NULL, 'p' },  { "role", required_argument, NULL, 'r' },
                { "provider", required_argument, NULL, 'P' },
                { "uid", required_argument, NULL, 'U' },    { "group", required_argument, NULL, 'G' },
                { "home", required_argument, NULL, 'H' },   { "shell", required_argument, NULL, 'S' },
                { "existing", no_argument, NULL, 'X' },     { "no-home", no_argument, NULL, 'N' },
                {},
        };
        const char **slot[128] = {
                ['n'] = &n->name, ['e'] = &n->email, ['p'] = &n->phone, ['r'] = &n->role, ['P'] = &n->provider,
                ['G'] = &n->group, ['H'] = &n->home, ['S'] = &n->shell,
        };
        uint64_t v;
        int c;
        *n = (struct ehr_account_new) { .uid = -1 };
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'U') {
                        if (parse_uint_arg("--uid", optarg, 1000, UINT32_MAX - 1, &v))
                                return EXIT_USAGE;
                        n->uid = (int64_t) v;
                } else if (c == 'X' || c == 'N')
                        *(c == 'X' ? &n->existing : &n->no_home) = true;
                else if (c > 0 && c < 128 && slot[c])
                        *slot[c] = optarg;
                else
                        return EXIT_USAGE;
        }
        if (optind + 1 != argc)
                return admin_err(EXIT_USAGE, "usage: user add LOGIN [--name N] [--email E] [--phone P] [--role provider|staff] "
                                             "[--provider LOGIN] [--uid N] [--group G] [--home DIR] [--shell SH] "
                                             "[--no-home] | [--existing]");
        n->login = argv[optind];
        if (n->existing && (n->uid >= 0 || n->group || n->home || n->shell || n->no_home))
                return admin_err(EXIT_USAGE, "--existing takes no --uid, --group, --home, --shell or --no-home: "
                                             "the account, its uid and its home are the host's");
        return 0;
}

/* The value given for a field of "user add", for the message that refuses it. */
static const char *new_value(const struct ehr_account_new *n, enum ehr_field f) {
        switch (f) {
        case EHR_FIELD_LOGIN:
                return n->login;
        case EHR_FIELD_ROLE:
                return n->role;
        case EHR_FIELD_EMAIL:
                return n->email;
        case EHR_FIELD_PHONE:
                return n->phone;
        case EHR_FIELD_GROUP:
                return n->group;
        case EHR_FIELD_PROVIDER:
                return n->provider;
        default:
                return NULL;
        }
}

/* Refusals that come from the host's own accounts (op->host) or the uid range. */
static int user_add_host_fail(struct admin *a, const struct ehr_op *op, const struct ehr_account_new *n, int r) {
        if (r == -ERANGE)
                return admin_err(EXIT_USAGE, "uid %lld is outside uid_min..uid_max (%llu..%llu)", (long long) n->uid,
                                 (unsigned long long) a->cfg.uid_min, (unsigned long long) a->cfg.uid_max);
        if (r == -EEXIST && op->field == EHR_FIELD_UID)
                return admin_err(EXIT_FAIL, "uid %lld is already in use%s", (long long) n->uid,
                                 op->host ? " on this host" : "");
        if (r == -EEXIST && op->field == EHR_FIELD_LOGIN)
                return admin_err(EXIT_FAIL, "%s is already an account of this host (files, LDAP or SSSD): a managed "
                                 "account would be a second, conflicting entry; to give that account 2FA, use "
                                 "'user add %s --existing'", n->login, n->login);
        if (r == -EEXIST)
                return admin_err(EXIT_FAIL, "this host already has a group %s: give the account a group of ours with "
                                 "--group", n->login);
        return admin_err(EXIT_NOTFOUND, "%s does not resolve on this host (getent passwd %s): --existing is for an "
                         "account that files, LDAP or SSSD already has", n->login, n->login);
}

static int user_add_fail(struct admin *a, const struct ehr_op *op, const struct ehr_account_new *n, int r) {
        if (r == -ERANGE || (op->host && (r == -EEXIST || r == -ENOENT)) || (r == -EEXIST && op->field == EHR_FIELD_UID))
                return user_add_host_fail(a, op, n, r);
        if (r == -EEXIST)
                return admin_err(EXIT_FAIL, "user %s already exists", n->login);
        if (r == -ENOSPC)
                return admin_err(EXIT_FAIL, "no free uid between uid_min and uid_max: %s", ehr_strerror(r));
        if (r == -ENOENT && op->field == EHR_FIELD_GROUP)
                return admin_err(EXIT_NOTFOUND, "no such group: %s (ehr2fa-admin group add %s)", n->group, n->group);
        if (r == -ENOENT && op->field == EHR_FIELD_PROVIDER)
                return admin_err(EXIT_NOTFOUND, "no such user: %s", n->provider);
        if (r == -EINVAL && op->field == EHR_FIELD_PROVIDER)
                return admin_err(EXIT_USAGE, "%s is not a provider", n->provider);
        if (r == -EINVAL && op->field == EHR_FIELD_TEXT)
                return admin_bad(EHR_FIELD_TEXT, "name", NULL);
        if (r == -EINVAL && op->field == EHR_FIELD_PATH)
                return admin_bad(EHR_FIELD_PATH, "--home or --shell", NULL);
        return admin_op_fail(a, op, r, "add the user", new_value(n, op->field));
}

/* Published is not yet seen: say why the system will not show the account. */
static void user_add_visibility(const struct admin *a, const char *login) {
        const char *path = a->cfg.nss_snapshot ?: EHR_SNAPSHOT_DEFAULT_PATH;
        if (!ehr_host_nss_lists_ours("passwd"))
                fprintf(stderr, "ehr2fa-admin: note: %s is published in %s, but /etc/nsswitch.conf does not list "
                                "\"ehr\" for passwd: the system will not show it (getent passwd %s) until libnss-ehr "
                                "is installed and \"ehr\" follows \"files\" on the passwd, group and shadow lines\n",
                        login, path, login);
        else if (!streq(path, EHR_SNAPSHOT_DEFAULT_PATH))
                fprintf(stderr, "ehr2fa-admin: note: %s is published in %s (nss_snapshot), but libnss_ehr reads "
                                EHR_SNAPSHOT_DEFAULT_PATH ": the system will not show it\n", login, path);
}

static int user_add(struct admin *a, int argc, char **argv) {
        struct ehr_account_new n;
        int64_t uid;
        int r = parse_user_add(argc, argv, &n);
        if (r || (r = admin_authorize(a, "user add", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL)))
                return r;
        struct ehr_op op = admin_op(a);
        r = ehr_account_user_add(&op, &n, &uid);
        if (r < 0)
                return user_add_fail(a, &op, &n, r);
        if (n.existing) {
                printf("Added %s (%s): 2FA for the host's own account, nothing published.\n", n.login, n.role ?: "staff");
                return 0;
        }
        printf("Added %s (%s), uid %lld.\n", n.login, n.role ?: "staff", (long long) uid);
        user_add_visibility(a, n.login);
        char home[EHR_FIELD_PATH_MAX + 1];
        ehr_account_home_path(&a->cfg, n.login, n.home, home, sizeof home);
        if (op.home == -EEXIST)
                fprintf(stderr, "ehr2fa-admin: %s exists: left as it is (not copied from the skeleton, owner unchanged)\n",
                        home);
        else if (op.home < 0)
                return admin_err(EXIT_FAIL, "%s is added, but its home %s could not be made: %s (make it by hand, or "
                                 "let pam_mkhomedir make it at the first login)", n.login, home, ehr_strerror(op.home));
        return 0;
}

static void user_json(const struct ehr_user *u, const struct ehr_failures *f, uint64_t now) {
        printf("{\"login\":");
        json_string(stdout, u->login);
        json_field("name", u->name);
        json_field("email", u->email);
        json_field("phone", u->phone);
        json_field("role", u->role);
        printf(",\"created\":%llu,\"totp\":%s,\"recovery_codes_left\":%u", (unsigned long long) u->created_sec,
               u->totp_enrolled ? "true" : "false", u->recovery_left);
        if (f) {
                uint64_t until = ehr_policy_locked_until(f, now);
                printf(",\"failures\":%llu,\"consecutive_failures\":%llu,\"locked\":%s",
                       (unsigned long long) f->count, (unsigned long long) f->consecutive, until ? "true" : "false");
                if (until == UINT64_MAX)
                        printf(",\"locked_until\":null");
                else if (until)
                        printf(",\"locked_until\":%llu", (unsigned long long) until);
        }
        printf("}");
}

static int list_one(const struct ehr_user *u, void *userdata) {
        struct admin_list *st = userdata;
        if (st->a->json) {
                printf("%s", st->n ? ",\n " : "");
                user_json(u, NULL, 0);
        } else
                printf("%-20s %-9s %-8s %-9u %s\n", u->login, u->role, u->totp_enrolled ? "active" : "inactive",
                       u->recovery_left, u->name);
        st->n++;
        return 0;
}

static int user_list(struct admin *a, int argc, char **argv) {
        struct admin_list st;
        int r = admin_list_users(a, "user list", list_one, &st, "%-20s %-9s %-8s %-9s %s\n", "LOGIN", "ROLE", "2FA",
                                 "RECOVERY", "NAME");
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot list users: %s", ehr_strerror(r));
        return r;
}

static int user_show(struct admin *a, int argc, char **argv) {
        if (argc != 2)
                return admin_err(EXIT_USAGE, "usage: user show LOGIN");
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = admin_authorize(a, "user show", argv[1], EHR_PERM_MANAGE_ACCOUNTS, EHR_PERM_HELP_DESK);
        if (r)
                return r;
        r = admin_get_user(a, argv[1], &u);
        if (r)
                return r;
        struct ehr_failures f;
        r = ehr_store_failures_get(a->store, u->id, &f);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot read failures: %s", ehr_strerror(r));
        if (a->json) {
                user_json(u, &f, a->now_sec);
                printf("\n");
                return 0;
        }
        char created[ADMIN_TIME_BYTES], until[64];
        admin_format_time(u->created_sec, created, sizeof created);
        uint64_t lock = ehr_policy_locked_until(&f, a->now_sec);
        printf("Login:           %s\n"
               "Name:            %s\n"
               "Email:           %s\n"
               "Cell phone:      %s\n"
               "Role:            %s\n"
               "Created:         %s\n"
               "2FA (app):       %s\n"
               "Recovery codes:  %u left\n"
               "Failures:        %llu (consecutive %llu)\n"
               "Locked:          %s\n",
               u->login, u->name, u->email, u->phone, u->role, created, u->totp_enrolled ? "active" : "inactive",
               u->recovery_left, (unsigned long long) f.count, (unsigned long long) f.consecutive,
               lock ? admin_format_until(lock, until, sizeof until) : "no");
        return 0;
}

static int user_del(struct admin *a, int argc, char **argv) {
        if (argc != 2)
                return admin_err(EXIT_USAGE, "usage: user del LOGIN");
        const char *login = argv[1];
        int r = admin_authorize(a, "user del", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r)
                return r;
        struct ehr_op op = admin_op(a);
        r = ehr_account_user_del(&op, login);
        if (r == -ENOENT && !op.committed)
                return admin_err(EXIT_NOTFOUND, "no such user: %s", login);
        if (r < 0)
                return admin_op_fail(a, &op, r, "delete the user", NULL);
        printf("Deleted %s.\n", login);
        return 0;
}

/* A locked account stays in NSS (its files keep their owner) with a shell that refuses logins. */
static int user_lock(struct admin *a, int argc, char **argv, bool lock) {
        if (argc != 2)
                return admin_err(EXIT_USAGE, "usage: user lock|unlock LOGIN");
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = admin_authorize(a, lock ? "user lock" : "user unlock", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r || (r = admin_get_user(a, argv[1], &u)))
                return r;
        struct ehr_op op = admin_op(a);
        if ((r = ehr_account_user_lock(&op, u, lock)) == -EOPNOTSUPP)
                return admin_err(EXIT_FAIL, "%s is the host's own account (2FA only here): lock it where it lives, "
                                 "e.g. usermod -L or in the directory", u->login);
        if (r < 0)
                return admin_op_fail(a, &op, r, lock ? "lock the account" : "unlock the account", NULL);
        printf("%s %s.\n", lock ? "Locked" : "Unlocked", u->login);
        return 0;
}

int verb_user(struct admin *a, int argc, char **argv) {
        if (argc < 2)
                return admin_err(EXIT_USAGE, "usage: user add|list|show|del ...");
        const char *sub = argv[1];
        argc--, argv++;
        admin_take_json(a, &argc, argv);
        if (streq(sub, "add"))
                return user_add(a, argc, argv);
        if (streq(sub, "list"))
                return user_list(a, argc, argv);
        if (streq(sub, "show"))
                return user_show(a, argc, argv);
        if (streq(sub, "del") || streq(sub, "delete"))
                return user_del(a, argc, argv);
        if (streq(sub, "lock") || streq(sub, "unlock"))
                return user_lock(a, argc, argv, streq(sub, "lock"));
        return admin_err(EXIT_USAGE, "unknown command 'user %s'", sub);
}
