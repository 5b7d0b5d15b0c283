/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "admin.h"
#include "trust.h"

struct list_state {
        struct admin *a;
        size_t n;
};

static int list_one(const struct ehr_device *d, void *userdata) {
        struct list_state *st = userdata;
        bool expired = d->expires_sec <= st->a->now_sec;
        if (st->a->json) {
                printf("%s{\"id\":%lld,\"label\":", st->n ? ",\n " : "", (long long) d->id);
                json_string(stdout, d->label);
                printf(",\"created\":%llu,\"expires\":%llu,\"last_used\":%llu,\"expired\":%s}",
                       (unsigned long long) d->created_sec, (unsigned long long) d->expires_sec,
                       (unsigned long long) d->last_used_sec, expired ? "true" : "false");
        } else {
                char c[ADMIN_TIME_BYTES], e[ADMIN_TIME_BYTES], l[ADMIN_TIME_BYTES];
                printf("%4lld  %-25s %-25s%s %-25s %s\n", (long long) d->id,
                       admin_format_time(d->created_sec, c, sizeof c), admin_format_time(d->expires_sec, e, sizeof e),
                       expired ? "*" : " ", admin_format_time(d->last_used_sec, l, sizeof l), d->label);
        }
        st->n++;
        return 0;
}

static int device_list(struct admin *a, const struct ehr_user *u) {
        struct list_state st = { .a = a };
        if (a->json)
                printf("[");
        else
                printf("%4s  %-25s %-25s  %-25s %s\n", "ID", "TRUSTED", "EXPIRES", "LAST USED", "DEVICE");
        int r = ehr_store_device_foreach(a->store, u->id, list_one, &st);
        if (a->json)
                printf("]\n");
        else if (st.n == 0)
                printf("(no trusted devices)\n");
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot list devices: %s", ehr_strerror(r));
        return 0;
}

static int device_revoke(struct admin *a, const struct ehr_user *u, const char *which) {
        uint64_t id = 0;
        if (!streq(which, "--all") && ehr_parse_uint(which, 1, INT64_MAX, &id) < 0)
                return admin_err(EXIT_USAGE, "usage: device revoke [LOGIN] ID|--all");
        int r = ehr_trust_revoke(a->store, u, (int64_t) id, a->now_sec, a->actor, "revoked by request", a->source);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot revoke: %s", ehr_strerror(r));
        if (r == 0 && id)
                return admin_err(EXIT_NOTFOUND, "%s has no trusted device %llu", u->login, (unsigned long long) id);
        printf("Revoked %d trusted device(s) of %s: the next login there asks for a code.\n", r, u->login);
        return 0;
}

/* The LOGIN argument may be left out: the caller's own devices (self-service). */
int verb_device(struct admin *a, int argc, char **argv) {
        admin_take_json(a, &argc, argv);
        bool list = argc >= 2 && argc <= 3 && streq(argv[1], "list"),
             revoke = argc >= 3 && argc <= 4 && streq(argv[1], "revoke");
        if (!list && !revoke)
                return admin_err(EXIT_USAGE, "usage: device list [LOGIN] | device revoke [LOGIN] ID|--all");
        bool own = argc == (list ? 2 : 3);
        const char *login = own ? a->actor : argv[2];
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = admin_authorize(a, list ? "device list" : "device revoke", login, EHR_PERM_MANAGE_ACCOUNTS,
                                EHR_PERM_HELP_DESK);
        if (r || (r = admin_get_user(a, login, &u)))
                return r;
        return list ? device_list(a, u) : device_revoke(a, u, argv[argc - 1]);
}
