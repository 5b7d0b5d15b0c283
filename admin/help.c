/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --help: one table of every subcommand, for ehr2fa-admin --help and for
 * "ehr2fa-admin VERB [SUB] --help", which answer without a store or a config. */

#include "admin.h"

static const struct {
        const char *cmd, *args, *what;
} help[] = {
        { "init", "", "create the store and its master key (a PostgreSQL store: its schema)" },
        { "migrate", "", "bring the store's schema up to this version's (refused if it is newer)" },
        { "store copy", "--from DIR|FILE --to LOCATOR [--password-file FILE]",
          "copy an SQLite store (every user, enrollment, group, device and the audit chain) into an\n"
          "        empty PostgreSQL store, in one transaction; the target uses the source's master key" },
        { "user add",
          "LOGIN [--name N] [--email E] [--phone P] [--role provider|staff] [--provider LOGIN]\n"
          "                 [--uid N] [--group G] [--home DIR] [--shell SH] [--no-home] | [--existing]",
          "add a staff record and its managed account (uid, group, home from skel_dir), published to\n"
          "        NSS; --existing: 2FA only, for an account the host already has (files, LDAP, SSSD);\n"
          "        each value follows its rule (ehr2fa-admin(8), FIELDS); --provider: a staff member's\n"
          "        primary provider" },
        { "user list", "", "login, role, 2FA, recovery codes left, name of every user" },
        { "user show", "LOGIN", "one user with their failure count and lock state" },
        { "user del", "LOGIN", "delete a user with their seed, recovery codes and failures" },
        { "user lock", "LOGIN", "lock the system account (shell /usr/sbin/nologin)" },
        { "user unlock", "LOGIN", "unlock the system account" },
        { "totp enroll",
          "LOGIN [--secret BASE32|-] [--digits 6-8] [--period S] [--algorithm SHA1|SHA256|SHA512]\n"
          "                    [--no-qr] [--force]",
          "give a user the phone app: a new (or imported) seed, shown once as a QR code and a key" },
        { "totp reset", "LOGIN", "remove the phone app, recovery codes and trusted devices" },
        { "recovery new", "[LOGIN]", "10 new single-use recovery codes, shown once (default: your own)" },
        { "lockout list", "", "the users locked out now, with their failures" },
        { "lockout show", "[LOGIN]", "failures and lock state (default: your own)" },
        { "lockout clear", "LOGIN", "clear the failures and the lockout" },
        { "device list", "[LOGIN]", "trusted devices (default: your own)" },
        { "device revoke", "[LOGIN] ID|--all", "revoke trusted devices (default: your own)" },
        { "audit show", "[--user L] [--since T] [--until T] [--type auth|admin|lockout|breakglass]",
          "the audit log; T is YYYY-MM-DD [HH:MM[:SS]], Unix seconds, or a time ago: 30m, 1h, 2d, 1w" },
        { "audit verify", "[--file EXPORT]", "check the audit chain, or an export (CSV or JSON) with the store's key" },
        { "audit export", "--format csv|json [--user L] [--since T] [--until T]", "the audit log, signed row by row" },
        { "perm grant", "LOGIN PERM...", "permissions: manage_accounts help_desk audit_export break_glass_review" },
        { "perm revoke", "LOGIN PERM", "take a permission back" },
        { "perm list", "LOGIN", "a user's permissions" },
        { "support-pin view", "", "your Support PIN, for the help desk" },
        { "support-pin new", "", "a new Support PIN for yourself" },
        { "support-pin validate", "LOGIN", "check the Support PIN a caller gives (Help Desk)" },
        { "support-pin unlock", "LOGIN", "clear a Support PIN validation lock (Manage Accounts)" },
        { "unlock-pin set", "", "your Unlock PIN for locked screens (read from the terminal or stdin)" },
        { "support request", "--for LOGIN --by LOGIN [--note TEXT]", "help on someone else's behalf" },
        { "support approve", "ID [--pin]", "approve a request (the provider, or the help desk with their PIN)" },
        { "support show", "ID", "one support request" },
        { "support list", "", "all support requests" },
        { "staff list", "", "staff members and their 2FA" },
        { "staff 2fa setup", "LOGIN", "SMS 2FA for a staff member, confirmed with your password (needs sms_mode)" },
        { "group add", "NAME [--gid N]", "add a group (published to NSS)" },
        { "group del", "NAME", "delete a group" },
        { "group member add", "GROUP LOGIN", "add a member" },
        { "group member del", "GROUP LOGIN", "remove a member" },
        { "group list", "", "groups as in /etc/group (--json: objects)" },
        { "policy show", "", "this host's 2FA policy: who is enrolled, who is not, who will be refused when (--json)" },
        { "nss publish", "", "write the NSS snapshot again from the store" },
        { "sync", "[--quiet] [--json]",
          "publish this host's NSS snapshot from the store, only when it changed (ehr2fa-sync.timer)" },
        { "password forgot", "", "mail yourself a password reset code (asks for your email address; anyone)" },
        { "password reset", "", "choose a new password with the code from the mail (asks for both; anyone)" },
        { "password send-reset", "LOGIN", "mail a user a password reset code (Manage Accounts); only they can use it" },
        { "breakglass list", "[--unreviewed]",
          "emergency logins without a second factor, oldest first (Break the Glass Review)" },
        { "breakglass review", "ID --note TEXT", "record your review of a use; never your own (Break the Glass Review)" },
        { "breakglass summary", "[--mail]",
          "the unreviewed uses, overdue ones marked; --mail: to break_glass_reviewers (the daily timer)" },
        { "status", "", "users, lockouts, the audit chain, and break-glass uses overdue for review" },
        { "version", "", "the version of the tool and of the store schema" },
};

static void entry(FILE *f, size_t i, bool what) {
        fprintf(f, "  %s%s%s\n", help[i].cmd, *help[i].args ? " " : "", help[i].args);
        if (what)
                fprintf(f, "        %s\n", help[i].what);
}

void admin_usage(FILE *f) {
        fputs("Usage: ehr2fa-admin [--conf FILE] [--json] COMMAND ...\n\n", f);
        for (size_t i = 0; i < ELEMENTSOF(help); i++)
                entry(f, i, false);
        fputs("\nOptions: --conf FILE (or EHR2FA_CONF), --json on list/show commands, --help after any command.\n"
              "See ehr2fa-admin(8).\n",
              f);
}

/* Does cmd start with the first n words of argv? */
static bool matches(const char *cmd, int n, char **argv) {
        for (int k = 0; k < n; k++) {
                size_t len = strlen(argv[k]);
                if (strncmp(cmd, argv[k], len) != 0 || (cmd[len] != ' ' && cmd[len] != 0))
                        return false;
                cmd += len + (cmd[len] == ' ');
        }
        return true;
}

bool admin_wants_help(int argc, char **argv) {
        for (int i = 1; i < argc; i++)
                if (streq(argv[i], "--help") || streq(argv[i], "-h"))
                        return true;
        return false;
}

int admin_help(int argc, char **argv) {
        int words = 0;
        while (words < argc && argv[words][0] != '-')
                words++;
        /* The longest run of leading words that names something: "user add" or "user". */
        for (int n = words; n > 0; n--) {
                bool any = false;
                for (size_t i = 0; i < ELEMENTSOF(help); i++)
                        if (matches(help[i].cmd, n, argv)) {
                                if (!any)
                                        printf("Usage: ehr2fa-admin [--conf FILE] [--json]\n");
                                entry(stdout, i, true);
                                any = true;
                        }
                if (any) {
                        printf("See ehr2fa-admin(8).\n");
                        return 0;
                }
        }
        admin_usage(stdout);
        return 0;
}
