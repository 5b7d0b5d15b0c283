/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* ehr2fa-admin and ehr2fa-helper: front end only. Each verb parses its arguments,
 * calls one core operation (core/account.h, core/helpdesk.h, ...), prints, and
 * maps the errno to an exit code once (admin_exit_from_errno()). */

#include <stdbool.h>
#include <stdio.h>

#include "account.h"
#include "config.h"
#include "store.h"

/* Exit codes (documented in ehr2fa-admin(8)). */
#define EXIT_FAIL 1     /* the operation failed */
#define EXIT_USAGE 2    /* bad command line */
#define EXIT_NOTFOUND 3 /* no such user, not enrolled */
#define EXIT_STORE 4    /* configuration or store unavailable */
#define EXIT_TAMPER 5   /* audit chain or sealed data does not verify */
#define EXIT_PERM 6     /* the caller lacks the permission */
#define EXIT_LOCKED 7   /* Support PIN validation or Unlock PIN locked */

struct admin {
        struct ehr_config cfg;
        const char *conf_path;
        struct ehr_store *store;
        bool json;
        char actor[EHR_LOGIN_MAX + 16]; /* the caller: real uid's login, or SUDO_USER under sudo */
        bool bootstrap;                 /* root without sudo: every permission */
        char source[128];
        uint64_t now_sec;
};

/* Set a->actor (the caller), a->bootstrap and a->source. trust_sudo: under sudo
 * the caller is SUDO_USER (ehr2fa-admin); never in the setuid helper. */
void admin_set_actor(struct admin *a, bool trust_sudo);

/* Open the store with ehr_store_open()'s flags: every admin command may bring an
 * older schema up to date (EHR_STORE_MIGRATE), the PAM module never does, nor
 * does sync, which many hosts run at once. Prints the reason on failure, then
 * why (may be NULL). Returns 0 or an exit code. */
int admin_open_store(struct admin *a, unsigned flags, const char *why);

/* Get a user or print "no such user". Returns 0 or an exit code. */
int admin_get_user(struct admin *a, const char *login, struct ehr_user **ret);

/* Append an audit row as the caller. Returns 0 or a negative errno. */
int admin_audit(struct admin *a, const char *user, const char *action, const char *details);

/* The context of an account operation (core/account.h) run by the caller. */
struct ehr_op admin_op(struct admin *a);

/* Print why an account operation failed and return its exit code (admin_exit_from_errno()):
 * a bad value names the field's rule (value: the value given for op->field, or NULL);
 * a change that reached the store but not the NSS snapshot says how to retry. */
int admin_op_fail(struct admin *a, const struct ehr_op *op, int r, const char *what, const char *value);

/* "bad LABEL 'VALUE': RULE" (label NULL: the field's name); returns EXIT_USAGE. */
int admin_bad(enum ehr_field f, const char *label, const char *value);

/* May the caller do `what`? Allowed when bootstrap (root without sudo), when
 * self_login is the caller's own login (NULL: no self-service), or when the caller
 * holds perm1 or perm2 (either may be NULL). A refusal is audited and printed.
 * Returns 0 or EXIT_PERM. */
int admin_authorize(struct admin *a, const char *what, const char *self_login, const char *perm1, const char *perm2);

/* Read a secret (PIN, password) without echo from the terminal, or a line from
 * standard input when it is not a terminal. Returns 0 or -errno. */
int admin_read_secret(const char *prompt, char *buf, size_t len);

/* The one mapping of a negative errno to an exit code: of ehr2fa-admin (and the
 * helper's "self" verbs), and of "ehr2fa-helper unlock" (EHR_HELPER_*). */
int admin_exit_from_errno(int r);
int helper_exit_from_errno(int r);

/* Print a message to stderr, prefixed "ehr2fa-admin: ". Returns EXIT_FAIL-style code passed. */
int admin_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Accept --json after the verb too: sets a->json and removes it from argv. */
void admin_take_json(struct admin *a, int *argc, char **argv);

/* A time for people: date, time and zone ("2026-12-04 17:20:11 +0100"); "-" for 0.
 * Returns buf; ADMIN_TIME_BYTES is enough. */
#define ADMIN_TIME_BYTES 40U
const char *admin_format_time(uint64_t t, char *buf, size_t len);
/* The end of a lock: a time, or "an administrator clears it" for UINT64_MAX. */
const char *admin_format_until(uint64_t until, char *buf, size_t len);

/* JSON helpers. */
void json_string(FILE *f, const char *s);
/* ,"key":"value" on stdout (value escaped by json_string()). */
void json_field(const char *key, const char *value);

/* A list verb over the store's users (user list, staff list, lockout list), for
 * callers with Manage Accounts or Help Desk: a JSON array with --json, else the
 * header line (printf-style), then one() for each user with the list; one() counts
 * what it prints in n. Returns 0, the exit code of a refusal (admin_authorize()),
 * or -errno from the store: the caller says what could not be listed. */
struct admin_list {
        struct admin *a;
        size_t n;
};
int admin_list_users(struct admin *a, const char *what, int (*one)(const struct ehr_user *u, void *userdata),
                     struct admin_list *st, const char *header_fmt, ...) __attribute__((format(printf, 5, 6)));

/* A fixed-size-argument verb: argv[0] is the verb's last word. */
int verb_init(struct admin *a, int argc, char **argv);
int verb_migrate(struct admin *a, int argc, char **argv);
int verb_store(struct admin *a, int argc, char **argv);
int verb_user(struct admin *a, int argc, char **argv);
int verb_totp(struct admin *a, int argc, char **argv);
int verb_recovery(struct admin *a, int argc, char **argv);
int verb_lockout(struct admin *a, int argc, char **argv);
int verb_audit(struct admin *a, int argc, char **argv);
int verb_device(struct admin *a, int argc, char **argv);
int verb_perm(struct admin *a, int argc, char **argv);
int verb_support_pin(struct admin *a, int argc, char **argv);
int verb_unlock_pin(struct admin *a, int argc, char **argv);
int verb_support(struct admin *a, int argc, char **argv);
int verb_staff(struct admin *a, int argc, char **argv);
int verb_group(struct admin *a, int argc, char **argv);
int verb_nss(struct admin *a, int argc, char **argv);
int verb_sync(struct admin *a, int argc, char **argv);
int verb_password(struct admin *a, int argc, char **argv);
int verb_breakglass(struct admin *a, int argc, char **argv);
int verb_status(struct admin *a, int argc, char **argv);
int verb_policy(struct admin *a, int argc, char **argv);

/* audit verify --file (audit-file.c): check an export, CSV or JSON. Returns 0,
 * EXIT_TAMPER (printed: the first bad record), or another exit code. */
int audit_verify_file(struct admin *a, const char *path);

/* Help (help.c): the whole list; whether argv (a verb and its arguments) asks
 * for --help; and the help of the verb and subcommand named in argv. */
void admin_usage(FILE *f);
bool admin_wants_help(int argc, char **argv);
int admin_help(int argc, char **argv);

/* Parse "--json" anywhere among the verb's options. Shared option parsing: */
int parse_uint_arg(const char *opt, const char *value, uint64_t min, uint64_t max, uint64_t *ret);
