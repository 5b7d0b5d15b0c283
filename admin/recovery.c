/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sodium.h>

#include "admin.h"
#include "recovery.h"

static int recovery_new(struct admin *a, int argc, char **argv) {
        if (argc > 2)
                return admin_err(EXIT_USAGE, "usage: recovery new [LOGIN]");
        /* Without a login: the caller's own codes (self-service). */
        const char *login = argc == 2 ? argv[1] : a->actor;
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = admin_authorize(a, "recovery new", login, EHR_PERM_MANAGE_ACCOUNTS, EHR_PERM_HELP_DESK);
        if (r)
                return r;
        r = admin_get_user(a, login, &u);
        if (r)
                return r;
        char codes[EHR_RECOVERY_CODES][EHR_RECOVERY_DISPLAY_SIZE];
        struct ehr_op op = admin_op(a);
        r = ehr_account_recovery_new(&op, u, codes);
        if (r == -ENOENT)
                return admin_err(EXIT_NOTFOUND, "%s has no app enrolled; recovery codes back up an enrolled app: run 'totp enroll %s' first",
                                 u->login, u->login);
        if (r < 0)
                return admin_op_fail(a, &op, r, "store the recovery codes", NULL);
        printf("Recovery codes for %s. Each works once, in place of a code from the app.\n"
               "They are shown only now: print them or keep them somewhere safe.\n\n",
               u->login);
        for (unsigned i = 0; i < EHR_RECOVERY_CODES; i++)
                printf("  %s\n", codes[i]);
        printf("\nAny earlier recovery codes of %s no longer work.\n", u->login);
        fflush(stdout);
        sodium_memzero(codes, sizeof codes);
        return 0;
}

int verb_recovery(struct admin *a, int argc, char **argv) {
        if (argc >= 2 && streq(argv[1], "new"))
                return recovery_new(a, argc - 1, argv + 1);
        return admin_err(EXIT_USAGE, "usage: recovery new [LOGIN]");
}
