/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ehr2fa-helper: the small privileged path for unprivileged callers, installed
 * setuid root like unix_chkpwd. It answers only for the calling uid:
 *
 *   ehr2fa-helper unlock [LOGIN]      Unlock PIN on stdin; exit 0 ok, 1 wrong,
 *                                     2 locked, 3 unavailable, 4 no PIN, 5 denied
 *   ehr2fa-helper self VERB ...       self-service verbs of ehr2fa-admin for the
 *                                     caller's own account only
 *
 * The environment is cleared, the config path is fixed (only the never-installed
 * test build reads EHR2FA_CONF, and EHR2FA_TEST_NOW for its clock), no core dumps,
 * and a failed PIN costs a delay. "self password forgot|reset" need no login name
 * (the reset code is the proof). */

#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "admin.h"
#include "helpdesk.h"

#define PIN_LINE_MAX 32U
#define FAIL_DELAY_US 500000U

static void harden(void) {
        struct rlimit rl = { 0, 0 };
        (void) setrlimit(RLIMIT_CORE, &rl);
        (void) prctl(PR_SET_DUMPABLE, 0);
        umask(0077);
        /* Standard descriptors that are closed would be reused by the store: fill them. */
        for (int fd = 0; fd <= 2; fd++)
                if (fcntl(fd, F_GETFD) < 0)
                        (void) open("/dev/null", O_RDWR);
        (void) close_range(3, ~0U, 0);
}

static int do_unlock(struct admin *a, const char *login) {
        char pin[PIN_LINE_MAX];
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;

        /* Only the caller's own PIN: asking for anyone else's is refused (root may ask for any). */
        if (login && !streq(login, a->actor) && getuid() != 0)
                return EHR_HELPER_DENIED;
        if (!login)
                login = a->actor;
        if (!fgets(pin, sizeof pin, stdin))
                return EHR_HELPER_WRONG;
        pin[strcspn(pin, "\r\n")] = 0;

        int r = admin_open_store(a, EHR_STORE_MIGRATE, NULL);
        if (r) {
                sodium_memzero(pin, sizeof pin);
                return EHR_HELPER_UNAVAILABLE;
        }
        r = ehr_store_user_get(a->store, login, &u);
        if (r < 0) {
                sodium_memzero(pin, sizeof pin);
                return helper_exit_from_errno(r); /* no such user: no PIN */
        }
        uint64_t until = 0;
        char source[160];
        snprintf(source, sizeof source, "tool=ehr2fa-helper uid=%u", (unsigned) getuid());
        r = ehr_unlock_pin_verify(a->store, &a->cfg, u, pin, a->now_sec, source, &until);
        sodium_memzero(pin, sizeof pin);
        /* A failed PIN costs a delay, so that guessing through the helper is slow. */
        if (r == -EBADRQC || r == -EAGAIN)
                usleep(FAIL_DELAY_US);
        return helper_exit_from_errno(r);
}

/* Self-service: the verb must act on the caller's own account. */
static int do_self(struct admin *a, int argc, char **argv) {
        static const struct {
                const char *verb, *sub;
                /* argc when a LOGIN is given (argv[2], which must be the caller); 0: never.
                 * Without one the verb acts on the caller. */
                int argc_with_login;
                int (*fn)(struct admin *a, int argc, char **argv);
        } allowed[] = {
                { "support-pin", "view", 0, verb_support_pin },
                { "support-pin", "new", 0, verb_support_pin },
                { "unlock-pin", "set", 0, verb_unlock_pin },
                { "device", "list", 3, verb_device },
                { "device", "revoke", 4, verb_device },
                { "lockout", "show", 3, verb_lockout },
                { "recovery", "new", 3, verb_recovery },
                { "password", "forgot", 0, verb_password },
                { "password", "reset", 0, verb_password },
                /* Not the caller's account: the store's permissions decide (Break the Glass Review). */
                { "breakglass", "list", 0, verb_breakglass },
                { "breakglass", "review", 0, verb_breakglass },
                { "breakglass", "summary", 0, verb_breakglass },
                { "status", NULL, 0, verb_status },
        };
        for (size_t i = 0; i < ELEMENTSOF(allowed); i++) {
                if (argc < 1 || !streq(argv[0], allowed[i].verb) ||
                    (allowed[i].sub ? argc < 2 || !streq(argv[1], allowed[i].sub) : argc != 1))
                        continue;
                if (allowed[i].argc_with_login && argc == allowed[i].argc_with_login && !streq(argv[2], a->actor))
                        return admin_err(EXIT_PERM, "permission denied: %s %s works on your own account only (%s)",
                                         argv[0], argv[1], a->actor);
                int r = admin_open_store(a, EHR_STORE_MIGRATE, NULL);
                if (r)
                        return r;
                return allowed[i].fn(a, argc, argv);
        }
        return admin_err(EXIT_PERM, "not a self-service command: ask the help desk (sudo ehr2fa-admin ...)");
}

int main(int argc, char **argv) {
        struct admin a = { .now_sec = (uint64_t) time(NULL) };
        char err[EHR_CONFIG_ERR_MAX];
        const char *conf = EHR_CONFIG_DEFAULT_PATH;

        harden();
        if (geteuid() != 0)
                return admin_err(EHR_HELPER_UNAVAILABLE, "ehr2fa-helper must be installed setuid root");
#ifdef EHR_HELPER_TEST
        /* The test build only: the installed helper never lets the caller pick the config. */
        static char test_conf[PATH_MAX];
        if (getenv("EHR2FA_CONF")) {
                snprintf(test_conf, sizeof test_conf, "%s", getenv("EHR2FA_CONF"));
                conf = test_conf;
        }
        /* And a clock, for the expiry of reset codes. */
        if (getenv("EHR2FA_TEST_NOW") && ehr_parse_uint(getenv("EHR2FA_TEST_NOW"), 1, UINT32_MAX, &a.now_sec) < 0)
                return admin_err(EHR_HELPER_UNAVAILABLE, "bad EHR2FA_TEST_NOW");
#endif
        /* Nothing from the caller's environment reaches libc, SQLite or libsodium. */
        (void) clearenv();
        (void) setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);

        if (argc < 2 || sodium_init() < 0)
                return admin_err(EHR_HELPER_UNAVAILABLE, "usage: ehr2fa-helper unlock [LOGIN] | self VERB ...");
        ehr_config_init(&a.cfg);
        if (ehr_config_load(&a.cfg, conf, true, err, sizeof err) < 0)
                return admin_err(EHR_HELPER_UNAVAILABLE, "%s", err);
        admin_set_actor(&a, false);
        a.bootstrap = false; /* the helper grants no permission, not even to root */
        /* The forgotten-password reset needs no login: its token is the proof. */
        bool reset = argc >= 4 && streq(argv[1], "self") && streq(argv[2], "password") &&
                     (streq(argv[3], "forgot") || streq(argv[3], "reset"));
        if (!reset && strncmp(a.actor, "uid=", 4) == 0)
                return admin_err(EHR_HELPER_DENIED, "the calling uid %u has no login name", (unsigned) getuid());

        int r;
        if (streq(argv[1], "unlock") && argc <= 3)
                r = do_unlock(&a, argc == 3 ? argv[2] : NULL);
        else if (streq(argv[1], "self")) {
                admin_take_json(&a, &argc, argv);
                optind = 0;
                r = do_self(&a, argc - 2, argv + 2);
        } else
                r = admin_err(EHR_HELPER_UNAVAILABLE, "usage: ehr2fa-helper unlock [LOGIN] | self VERB ...");
        a.store = ehr_store_free(a.store);
        ehr_config_done(&a.cfg);
        return r;
}
