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
        char when[64];
        if (until)
                printf("%s is LOCKED until %s (%llu failures; %llu since the last success).\n", u->login,
                       ehr_policy_format_until(until, a->now_sec, when, sizeof when), (unsigned long long) f.count,
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

int verb_lockout(struct admin *a, int argc, char **argv) {
        admin_take_json(a, &argc, argv);
        if (argc != 3 || (!streq(argv[1], "show") && !streq(argv[1], "clear")))
                return admin_err(EXIT_USAGE, "usage: lockout show|clear LOGIN");
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        bool show = streq(argv[1], "show");
        int r = admin_authorize(a, show ? "lockout show" : "lockout clear", show ? argv[2] : NULL, EHR_PERM_MANAGE_ACCOUNTS, EHR_PERM_HELP_DESK);
        if (r)
                return r;
        r = admin_get_user(a, argv[2], &u);
        if (r)
                return r;
        return show ? lockout_show(a, u) : lockout_clear(a, u);
}
