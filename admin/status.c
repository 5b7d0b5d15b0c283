/* SPDX-License-Identifier: GPL-2.0-or-later */
/* status: the store at a glance (users, lockouts, the audit chain) and what
 * waits for someone: break-glass uses left unreviewed past break_glass_review_after. */

#include "admin.h"
#include "audit.h"
#include "breakglass.h"
#include "policy.h"

struct status {
        struct admin *a;
        size_t users, enrolled, locked;
        size_t unreviewed, overdue;
};

static int count_user(const struct ehr_user *u, void *userdata) {
        struct status *st = userdata;
        struct ehr_failures f;
        int r = ehr_store_failures_get(st->a->store, u->id, &f);
        if (r < 0)
                return r;
        st->users++;
        st->enrolled += ehr_user_enrolled(u);
        st->locked += ehr_policy_locked_until(&f, st->a->now_sec) != 0;
        return 0;
}

static int overdue_use(const struct ehr_break_glass *u, void *userdata) {
        struct status *st = userdata;
        char when[ADMIN_TIME_BYTES];
        st->unreviewed++;
        if (!ehr_break_glass_overdue(&st->a->cfg, u, st->a->now_sec))
                return 0;
        if (st->a->json) {
                printf("%s{\"id\":%lld,\"time\":%llu", st->overdue ? "," : "", (long long) u->id,
                       (unsigned long long) u->time_sec);
                json_field("login", u->login);
                json_field("host", u->host);
                json_field("service", u->service);
                json_field("reason", u->reason);
                printf("}");
        } else
                printf("  OVERDUE  use %lld  %s  %s on %s (%s): %s\n", (long long) u->id,
                       admin_format_time(u->time_sec, when, sizeof when), u->login, u->host, u->service, u->reason);
        st->overdue++;
        return 0;
}

static int count_perm(const char *perm, void *userdata) {
        (void) perm;
        (*(size_t *) userdata)++;
        return 0;
}

/* Anyone the store gives a permission may see the status; the refusal of anyone
 * else is admin_authorize()'s (audited). */
static int authorize(struct admin *a) {
        _cleanup_(ehr_user_freep) struct ehr_user *caller = NULL;
        size_t perms = 0;
        if (!a->bootstrap && ehr_store_user_get(a->store, a->actor, &caller) >= 0)
                (void) ehr_store_perm_foreach(a->store, caller->id, count_perm, &perms);
        if (a->bootstrap || perms > 0)
                return 0;
        return admin_authorize(a, "status", NULL, EHR_PERM_MANAGE_ACCOUNTS, EHR_PERM_BREAK_GLASS_REVIEW);
}

static void print_head(const struct status *st, uint64_t rows, int audit_r, uint64_t bad) {
        const struct admin *a = st->a;
        if (a->json) {
                printf("{\"store\":");
                json_string(stdout, ehr_store_location(a->store));
                printf(",\"schema\":%d,\"users\":%zu,\"enrolled\":%zu,\"locked\":%zu,\"audit_rows\":%llu,"
                       "\"audit_intact\":%s,\"break_glass\":{\"enabled\":%s,\"review_after\":%llu,\"overdue\":[",
                       EHR_STORE_SCHEMA_VERSION, st->users, st->enrolled, st->locked, (unsigned long long) rows,
                       audit_r == 0 ? "true" : "false", a->cfg.break_glass ? "true" : "false",
                       (unsigned long long) a->cfg.break_glass_review_after);
                return;
        }
        printf("Store:        %s (schema %d)\n", ehr_store_location(a->store), EHR_STORE_SCHEMA_VERSION);
        printf("Users:        %zu (%zu enrolled, %zu locked out now)\n", st->users, st->enrolled, st->locked);
        if (audit_r == 0)
                printf("Audit log:    %llu rows, chain intact\n", (unsigned long long) rows);
        else
                printf("Audit log:    CHAIN BROKEN at row %llu (ehr2fa-admin audit verify)\n", (unsigned long long) bad);
        printf("Break-glass:  %s on this host (break_glass); overdue after %llu s unreviewed\n",
               a->cfg.break_glass ? "ON" : "off", (unsigned long long) a->cfg.break_glass_review_after);
}

int verb_status(struct admin *a, int argc, char **argv) {
        admin_take_json(a, &argc, argv);
        if (argc != 1)
                return admin_err(EXIT_USAGE, "usage: status [--json]");
        (void) argv;
        struct status st = { .a = a };
        uint64_t rows = 0, bad = 0;
        int r = authorize(a);
        if (r)
                return r;
        if ((r = ehr_store_user_foreach(a->store, count_user, &st)) < 0)
                return admin_err(admin_exit_from_errno(r), "cannot read the users: %s", ehr_strerror(r));
        int audit_r = ehr_audit_verify(a->store, &rows, &bad);
        if (audit_r < 0 && audit_r != -EBADMSG)
                return admin_err(admin_exit_from_errno(audit_r), "cannot read the audit log: %s", ehr_strerror(audit_r));
        print_head(&st, rows, audit_r, bad);
        r = ehr_store_break_glass_foreach(a->store, true, a->now_sec, overdue_use, &st);
        if (a->json)
                printf("],\"unreviewed\":%zu}}\n", st.unreviewed);
        else
                printf("              %zu unreviewed use(s), %zu overdue%s\n", st.unreviewed, st.overdue,
                       st.overdue ? ": review them with ehr2fa-admin breakglass review ID --note TEXT" : "");
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot read break-glass uses: %s", ehr_strerror(r));
        return audit_r == 0 ? 0 : EXIT_TAMPER;
}
