/* SPDX-License-Identifier: GPL-2.0-or-later */
/* policy show: who the host's 2FA policy (core/enforce.h) covers, who is
 * enrolled, and who will be refused when. */
#include <grp.h>
#include <stdlib.h>

#include "admin.h"
#include "enforce.h"

#define NSS_BUF 16384U

struct show {
        struct admin *a;
        size_t n;
};

static const char *outcome_name(enum ehr_enforce_outcome o) {
        static const char *const names[] = {
                [EHR_ENFORCE_OUTSIDE] = "outside", [EHR_ENFORCE_NOT_HERE] = "not_enforced",
                [EHR_ENFORCE_DAYS] = "before_deadline", [EHR_ENFORCE_GRACE] = "grace", [EHR_ENFORCE_REFUSED] = "refused",
        };
        return names[o];
}

/* What happens at this user's next login without a second factor, in words. */
static void status_text(const struct admin *a, bool enrolled, const struct ehr_enforce_verdict *v, char *buf,
                        size_t len) {
        char when[ADMIN_TIME_BYTES];
        if (enrolled)
                snprintf(buf, len, "enrolled: asked for a code");
        else if (v->outcome == EHR_ENFORCE_OUTSIDE)
                snprintf(buf, len, "not enrolled, outside the policy: not asked");
        else if (v->outcome == EHR_ENFORCE_DAYS)
                snprintf(buf, len, "not enrolled: %llu day(s) left; refused from %s after %llu grace login(s)",
                         (unsigned long long) v->days_left, admin_format_time(v->deadline_sec, when, sizeof when),
                         (unsigned long long) v->logins_left);
        else if (v->outcome == EHR_ENFORCE_GRACE)
                snprintf(buf, len, "not enrolled, past enroll_by: %llu grace login(s) left, then refused",
                         (unsigned long long) v->logins_left);
        else
                snprintf(buf, len, "not enrolled: refused now");
}

static int show_one(struct show *st, const char *login, const struct ehr_user *u) {
        struct ehr_enforce_verdict v;
        bool enrolled = u && ehr_user_enrolled(u);
        int r = ehr_enforce_preview(st->a->store, &st->a->cfg, login, u, NULL, st->a->now_sec, &v);
        if (r < 0)
                return r;
        char text[160];
        status_text(st->a, enrolled, &v, text, sizeof text);
        if (st->a->json) {
                printf("%s{\"login\":", st->n ? ",\n " : "");
                json_string(stdout, login);
                printf(",\"in_store\":%s,\"enrolled\":%s,\"covered\":%s", u ? "true" : "false",
                       enrolled ? "true" : "false", v.outcome != EHR_ENFORCE_OUTSIDE ? "true" : "false");
                json_field("covered_by", v.why);
                json_field("status", enrolled ? "enrolled" : outcome_name(v.outcome));
                printf(",\"refused_from\":%llu,\"days_left\":%llu,\"grace_used\":%llu,\"grace_left\":%llu",
                       (unsigned long long) v.deadline_sec, (unsigned long long) v.days_left,
                       (unsigned long long) v.logins_used,
                       (unsigned long long) v.logins_left);
                json_field("summary", text);
                printf("}");
        } else
                printf("%-20s %-12s %-20s %s\n", login, u ? "store" : "host", *v.why ? v.why : "-", text);
        st->n++;
        return 0;
}

static int user_cb(const struct ehr_user *u, void *userdata) {
        return show_one(userdata, u->login, u);
}

/* Members of the host's groups the policy names who are not in the store (their
 * primary-group members are not listed in the group: a login of theirs still counts). */
static int host_members(struct show *st) {
        char word[64];
        _cleanup_free_ char *buf = malloc(NSS_BUF);
        if (!buf)
                return -ENOMEM;
        for (const char *p = st->a->cfg.enforce_groups; ehr_config_list_next(&p, word, sizeof word);) {
                struct group gr, *res = NULL;
                if (getgrnam_r(word, &gr, buf, NSS_BUF, &res) != 0 || !res)
                        continue;
                for (char **m = gr.gr_mem; *m; m++) {
                        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
                        int r = ehr_login_valid(*m) ? ehr_store_user_get(st->a->store, *m, &u) : 0;
                        if (r == -ENOENT)
                                r = show_one(st, *m, NULL);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static void print_policy(const struct admin *a) {
        const struct ehr_config *c = &a->cfg;
        uint64_t deadline = 0;
        char when[ADMIN_TIME_BYTES];
        if (c->enroll_by)
                (void) ehr_parse_date(c->enroll_by, &deadline);
        if (a->json) {
                printf("{\"policy\":{\"configured\":%s", ehr_enforce_configured(c) ? "true" : "false");
                json_field("roles", c->enforce_roles ?: "");
                json_field("groups", c->enforce_groups ?: "");
                json_field("services", c->enforce_services ?: "");
                json_field("enroll_by", c->enroll_by ?: "");
                printf(",\"refused_from\":%llu,\"grace_logins\":%llu", (unsigned long long) deadline,
                       (unsigned long long) c->grace_logins);
                json_field("enroll_services", c->public_host ? "" : c->enroll_services ?: "");
                printf("},\n\"users\":[");
                return;
        }
        printf("2FA policy of this host (%s):\n", a->conf_path ?: EHR_CONFIG_DEFAULT_PATH);
        printf("  required for:   roles %s; groups %s\n", c->enforce_roles ?: "-", c->enforce_groups ?: "-");
        printf("  at services:    %s\n", c->enforce_services ?: "every service");
        printf("  enroll by:      %s%s%s%s\n", c->enroll_by ?: "- (already required)", c->enroll_by ? " (refused from " : "",
               c->enroll_by ? admin_format_time(deadline, when, sizeof when) : "", c->enroll_by ? ")" : "");
        printf("  grace logins:   %llu\n", (unsigned long long) c->grace_logins);
        printf("  enrollment at login: %s%s%s\n\n",
               c->public_host ? "never (public_host)" : c->enroll_services ?: "none",
               !c->public_host && c->enroll_services && c->enroll_hosts ? "; hosts " : "",
               !c->public_host && c->enroll_services ? c->enroll_hosts ?: "" : "");
        printf("%-20s %-12s %-20s %s\n", "LOGIN", "ACCOUNT", "COVERED BY", "STATUS");
}

static int policy_show(struct admin *a, int argc, char **argv) {
        admin_take_json(a, &argc, argv);
        if (argc != 1)
                return admin_err(EXIT_USAGE, "usage: policy show [--json]");
        int r = admin_authorize(a, "policy show", NULL, EHR_PERM_MANAGE_ACCOUNTS, EHR_PERM_HELP_DESK);
        if (r)
                return r;
        if (!ehr_enforce_configured(&a->cfg) && !a->json)
                printf("No 2FA policy on this host (enforce_roles and enforce_groups are unset): nullok = %s decides.\n\n",
                       a->cfg.nullok ? "yes" : "no");
        struct show st = { .a = a };
        print_policy(a);
        r = ehr_store_user_foreach(a->store, user_cb, &st);
        if (r >= 0)
                r = host_members(&st);
        if (a->json)
                printf("]}\n");
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot show the policy: %s", ehr_strerror(r));
        return 0;
}

int verb_policy(struct admin *a, int argc, char **argv) {
        if (argc >= 2 && streq(argv[1], "show"))
                return policy_show(a, argc - 1, argv + 1);
        return admin_err(EXIT_USAGE, "usage: policy show [--json]");
}
