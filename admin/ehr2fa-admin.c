/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ehr2fa-admin: staff records, 2FA enrollment, resets, lockouts and the audit log. */

#include <getopt.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>

#include "admin.h"
#include "audit.h"

static int verb_version(struct admin *a, int argc, char **argv) {
        printf("ehr2fa-admin %s (store schema %d)\n", EHR2FA_VERSION, EHR_STORE_SCHEMA_VERSION);
        return 0;
}

/* Unprivileged users reach their own Support PIN, Unlock PIN, devices and
 * recovery codes through the setuid helper, which answers only for them. */
static bool self_service(int argc, char **argv) {
        static const char *const verbs[] = { "support-pin", "unlock-pin", "device", "lockout", "recovery",
                                             "breakglass", "status" };
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[0], verbs[i]))
                        return true;
        /* The forgotten-password reset: anyone, no login needed. */
        return streq(argv[0], "password") && argc >= 2 && (streq(argv[1], "forgot") || streq(argv[1], "reset"));
}

static int exec_helper(const struct admin *a, int argc, char **argv) {
        const char *helper = getenv("EHR2FA_HELPER") ?: EHR2FA_HELPER_PATH;
        char **args = calloc((size_t) (argc - optind + 3 + (a->json ? 1 : 0)), sizeof *args);
        if (!args)
                return admin_err(EXIT_FAIL, "out of memory");
        size_t n = 0;
        args[n++] = (char *) "ehr2fa-helper";
        args[n++] = (char *) "self";
        if (a->json)
                args[n++] = (char *) "--json";
        for (int j = optind; j < argc; j++)
                args[n++] = argv[j];
        execv(helper, args);
        int r = admin_err(EXIT_STORE, "cannot run %s: %m (is ehr2fa installed?)", helper);
        free(args);
        return r;
}

/* Run the verb argv[0] with its arguments; the store opened first when it needs one. */
static int run_verb(struct admin *a, int argc, char **argv) {
        static const struct {
                const char *name;
                int (*fn)(struct admin *a, int argc, char **argv);
                bool needs_store;
        } verbs[] = {
                { "init", verb_init, false },         { "user", verb_user, true },
                { "totp", verb_totp, true },          { "recovery", verb_recovery, true },
                { "lockout", verb_lockout, true },    { "audit", verb_audit, true },
                { "device", verb_device, true },      { "perm", verb_perm, true },
                { "support-pin", verb_support_pin, true }, { "unlock-pin", verb_unlock_pin, true },
                { "support", verb_support, true },    { "staff", verb_staff, true },
                { "group", verb_group, true },        { "nss", verb_nss, true },
                { "version", verb_version, false },   { "migrate", verb_migrate, false },
                { "store", verb_store, false },       { "sync", verb_sync, false },
                { "password", verb_password, true },
                { "breakglass", verb_breakglass, true }, { "status", verb_status, true },
                { "policy", verb_policy, true },
        };
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].name, argv[0]))
                        continue;
                int r = verbs[i].needs_store ? admin_open_store(a, EHR_STORE_MIGRATE, NULL) : 0;
                if (r)
                        return r;
                /* The verb parses its own options from argv[0] = its name; reset getopt. */
                optind = 0;
                return verbs[i].fn(a, argc, argv);
        }
        return admin_err(EXIT_USAGE, "unknown command '%s'; see ehr2fa-admin --help", argv[0]);
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "conf", required_argument, NULL, 'c' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        struct admin a = { .now_sec = (uint64_t) time(NULL) };
        char err[EHR_CONFIG_ERR_MAX];
        int c, r;

        /* Secrets pass through this process (seeds, recovery codes): no core dumps of it. */
        struct rlimit rl = { 0, 0 };
        (void) setrlimit(RLIMIT_CORE, &rl);
        umask(0077);

        a.conf_path = getenv("EHR2FA_CONF");
        while ((c = getopt_long(argc, argv, "+c:jhV", opts, NULL)) >= 0)
                switch (c) {
                case 'c':
                        a.conf_path = optarg;
                        break;
                case 'j':
                        a.json = true;
                        break;
                case 'h':
                        admin_usage(stdout);
                        return 0;
                case 'V':
                        return verb_version(&a, 0, NULL);
                default:
                        admin_usage(stderr);
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                admin_usage(stderr);
                return EXIT_USAGE;
        }
        /* Help needs neither a config nor a store, nor the helper. */
        if (admin_wants_help(argc - optind, argv + optind))
                return admin_help(argc - optind, argv + optind);
        if (geteuid() != 0 && self_service(argc - optind, argv + optind))
                return exec_helper(&a, argc, argv);

        if (sodium_init() < 0)
                return admin_err(EXIT_FAIL, "libsodium failed to initialise");

        ehr_config_init(&a.cfg);
        r = ehr_config_load(&a.cfg, a.conf_path ?: EHR_CONFIG_DEFAULT_PATH, !a.conf_path, err, sizeof err);
        if (r < 0) {
                ehr_config_done(&a.cfg);
                return admin_err(EXIT_STORE, "%s", err);
        }
        admin_set_actor(&a, true);

        r = run_verb(&a, argc - optind, argv + optind);
        a.store = ehr_store_free(a.store);
        ehr_config_done(&a.cfg);
        return r;
}

