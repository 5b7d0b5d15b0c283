/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "admin.h"
#include "policy.h"

static int lockout_show(struct admin *a, const struct ehr_user *u) {
        struct ehr_failures f;
        int r = ehr_store_failures_get(a->store, u->id, &f);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot read failures: %s", ehr_strerror(r));
        uint64_t until = ehr_policy_locked_until(&f, a->now_sec);
        if (a->json) {
                printf("{\"login\":");
                json_string(stdout, u->login);
                printf(",\"locked\":%s,\"locked_until\":", until ? "true" : "false");
                if (until && until != UINT64_MAX)
                        printf("%llu", (unsigned long long) until);
                else
                        printf("null");
                printf(",\"failures\":%llu,\"consecutive_failures\":%llu,\"last_failure\":%llu,\"deny\":%llu}\n",
                       (unsigned long long) f.count, (unsigned long long) f.consecutive,
                       (unsigned long long) f.last_sec, (unsigned long long) a->cfg.deny);
                return 0;
        }
        char when[ADMIN_TIME_BYTES];
        if (until)
                printf("%s is LOCKED until %s (%llu failures; %llu since the last success).\n", u->login,
                       admin_format_until(until, when, sizeof when), (unsigned long long) f.count,
                       (unsigned long long) f.consecutive);
        else
                printf("%s is not locked (%llu of %llu failures in the current interval; %llu since the last success).\n",
                       u->login, (unsigned long long) f.count, (unsigned long long) a->cfg.deny,
                       (unsigned long long) f.consecutive);
        return 0;
}

static int lockout_clear(struct admin *a, const struct ehr_user *u) {
        struct ehr_op op = admin_op(a);
        int r = ehr_account_lockout_clear(&op, u);
        if (r < 0)
                return admin_op_fail(a, &op, r, "clear the lockout", NULL);
        printf("Cleared failures and lockout of %s.\n", u->login);
        return 0;
}

/* lockout list: the locked users, as faillock(8) lists users with failures. */
static int list_one(const struct ehr_user *u, void *userdata) {
        struct admin_list *st = userdata;
        struct ehr_failures f;
        char when[ADMIN_TIME_BYTES], last[ADMIN_TIME_BYTES];
        int r = ehr_store_failures_get(st->a->store, u->id, &f);
        if (r < 0)
                return r;
        uint64_t until = ehr_policy_locked_until(&f, st->a->now_sec);
        if (!until)
                return 0;
        if (st->a->json) {
                printf("%s{\"login\":", st->n ? ",\n " : "");
                json_string(stdout, u->login);
                printf(",\"locked_until\":");
                if (until == UINT64_MAX)
                        printf("null");
                else
                        printf("%llu", (unsigned long long) until);
                printf(",\"failures\":%llu,\"consecutive_failures\":%llu,\"last_failure\":%llu}",
                       (unsigned long long) f.count, (unsigned long long) f.consecutive,
                       (unsigned long long) f.last_sec);
        } else
                printf("%-20s %-25s %8llu  %s\n", u->login,
                       admin_format_until(until, when, sizeof when),
                       (unsigned long long) f.count, admin_format_time(f.last_sec, last, sizeof last));
        st->n++;
        return 0;
}

static int lockout_list(struct admin *a) {
        struct admin_list st;
        int r = admin_list_users(a, "lockout list", list_one, &st, "%-20s %-25s %8s  %s\n", "LOGIN", "LOCKED UNTIL",
                                 "FAILURES", "LAST FAILURE");
        if (r == 0 && !a->json && st.n == 0)
                printf("(no locked users)\n");
        return r < 0 ? admin_err(admin_exit_from_errno(r), "cannot list lockouts: %s", ehr_strerror(r)) : r;
}

int verb_lockout(struct admin *a, int argc, char **argv) {
        admin_take_json(a, &argc, argv);
        if (argc == 2 && streq(argv[1], "list"))
                return lockout_list(a);
        bool show = argc >= 2 && streq(argv[1], "show");
        /* show without a login: the caller's own (self-service). */
        if (!(show && argc == 2) && (argc != 3 || (!show && !streq(argv[1], "clear"))))
                return admin_err(EXIT_USAGE, "usage: lockout list | lockout show [LOGIN] | lockout clear LOGIN");
        const char *login = argc == 3 ? argv[2] : a->actor;
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = admin_authorize(a, show ? "lockout show" : "lockout clear", show ? login : NULL,
                                EHR_PERM_MANAGE_ACCOUNTS, EHR_PERM_HELP_DESK);
        if (r || (r = admin_get_user(a, login, &u)))
                return r;
        return show ? lockout_show(a, u) : lockout_clear(a, u);
}
