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

int admin_err(int code, const char *fmt, ...) {
        va_list ap;
        fputs("ehr2fa-admin: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return code;
}

int admin_exit_from_errno(int r) {
        switch (r) {
        case 0:
                return 0;
        case -ENOENT:
                return EXIT_NOTFOUND;
        case -EINVAL:
                return EXIT_USAGE;
        case -EBADMSG:
                return EXIT_TAMPER;
        case -EBUSY:
        case -EROFS:
        case -EPROTO:
        case -EACCES:
        case -EUCLEAN:
                return EXIT_STORE;
        case -EPERM:
                return EXIT_PERM;
        default:
                return EXIT_FAIL;
        }
}

int parse_uint_arg(const char *opt, const char *value, uint64_t min, uint64_t max, uint64_t *ret) {
        if (ehr_parse_uint(value, min, max, ret) < 0)
                return admin_err(EXIT_USAGE, "%s: expected a whole number from %llu to %llu, got '%s'", opt,
                                 (unsigned long long) min, (unsigned long long) max, value);
        return 0;
}

void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

void admin_take_json(struct admin *a, int *argc, char **argv) {
        for (int i = 1; i < *argc; i++)
                if (streq(argv[i], "--json")) {
                        a->json = true;
                        memmove(argv + i, argv + i + 1, (size_t) (*argc - i) * sizeof *argv);
                        (*argc)--, i--;
                }
}

int admin_open_store(struct admin *a, bool create) {
        char err[EHR_CONFIG_ERR_MAX];
        /* Every admin command may bring an older schema up to date; the PAM module never does. */
        int r = ehr_store_open(a->cfg.store_dir ?: EHR_STORE_DEFAULT_DIR, EHR_STORE_MIGRATE | (create ? EHR_STORE_CREATE : 0),
                               a->cfg.store_timeout_ms, &a->store, err, sizeof err);
        if (r < 0)
                return admin_err(EXIT_STORE, "%s", err);
        return 0;
}

int admin_get_user(struct admin *a, const char *login, struct ehr_user **ret) {
        int r = ehr_store_user_get(a->store, login, ret);
        if (r == -ENOENT)
                return admin_err(EXIT_NOTFOUND, "no such user: %s", login);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot read user %s: %s", login, ehr_strerror(r));
        return 0;
}

int admin_audit(struct admin *a, const char *user, const char *action, const char *details) {
        return ehr_audit_append(a->store, a->now_sec, user, a->actor, EHR_AUDIT_ADMIN, action, details, a->source);
}

int admin_end(struct admin *a, int r, const char *what) {
        if (r >= 0)
                r = ehr_store_commit(a->store);
        if (r >= 0)
                return 0;
        ehr_store_rollback(a->store);
        return admin_err(admin_exit_from_errno(r), "cannot %s: %s", what, ehr_strerror(r));
}

static void set_actor(struct admin *a) {
        /* Authority comes from the store's permissions of the caller: the real uid's
         * login, or, for root through sudo, the user who ran sudo. Root itself (no
         * sudo) is the bootstrap: it may do everything, as it could edit the store. */
        struct passwd *pw = getpwuid(getuid());
        const char *sudo = getuid() == 0 ? getenv("SUDO_USER") : NULL;
        if (sudo && ehr_login_valid(sudo) && !streq(sudo, "root"))
                snprintf(a->actor, sizeof a->actor, "%s", sudo);
        else if (pw && ehr_login_valid(pw->pw_name))
                snprintf(a->actor, sizeof a->actor, "%s", pw->pw_name);
        else
                snprintf(a->actor, sizeof a->actor, "uid=%u", (unsigned) getuid());
        a->bootstrap = getuid() == 0 && streq(a->actor, "root");
        const char *tty = ttyname(STDIN_FILENO);
        snprintf(a->source, sizeof a->source, "tool=ehr2fa-admin tty=%s%s", tty ?: "none",
                 sudo && !a->bootstrap ? " via=sudo" : "");
}

static const char *perm_title(const char *perm) {
        return streq(perm, EHR_PERM_MANAGE_ACCOUNTS) ? "Manage Accounts"
               : streq(perm, EHR_PERM_HELP_DESK)     ? "Help Desk"
                                                     : "Audit Export";
}

int admin_authorize(struct admin *a, const char *what, const char *self_login, const char *perm1, const char *perm2) {
        if (a->bootstrap)
                return 0;
        _cleanup_(ehr_user_freep) struct ehr_user *caller = NULL;
        int r = ehr_store_user_get(a->store, a->actor, &caller);
        if (r >= 0 && self_login && streq(self_login, caller->login))
                return 0;
        if (r >= 0 && perm1 && (r = ehr_store_perm_has(a->store, caller->id, perm1)) == 0)
                return 0;
        if (caller && perm2 && (r = ehr_store_perm_has(a->store, caller->id, perm2)) == 0)
                return 0;
        if (r < 0 && r != -EPERM && r != -ENOENT)
                return admin_err(admin_exit_from_errno(r), "cannot check permissions: %s", ehr_strerror(r));

        char details[160];
        snprintf(details, sizeof details, "%s refused: needs %s%s%s", what, perm1 ? perm_title(perm1) : "own account",
                 perm2 ? " or " : "", perm2 ? perm_title(perm2) : "");
        (void) ehr_audit_append(a->store, a->now_sec, self_login ?: "", a->actor, EHR_AUDIT_ADMIN, "permission denied",
                                details, a->source);
        if (!caller)
                return admin_err(EXIT_PERM, "permission denied: %s is not in the store, so has no permissions", a->actor);
        return admin_err(EXIT_PERM, "permission denied: %s needs the %s%s%s permission (caller: %s)", what,
                         perm1 ? perm_title(perm1) : "account owner's", perm2 ? " or " : "",
                         perm2 ? perm_title(perm2) : "", a->actor);
}

static int verb_version(struct admin *a, int argc, char **argv) {
        printf("ehr2fa-admin %s (store schema %d)\n", EHR2FA_VERSION, EHR_STORE_SCHEMA_VERSION);
        return 0;
}

static void usage(FILE *f) {
        fputs("Usage: ehr2fa-admin [--conf FILE] [--json] COMMAND ...\n"
              "\n"
              "  init                                   create the store and its master key\n"
              "  user add LOGIN [--name N] [--email E] [--phone P] [--role provider|staff]\n"
              "  user list | show LOGIN | del LOGIN\n"
              "  totp enroll LOGIN [--secret BASE32|-] [--digits 6-8] [--period S] [--algorithm SHA1|SHA256|SHA512]\n"
              "                    [--no-qr] [--force]\n"
              "  totp reset LOGIN                       remove the phone app and recovery codes\n"
              "  recovery new LOGIN                     10 new single-use recovery codes, shown once\n"
              "  lockout show|clear LOGIN\n"
              "  device list LOGIN | device revoke LOGIN ID|--all   trusted devices\n"
              "  audit show [--user L] [--since T] [--until T] | audit verify [--file EXPORT]\n"
              "  audit export --format csv|json [--user L] [--since T] [--until T]\n"
              "  perm grant LOGIN PERM... | perm revoke LOGIN PERM | perm list LOGIN\n"
              "                                         manage_accounts help_desk audit_export\n"
              "  support-pin view | new | validate LOGIN | unlock LOGIN\n"
              "  unlock-pin set\n"
              "  support request --for LOGIN --by LOGIN [--note T] | approve ID [--pin] | show ID | list\n"
              "  staff list | staff 2fa setup LOGIN\n"
              "  version\n"
              "\n"
              "Options: --conf FILE (or EHR2FA_CONF), --json on list/show commands.\n"
              "See ehr2fa-admin(8).\n",
              f);
}

int main(int argc, char **argv) {
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
                { "version", verb_version, false },
        };
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
                        usage(stdout);
                        return 0;
                case 'V':
                        return verb_version(&a, 0, NULL);
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (sodium_init() < 0)
                return admin_err(EXIT_FAIL, "libsodium failed to initialise");

        ehr_config_init(&a.cfg);
        r = ehr_config_load(&a.cfg, a.conf_path ?: EHR_CONFIG_DEFAULT_PATH, !a.conf_path, err, sizeof err);
        if (r < 0) {
                ehr_config_done(&a.cfg);
                return admin_err(EXIT_STORE, "%s", err);
        }
        set_actor(&a);

        int vind = optind;
        const char *verb = argv[vind];
        r = -1;
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].name, verb))
                        continue;
                if (verbs[i].needs_store && (r = admin_open_store(&a, false)) != 0)
                        break;
                /* The verb parses its own options from argv[0] = its name; reset getopt. */
                optind = 0;
                r = verbs[i].fn(&a, argc - vind, argv + vind);
                break;
        }
        if (r == -1) {
                admin_err(EXIT_USAGE, "unknown command '%s'; see ehr2fa-admin --help", verb);
                r = EXIT_USAGE;
        }
        a.store = ehr_store_free(a.store);
        ehr_config_done(&a.cfg);
        return r;
}

int verb_init(struct admin *a, int argc, char **argv) {
        if (argc != 1)
                return admin_err(EXIT_USAGE, "usage: init");
        int r = admin_open_store(a, true);
        if (r)
                return r;
        uint64_t rows, bad;
        /* A store that already has an audit log keeps it: init on an existing store is harmless. */
        r = ehr_audit_verify(a->store, &rows, &bad);
        if (r == 0 && rows == 0)
                r = admin_audit(a, "", "store initialised", ehr_store_path(a->store));
        if (r < 0 && r != -EBADMSG)
                return admin_err(admin_exit_from_errno(r), "cannot write the audit log: %s", ehr_strerror(r));
        printf("Store ready: %s (schema %d). Key: %s/%s (keep a root-only backup of it).\n", ehr_store_path(a->store),
               EHR_STORE_SCHEMA_VERSION, a->cfg.store_dir ?: EHR_STORE_DEFAULT_DIR, EHR_STORE_KEY_NAME);
        return 0;
}

int admin_read_secret(const char *prompt, char *buf, size_t len) {
        struct termios old, quiet;
        bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
        if (tty) {
                fputs(prompt, stderr);
                fflush(stderr);
                quiet = old;
                quiet.c_lflag &= ~(tcflag_t) (ECHO | ECHONL);
                if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0)
                        return negative_errno();
        }
        int r = fgets(buf, (int) len, stdin) ? 0 : -ENODATA;
        if (tty) {
                (void) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
                fputc('\n', stderr);
        }
        if (r < 0)
                return r;
        size_t n = strcspn(buf, "\r\n");
        /* A line longer than the buffer is not a PIN or password we accept. */
        if (buf[n] == 0 && n == len - 1) {
                sodium_memzero(buf, len);
                int c;
                while ((c = getchar()) != EOF && c != '\n')
                        ;
                return -E2BIG;
        }
        buf[n] = 0;
        return 0;
}
