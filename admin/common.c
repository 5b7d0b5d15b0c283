/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every verb shares: errors, exit codes, JSON, the store, the audit log,
 * authority, and reading secrets. Linked into ehr2fa-admin and ehr2fa-helper. */

#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <termios.h>
#include <time.h>

#include "admin.h"
#include "audit.h"
#include "helpdesk.h"

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
        case -ENOTUNIQ:
        case -ENOMEDIUM:
        case -EDOM:
        case -ENOTEMPTY:
                return EXIT_STORE;
        case -EPERM:
                return EXIT_PERM;
        default:
                return EXIT_FAIL;
        }
}

int helper_exit_from_errno(int r) {
        switch (r) {
        case 0:
                return EHR_HELPER_OK;
        case -EBADRQC:
                return EHR_HELPER_WRONG;
        case -EAGAIN:
                return EHR_HELPER_LOCKED;
        case -ENOENT:
                return EHR_HELPER_NO_PIN;
        case -EPERM:
                return EHR_HELPER_DENIED;
        default:
                return EHR_HELPER_UNAVAILABLE;
        }
}

int parse_uint_arg(const char *opt, const char *value, uint64_t min, uint64_t max, uint64_t *ret) {
        if (ehr_parse_uint(value, min, max, ret) < 0)
                return admin_err(EXIT_USAGE, "%s: expected a whole number from %llu to %llu, got '%s'", opt,
                                 (unsigned long long) min, (unsigned long long) max, value);
        return 0;
}

const char *admin_format_time(uint64_t t, char *buf, size_t len) {
        time_t tt = (time_t) t;
        struct tm tm;
        if (t == 0)
                snprintf(buf, len, "-");
        else if (!localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S %z", &tm))
                snprintf(buf, len, "@%llu", (unsigned long long) t);
        return buf;
}

const char *admin_format_until(uint64_t until, char *buf, size_t len) {
        if (until == UINT64_MAX) {
                snprintf(buf, len, "an administrator clears it");
                return buf;
        }
        return admin_format_time(until, buf, len);
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

int admin_open_store(struct admin *a, unsigned flags, const char *why) {
        char err[EHR_CONFIG_ERR_MAX];
        int r = ehr_store_open_config(&a->cfg, flags, &a->store, err, sizeof err);
        if (r < 0)
                return admin_err(EXIT_STORE, "%s%s", err, why ?: "");
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

struct ehr_op admin_op(struct admin *a) {
        return (struct ehr_op) {
                .store = a->store, .cfg = &a->cfg, .now_sec = a->now_sec, .actor = a->actor, .source = a->source,
        };
}

int admin_bad(enum ehr_field f, const char *label, const char *value) {
        if (value)
                return admin_err(EXIT_USAGE, "bad %s '%s': %s", label ?: ehr_field_name(f), value, ehr_field_rule(f));
        return admin_err(EXIT_USAGE, "bad %s: %s", label ?: ehr_field_name(f), ehr_field_rule(f));
}

int admin_op_fail(struct admin *a, const struct ehr_op *op, int r, const char *what, const char *value) {
        const char *path = ehr_account_snapshot_path(&a->cfg);
        if (r == -EINVAL && *op->offender)
                return admin_err(EXIT_FAIL, "cannot publish the NSS snapshot %s: %s '%s' breaks the rule: %s; fix or "
                                 "delete it (the store is updated; then run 'ehr2fa-admin nss publish')", path,
                                 op->field == EHR_FIELD_GROUP ? "group" : "the user", op->offender,
                                 ehr_field_rule(op->field));
        if (op->committed)
                return admin_err(EXIT_FAIL, "cannot publish the NSS snapshot %s: %s (the store is updated; retry with "
                                 "'ehr2fa-admin nss publish')", path, ehr_strerror(r));
        if (r == -EINVAL && op->field != EHR_FIELD_NONE)
                return admin_bad(op->field, NULL, value);
        return admin_err(admin_exit_from_errno(r), "cannot %s: %s", what, ehr_strerror(r));
}

void admin_set_actor(struct admin *a, bool trust_sudo) {
        /* Authority comes from the store's permissions of the caller: the real uid's
         * login, or, for root through sudo, the user who ran sudo. Root itself (no
         * sudo) is the bootstrap: it may do everything, as it could edit the store. */
        struct passwd *pw = getpwuid(getuid());
        const char *sudo = trust_sudo && getuid() == 0 ? getenv("SUDO_USER") : NULL;
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
        return streq(perm, EHR_PERM_MANAGE_ACCOUNTS)      ? "Manage Accounts"
               : streq(perm, EHR_PERM_HELP_DESK)          ? "Help Desk"
               : streq(perm, EHR_PERM_BREAK_GLASS_REVIEW) ? "Break the Glass Review"
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

int verb_init(struct admin *a, int argc, char **argv) {
        if (argc != 1)
                return admin_err(EXIT_USAGE, "usage: init");
        int r = admin_open_store(a, EHR_STORE_MIGRATE | EHR_STORE_CREATE, NULL);
        if (r)
                return r;
        uint64_t rows, bad;
        /* A store that already has an audit log keeps it: init on an existing store is harmless. */
        r = ehr_audit_verify(a->store, &rows, &bad);
        if (r == 0 && rows == 0)
                r = admin_audit(a, "", "store initialised", ehr_store_location(a->store));
        if (r < 0 && r != -EBADMSG)
                return admin_err(admin_exit_from_errno(r), "cannot write the audit log: %s", ehr_strerror(r));
        printf("Store ready: %s (schema %d). Key: %s/%s (keep a root-only backup of it).\n", ehr_store_location(a->store),
               EHR_STORE_SCHEMA_VERSION, a->cfg.store_dir ?: EHR_STORE_DEFAULT_DIR, EHR_STORE_KEY_NAME);
        return 0;
}

/* Every command brings an older schema up to date as it opens the store; this
 * one does only that, and says where the store stands. A newer schema is
 * refused (a host with an older ehr2fa never touches it). */
int verb_migrate(struct admin *a, int argc, char **argv) {
        if (argc != 1)
                return admin_err(EXIT_USAGE, "usage: migrate");
        int r = admin_open_store(a, EHR_STORE_MIGRATE, NULL);
        if (r)
                return r;
        printf("Store up to date: %s (schema %d).\n", ehr_store_location(a->store), EHR_STORE_SCHEMA_VERSION);
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

void json_field(const char *key, const char *value) {
        printf(",\"%s\":", key);
        json_string(stdout, value);
}

int admin_list_users(struct admin *a, const char *what, int (*one)(const struct ehr_user *u, void *userdata),
                     struct admin_list *st, const char *header_fmt, ...) {
        *st = (struct admin_list) { .a = a };
        int r = admin_authorize(a, what, NULL, EHR_PERM_MANAGE_ACCOUNTS, EHR_PERM_HELP_DESK);
        if (r)
                return r;
        if (a->json)
                printf("[");
        else {
                va_list ap;
                va_start(ap, header_fmt);
                vprintf(header_fmt, ap);
                va_end(ap);
        }
        r = ehr_store_user_foreach(a->store, one, st);
        if (a->json)
                printf("]\n");
        return r < 0 ? r : 0;
}
