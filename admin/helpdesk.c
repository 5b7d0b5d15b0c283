/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Support PIN, Unlock PIN, permissions and support requests. */
#include <getopt.h>
#include <sodium.h>
#include <time.h>

#include "admin.h"
#include "helpdesk.h"

#define SECRET_LINE_MAX 128U

/* The caller as a store user, for self-service commands. */
static int caller_user(struct admin *a, struct ehr_user **ret) {
        int r = ehr_store_user_get(a->store, a->actor, ret);
        if (r == -ENOENT)
                return admin_err(EXIT_NOTFOUND, "%s is not in the store%s", a->actor,
                                 a->bootstrap ? " (run it as the user, or through sudo as the user)" : "");
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot read %s: %s", a->actor, ehr_strerror(r));
        return 0;
}

/* --- permissions --- */

struct json_list {
        struct admin *a;
        size_t n;
};

static int print_perm(const char *perm, void *userdata) {
        struct json_list *l = userdata;
        if (l->a->json) {
                printf("%s", l->n ? "," : "");
                json_string(stdout, perm);
        } else
                printf("%s\n", perm);
        l->n++;
        return 0;
}

int verb_perm(struct admin *a, int argc, char **argv) {
        admin_take_json(a, &argc, argv);
        bool grant = argc >= 4 && streq(argv[1], "grant"), revoke = argc == 4 && streq(argv[1], "revoke"),
             list = argc == 3 && streq(argv[1], "list");
        if (!grant && !revoke && !list)
                return admin_err(EXIT_USAGE, "usage: perm grant LOGIN PERM... | perm revoke LOGIN PERM | perm list LOGIN\n"
                                             "permissions: manage_accounts help_desk audit_export break_glass_review");
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = admin_authorize(a, list ? "perm list" : "perm grant/revoke", list ? argv[2] : NULL,
                                EHR_PERM_MANAGE_ACCOUNTS, list ? EHR_PERM_HELP_DESK : NULL);
        if (r)
                return r;
        if ((r = admin_get_user(a, argv[2], &u)))
                return r;
        if (list) {
                struct json_list l = { .a = a };
                if (a->json)
                        printf("[");
                r = ehr_store_perm_foreach(a->store, u->id, print_perm, &l);
                if (a->json)
                        printf("]\n");
                return r < 0 ? admin_err(admin_exit_from_errno(r), "cannot list: %s", ehr_strerror(r)) : 0;
        }
        struct ehr_op op = admin_op(a);
        size_t bad = 0;
        r = ehr_account_perm_set(&op, u, grant, argv + 3, (size_t) (argc - 3), &bad);
        if (r == -EINVAL)
                return admin_err(EXIT_USAGE, "unknown permission '%s': manage_accounts, help_desk, audit_export or break_glass_review",
                                 argv[3 + bad]);
        if (r < 0)
                return admin_op_fail(a, &op, r, grant ? "grant" : "revoke", NULL);
        printf("%s %s.\n", grant ? "Granted to" : "Revoked from", u->login);
        return 0;
}

/* --- Support PIN --- */

static int read_pin(const char *prompt, char pin[SECRET_LINE_MAX]) {
        int r = admin_read_secret(prompt, pin, SECRET_LINE_MAX);
        if (r < 0)
                return admin_err(EXIT_USAGE, "no PIN given on standard input");
        return 0;
}

static int spin_view_or_new(struct admin *a, bool new) {
        _cleanup_(ehr_user_freep) struct ehr_user *me = NULL;
        char pin[EHR_PIN_DIGITS + 1];
        int r = caller_user(a, &me);
        if (r)
                return r;
        r = new ? ehr_support_pin_new(a->store, me, a->now_sec, a->actor, a->source, pin)
                : ehr_support_pin_view(a->store, me, a->now_sec, a->source, pin);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot %s the Support PIN: %s", new ? "generate" : "read",
                                 ehr_strerror(r));
        if (a->json)
                printf("{\"login\":\"%s\",\"support_pin\":\"%s\"}\n", me->login, pin);
        else
                printf("Support PIN of %s: %s\n%s", me->login, pin,
                       new ? "" : "Give it to the help desk when you call; it changes after each use.\n");
        fflush(stdout);
        sodium_memzero(pin, sizeof pin);
        return 0;
}

static int spin_validate(struct admin *a, const char *login) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        char pin[SECRET_LINE_MAX];
        int r = admin_authorize(a, "support-pin validate", NULL, EHR_PERM_HELP_DESK, NULL);
        if (r)
                return r;
        if ((r = admin_get_user(a, login, &u)) || (r = read_pin("Support PIN the caller gave: ", pin)))
                return r;
        r = ehr_support_pin_validate(a->store, u, pin, a->now_sec, a->actor, a->source);
        sodium_memzero(pin, sizeof pin);
        switch (r) {
        case 0:
                printf("Support PIN valid: the caller is %s (%s). A new PIN was generated for them.\n", u->login,
                       u->name);
                return 0;
        case -EBADRQC:
                printf("Support PIN NOT valid for %s. Do not proceed.\n", u->login);
                return EXIT_FAIL;
        case -EAGAIN:
                printf("Support PIN validation for %s is LOCKED after %u failures; a manager must clear it "
                       "(support-pin unlock %s).\n",
                       u->login, EHR_SUPPORT_PIN_MAX_FAILURES, u->login);
                return EXIT_LOCKED;
        case -ENOENT:
                return admin_err(EXIT_NOTFOUND, "%s has no Support PIN yet; they see one with 'support-pin view'",
                                 u->login);
        default:
                return admin_err(admin_exit_from_errno(r), "cannot validate: %s", ehr_strerror(r));
        }
}

static int spin_unlock(struct admin *a, const char *login) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = admin_authorize(a, "support-pin unlock", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r || (r = admin_get_user(a, login, &u)))
                return r;
        r = ehr_support_pin_unlock(a->store, u, a->now_sec, a->actor, a->source);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot unlock: %s", ehr_strerror(r));
        printf("Support PIN validation for %s unlocked.\n", u->login);
        return 0;
}

int verb_support_pin(struct admin *a, int argc, char **argv) {
        admin_take_json(a, &argc, argv);
        if (argc == 2 && streq(argv[1], "view"))
                return spin_view_or_new(a, false);
        if (argc == 2 && streq(argv[1], "new"))
                return spin_view_or_new(a, true);
        if (argc == 3 && streq(argv[1], "validate"))
                return spin_validate(a, argv[2]);
        if (argc == 3 && streq(argv[1], "unlock"))
                return spin_unlock(a, argv[2]);
        return admin_err(EXIT_USAGE, "usage: support-pin view | new | validate LOGIN | unlock LOGIN");
}

/* --- Unlock PIN --- */

int verb_unlock_pin(struct admin *a, int argc, char **argv) {
        if (argc != 2 || !streq(argv[1], "set"))
                return admin_err(EXIT_USAGE, "usage: unlock-pin set   (the PIN is read from the terminal or standard input)");
        _cleanup_(ehr_user_freep) struct ehr_user *me = NULL;
        char pin[SECRET_LINE_MAX], again[SECRET_LINE_MAX];
        int r = caller_user(a, &me);
        if (r || (r = read_pin("New Unlock PIN (4 digits): ", pin)))
                return r;
        if (isatty(STDIN_FILENO)) {
                if ((r = read_pin("Again: ", again)))
                        return r;
                bool same = strlen(pin) == strlen(again) && sodium_memcmp(pin, again, strlen(pin)) == 0;
                sodium_memzero(again, sizeof again);
                if (!same) {
                        sodium_memzero(pin, sizeof pin);
                        return admin_err(EXIT_USAGE, "the two PINs differ; nothing changed");
                }
        }
        r = ehr_unlock_pin_set(a->store, me, pin, a->now_sec, a->actor, a->source);
        sodium_memzero(pin, sizeof pin);
        if (r == -EINVAL)
                return admin_err(EXIT_USAGE, "an Unlock PIN is exactly 4 digits");
        if (r == -EEXIST)
                return admin_err(EXIT_FAIL, "the Unlock PIN must differ from your Support PIN; choose another");
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot set the Unlock PIN: %s", ehr_strerror(r));
        printf("Unlock PIN set for %s.\n", me->login);
        return 0;
}

/* --- support requests --- */

static int print_request(const struct ehr_support_request *q, void *userdata) {
        struct json_list *l = userdata;
        if (l->a->json) {
                printf("%s{\"id\":%lld,\"for\":", l->n ? ",\n " : "", (long long) q->id);
                json_string(stdout, q->for_login);
                printf(",\"by\":");
                json_string(stdout, q->by_login);
                printf(",\"approver\":");
                json_string(stdout, q->approver_login);
                printf(",\"state\":\"%s\",\"how\":", q->state);
                json_string(stdout, q->how);
                printf(",\"note\":");
                json_string(stdout, q->note);
                printf(",\"created\":%llu,\"decided\":%llu}", (unsigned long long) q->created_sec,
                       (unsigned long long) q->decided_sec);
        } else
                printf("#%-4lld %-9s for %-16s by %-16s %s%s%s%s\n", (long long) q->id, q->state, q->for_login,
                       q->by_login, streq(q->state, "open") ? "waiting for provider " : "",
                       streq(q->state, "open") ? q->approver_login : q->how, *q->note ? " -- " : "", q->note);
        l->n++;
        return 0;
}

struct approve_info {
        char for_login[EHR_LOGIN_MAX + 1], approver[EHR_LOGIN_MAX + 1], state[16];
};

static int get_info(const struct ehr_support_request *q, void *userdata) {
        struct approve_info *i = userdata;
        snprintf(i->for_login, sizeof i->for_login, "%s", q->for_login);
        snprintf(i->approver, sizeof i->approver, "%s", q->approver_login);
        snprintf(i->state, sizeof i->state, "%s", q->state);
        return 0;
}

static int support_approve(struct admin *a, int64_t id, bool by_pin) {
        struct approve_info info = {};
        char how[128], pin[SECRET_LINE_MAX];
        int r = ehr_store_request_get(a->store, id, get_info, &info);
        if (r == -ENOENT)
                return admin_err(EXIT_NOTFOUND, "no support request #%lld", (long long) id);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot read the request: %s", ehr_strerror(r));
        if (!streq(info.state, "open"))
                return admin_err(EXIT_FAIL, "request #%lld is already %s", (long long) id, info.state);

        if (by_pin) {
                /* The provider called in and gave their Support PIN to the help desk. */
                _cleanup_(ehr_user_freep) struct ehr_user *prov = NULL;
                if ((r = admin_authorize(a, "support approve --pin", NULL, EHR_PERM_HELP_DESK, NULL)) ||
                    (r = admin_get_user(a, info.approver, &prov)) ||
                    (r = read_pin("Support PIN the provider gave: ", pin)))
                        return r;
                r = ehr_support_pin_validate(a->store, prov, pin, a->now_sec, a->actor, a->source);
                sodium_memzero(pin, sizeof pin);
                if (r == -EAGAIN)
                        return admin_err(EXIT_LOCKED, "Support PIN validation for %s is locked", prov->login);
                if (r < 0) {
                        printf("Support PIN NOT valid for %s: request #%lld stays open.\n", prov->login, (long long) id);
                        return r == -EBADRQC ? EXIT_FAIL : admin_exit_from_errno(r);
                }
                snprintf(how, sizeof how, "Support PIN of provider %s validated by %s", prov->login, a->actor);
        } else {
                /* Only the provider whose approval is needed may approve, by their own command. */
                if (!streq(a->actor, info.approver) && !a->bootstrap)
                        return admin_err(EXIT_PERM,
                                         "permission denied: only provider %s can approve request #%lld (or the help "
                                         "desk with their Support PIN: support approve %lld --pin)",
                                         info.approver, (long long) id, (long long) id);
                snprintf(how, sizeof how, "approved by provider %s", a->bootstrap ? "root" : info.approver);
        }
        r = ehr_support_request_approve(a->store, id, info.for_login, how, a->now_sec, a->actor, a->source);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot approve: %s", ehr_strerror(r));
        printf("Request #%lld approved (%s): support may assist with %s.\n", (long long) id, how, info.for_login);
        return 0;
}

static int support_request(struct admin *a, const char *for_login, const char *by_login, const char *note) {
        _cleanup_(ehr_user_freep) struct ehr_user *target = NULL, *by = NULL;
        int64_t id;
        bool needs;
        int r;
        if ((r = admin_authorize(a, "support request", NULL, EHR_PERM_HELP_DESK, NULL)) ||
            (r = admin_get_user(a, for_login, &target)) || (r = admin_get_user(a, by_login, &by)))
                return r;
        r = ehr_support_request_create(a->store, target, by, note, a->now_sec, a->actor, a->source, &id, &needs);
        if (r == -ENOENT)
                return admin_err(EXIT_FAIL, "staff member %s has no primary provider to approve; set one first",
                                 target->login);
        if (r == -EINVAL)
                return admin_bad(EHR_FIELD_TEXT, "note", NULL);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot file the request: %s", ehr_strerror(r));
        if (needs)
                printf("Request #%lld: provider approval is needed before assisting %s on %s's account.\n"
                       "The provider approves with 'ehr2fa-admin support approve %lld', or calls in with their "
                       "Support PIN ('support approve %lld --pin').\n",
                       (long long) id, by->login, target->login, (long long) id, (long long) id);
        else
                printf("Request #%lld: support can assist %s with %s's account.\n", (long long) id, by->login,
                       target->login);
        return 0;
}

/* One request (id_arg) or all (NULL). */
static int support_show(struct admin *a, const char *id_arg) {
        struct json_list l = { .a = a };
        uint64_t id = 0;
        int r = admin_authorize(a, "support show", NULL, EHR_PERM_HELP_DESK, EHR_PERM_MANAGE_ACCOUNTS);
        if (r)
                return r;
        if (id_arg && ehr_parse_uint(id_arg, 1, INT64_MAX, &id) < 0)
                return admin_err(EXIT_USAGE, "bad request id '%s'", id_arg);
        if (a->json)
                printf("[");
        if (id_arg)
                r = ehr_store_request_get(a->store, (int64_t) id, print_request, &l);
        else
                r = ehr_store_request_foreach(a->store, print_request, &l);
        if (a->json)
                printf("]\n");
        if (r == -ENOENT)
                return admin_err(EXIT_NOTFOUND, "no such request");
        return r < 0 ? admin_err(admin_exit_from_errno(r), "cannot read requests: %s", ehr_strerror(r)) : 0;
}

#define SUPPORT_USAGE "usage: support request --for LOGIN --by LOGIN [--note TEXT] | approve ID [--pin] | show ID | list"

int verb_support(struct admin *a, int argc, char **argv) {
        static const struct option opts[] = {
                { "for", required_argument, NULL, 'f' },
                { "by", required_argument, NULL, 'b' },
                { "note", required_argument, NULL, 'n' },
                { "pin", no_argument, NULL, 'p' },
                {},
        };
        const char *for_login = NULL, *by_login = NULL, *note = "";
        bool by_pin = false;
        int c;
        admin_take_json(a, &argc, argv);
        if (argc < 2)
                return admin_err(EXIT_USAGE, SUPPORT_USAGE);
        const char *sub = argv[1];
        argc--, argv++;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'f':
                        for_login = optarg;
                        break;
                case 'b':
                        by_login = optarg;
                        break;
                case 'n':
                        note = optarg;
                        break;
                case 'p':
                        by_pin = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (streq(sub, "request")) {
                if (!for_login || !by_login || optind != argc)
                        return admin_err(EXIT_USAGE, "usage: support request --for LOGIN --by LOGIN [--note TEXT]");
                return support_request(a, for_login, by_login, note);
        }
        if (streq(sub, "approve") && optind + 1 == argc) {
                uint64_t id;
                if (ehr_parse_uint(argv[optind], 1, INT64_MAX, &id) < 0)
                        return admin_err(EXIT_USAGE, "bad request id '%s'", argv[optind]);
                return support_approve(a, (int64_t) id, by_pin);
        }
        if ((streq(sub, "show") && optind + 1 == argc) || (streq(sub, "list") && optind == argc))
                return support_show(a, streq(sub, "show") ? argv[optind] : NULL);
        return admin_err(EXIT_USAGE, SUPPORT_USAGE);
}
