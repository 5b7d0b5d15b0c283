/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <getopt.h>
#include <time.h>

#include "admin.h"
#include "helpdesk.h"
#include "policy.h"

static bool phone_valid(const char *p) {
        /* E.164 after removing the usual separators: "+1 (555) 123-4567" is fine. */
        size_t digits = 0;
        for (const char *c = p; *c; c++) {
                if (isdigit((unsigned char) *c))
                        digits++;
                else if (!(*c == '+' && c == p) && !strchr(" -().", *c))
                        return false;
        }
        return p[0] == '+' && digits >= 8 && digits <= 15;
}

static void phone_compact(const char *in, char *out, size_t len) {
        size_t n = 0;
        for (const char *c = in; *c && n + 1 < len; c++)
                if (isdigit((unsigned char) *c) || *c == '+')
                        out[n++] = *c;
        out[n] = 0;
}

static bool text_valid(const char *s, size_t max) {
        if (strlen(s) > max)
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == ':')
                        return false;
        return true;
}

static int user_add(struct admin *a, int argc, char **argv) {
        static const struct option opts[] = {
                { "name", required_argument, NULL, 'n' },   { "email", required_argument, NULL, 'e' },
                { "phone", required_argument, NULL, 'p' },  { "role", required_argument, NULL, 'r' },
                { "provider", required_argument, NULL, 'P' },
                { "uid", required_argument, NULL, 'U' },    { "group", required_argument, NULL, 'G' },
                { "home", required_argument, NULL, 'H' },   { "shell", required_argument, NULL, 'S' },
                {},
        };
        const char *provider = NULL, *group = NULL, *home = "", *shell = "";
        int64_t uid = -1, gid = -1;
        uint64_t v = 0;
        struct ehr_user u = { .name = "", .email = "", .phone = "", .role = "staff" };
        char phone[32] = "";
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'n':
                        u.name = optarg;
                        break;
                case 'e':
                        u.email = optarg;
                        break;
                case 'p':
                        u.phone = optarg;
                        break;
                case 'r':
                        u.role = optarg;
                        break;
                case 'P':
                        provider = optarg;
                        break;
                case 'U':
                        if (parse_uint_arg("--uid", optarg, 1000, UINT32_MAX - 1, &v))
                                return EXIT_USAGE;
                        uid = (int64_t) v;
                        break;
                case 'G':
                        group = optarg;
                        break;
                case 'H':
                        home = optarg;
                        break;
                case 'S':
                        shell = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind + 1 != argc)
                return admin_err(EXIT_USAGE, "usage: user add LOGIN [--name N] [--email E] [--phone P] [--role provider|staff] [--provider LOGIN]");
        int r = admin_authorize(a, "user add", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r)
                return r;
        u.login = argv[optind];
        if (!ehr_login_valid(u.login))
                return admin_err(EXIT_USAGE, "bad login '%s': use 1-%u of a-z 0-9 . _ -, not starting with - or .",
                                 u.login, EHR_LOGIN_MAX);
        if (!streq(u.role, "provider") && !streq(u.role, "staff"))
                return admin_err(EXIT_USAGE, "bad role '%s': expected provider or staff", u.role);
        if (!text_valid(u.name, 128))
                return admin_err(EXIT_USAGE, "bad name: at most 128 characters, no control characters or ':'");
        if (*u.email && (!text_valid(u.email, 254) || !strchr(u.email, '@') || strchr(u.email, ' ')))
                return admin_err(EXIT_USAGE, "bad email address '%s'", u.email);
        if (*u.phone) {
                if (!phone_valid(u.phone))
                        return admin_err(EXIT_USAGE,
                                         "bad phone number '%s': use international form, e.g. +15551234567", u.phone);
                phone_compact(u.phone, phone, sizeof phone);
                u.phone = phone;
        }

        if ((*home && (home[0] != '/' || !text_valid(home, 4095))) || (*shell && (shell[0] != '/' || !text_valid(shell, 4095))))
                return admin_err(EXIT_USAGE, "--home and --shell take absolute paths");
        /* The account: a uid from [uid_min, uid_max] that neither the store nor the system uses. */
        r = uid >= 0 ? admin_check_uid(a, uid) : admin_allocate_uid(a, &uid);
        if (r == -EEXIST)
                return admin_err(EXIT_FAIL, "uid %lld is already in use", (long long) uid);
        if (r < 0)
                return admin_err(EXIT_FAIL, "no free uid between uid_min and uid_max: %s", ehr_strerror(r));
        gid = uid; /* a private group of the same number, unless --group names one */
        if (group) {
                int64_t gid_row;
                if (ehr_store_group_get(a->store, group, &gid_row, &gid) < 0)
                        return admin_err(EXIT_NOTFOUND, "no such group: %s (ehr2fa-admin group add %s)", group, group);
        }
        _cleanup_(ehr_user_freep) struct ehr_user *prov = NULL;
        if (provider) {
                if ((r = admin_get_user(a, provider, &prov)))
                        return r;
                if (!streq(prov->role, "provider"))
                        return admin_err(EXIT_USAGE, "%s is not a provider", provider);
        }
        char details[160];
        snprintf(details, sizeof details, "role=%s%s%s uid=%lld gid=%lld", u.role, prov ? " primary provider=" : "",
                 prov ? prov->login : "", (long long) uid, (long long) gid);
        r = ehr_store_begin(a->store);
        if (r >= 0)
                r = ehr_store_user_add(a->store, &u, a->now_sec, &u.id);
        if (r == -EEXIST) {
                ehr_store_rollback(a->store);
                return admin_err(EXIT_FAIL, "user %s already exists", u.login);
        }
        if (r >= 0 && prov)
                r = ehr_store_user_set_provider(a->store, u.id, prov->id);
        if (r >= 0)
                r = ehr_store_user_set_account(a->store, u.id, uid, gid, home, shell);
        if (r >= 0)
                r = admin_audit(a, u.login, "user added", details);
        /* Every user gets a Support PIN when added (the seed: "automatically generated when you sign up"). */
        if (r >= 0)
                r = ehr_support_pin_new(a->store, &u, a->now_sec, a->actor, a->source, NULL);
        if ((r = admin_end(a, r, "add the user")))
                return r;
        printf("Added %s (%s), uid %lld.\n", u.login, u.role, (long long) uid);
        return admin_publish(a);
}

static void format_time(uint64_t t, char *buf, size_t len) {
        time_t tt = (time_t) t;
        struct tm tm;
        if (t == 0 || !localtime_r(&tt, &tm))
                snprintf(buf, len, "-");
        else
                strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

static void user_json(const struct ehr_user *u, const struct ehr_failures *f, uint64_t now) {
        printf("{\"login\":");
        json_string(stdout, u->login);
        printf(",\"name\":");
        json_string(stdout, u->name);
        printf(",\"email\":");
        json_string(stdout, u->email);
        printf(",\"phone\":");
        json_string(stdout, u->phone);
        printf(",\"role\":");
        json_string(stdout, u->role);
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

struct list_state {
        struct admin *a;
        size_t n;
};

static int list_one(const struct ehr_user *u, void *userdata) {
        struct list_state *st = userdata;
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
        struct list_state st = { .a = a };
        int r = admin_authorize(a, "user list", NULL, EHR_PERM_MANAGE_ACCOUNTS, EHR_PERM_HELP_DESK);
        if (r)
                return r;
        if (a->json)
                printf("[");
        else
                printf("%-20s %-9s %-8s %-9s %s\n", "LOGIN", "ROLE", "2FA", "RECOVERY", "NAME");
        r = ehr_store_user_foreach(a->store, list_one, &st);
        if (a->json)
                printf("]\n");
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot list users: %s", ehr_strerror(r));
        return 0;
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
        char created[32], until[64];
        format_time(u->created_sec, created, sizeof created);
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
               lock ? ehr_policy_format_until(lock, a->now_sec, until, sizeof until) : "no");
        return 0;
}

static int user_del(struct admin *a, int argc, char **argv) {
        if (argc != 2)
                return admin_err(EXIT_USAGE, "usage: user del LOGIN");
        const char *login = argv[1];
        int r = admin_authorize(a, "user del", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r)
                return r;
        r = ehr_store_begin(a->store);
        if (r >= 0)
                r = ehr_store_user_del(a->store, login);
        if (r == -ENOENT) {
                ehr_store_rollback(a->store);
                return admin_err(EXIT_NOTFOUND, "no such user: %s", login);
        }
        if (r >= 0)
                r = admin_audit(a, login, "user deleted", "with TOTP seed, recovery codes and failure count");
        if ((r = admin_end(a, r, "delete the user")))
                return r;
        printf("Deleted %s.\n", login);
        return admin_publish(a);
}

/* A locked account stays in NSS (its files keep their owner) with a shell that refuses logins. */
static int user_lock(struct admin *a, int argc, char **argv, bool lock) {
        if (argc != 2)
                return admin_err(EXIT_USAGE, "usage: user lock|unlock LOGIN");
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = admin_authorize(a, lock ? "user lock" : "user unlock", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r || (r = admin_get_user(a, argv[1], &u)))
                return r;
        r = ehr_store_begin(a->store);
        if (r >= 0)
                r = ehr_store_user_set_locked(a->store, u->id, lock);
        if (r >= 0)
                r = admin_audit(a, u->login, lock ? "account locked by administrator" : "account unlocked by administrator",
                                lock ? "login shell set to nologin" : "login shell restored");
        if ((r = admin_end(a, r, lock ? "lock the account" : "unlock the account")))
                return r;
        printf("%s %s.\n", lock ? "Locked" : "Unlocked", u->login);
        return admin_publish(a);
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
