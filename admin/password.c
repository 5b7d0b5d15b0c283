/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The forgotten-password reset (seed 003): "password forgot" and "password reset"
 * for anyone, through ehr2fa-helper when not root; "password send-reset LOGIN" for
 * Manage Accounts. No verb sets another person's password. */

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <time.h>

#include "admin.h"
#include "password.h"
#include "reset.h"

#define EMAIL_LINE_MAX (EHR_FIELD_EMAIL_MAX + 2U)
#define CODE_LINE_MAX 128U
#define HOST_MAX 256U

/* The seed's words, whatever happened. */
static const char forgot_answer[] = "We've e-mailed you instructions for resetting your password to your e-mail "
                                    "address.\nYou should receive it shortly.\n";

/* A visible line (the address is no secret): the prompt on a terminal only. */
static int read_line(const char *prompt, char *buf, size_t len) {
        if (isatty(STDIN_FILENO)) {
                fputs(prompt, stderr);
                fflush(stderr);
        }
        if (!fgets(buf, (int) len, stdin))
                return -ENODATA;
        size_t n = strcspn(buf, "\r\n");
        if (buf[n] == 0 && n == len - 1)
                return -E2BIG;
        buf[n] = 0;
        return 0;
}

static void sleep_until(uint64_t deadline_usec) {
        for (uint64_t now; (now = ehr_monotonic_usec()) < deadline_usec;) {
                struct timespec ts = { (time_t) ((deadline_usec - now) / 1000000U),
                                       (long) ((deadline_usec - now) % 1000000U) * 1000L };
                (void) nanosleep(&ts, NULL);
        }
}

/* The mails go from a process of their own, detached from the caller's terminal
 * and pipes, so that the answer never waits for the mail server (a server that is
 * down, slow or refusing takes the same time as none at all). It reopens the
 * store to audit each outcome. Returns in the parent at once. */
static void mail_detached(struct admin *a, struct ehr_reset_mail *m, size_t n) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid != 0)
                return; /* the parent, or fork failed: then no mail, and the audit says it was asked */
        (void) setsid();
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        for (int fd = 0; fd <= 2 && null >= 0; fd++)
                (void) dup2(null, fd);
        if (admin_open_store(a, 0, NULL) == 0) {
                struct ehr_op op = admin_op(a);
                for (size_t i = 0; i < n; i++)
                        (void) ehr_reset_mail_send(&op, &m[i], NULL, NULL);
        }
        ehr_reset_mail_wipe(m, n);
        a->store = ehr_store_free(a->store);
        _exit(0);
}

static int password_forgot(struct admin *a) {
        struct ehr_reset_mail mails[EHR_RESET_MAILS_MAX] = {};
        char email[EMAIL_LINE_MAX], host[HOST_MAX] = "";
        size_t n = 0;

        if (isempty(a->cfg.mail_url))
                return admin_err(EXIT_FAIL, "this host sends no mail (no mail_url in ehr2fa.conf): the help desk can "
                                            "help you instead");
        printf("Forgot your password? We will send you a password reset via email.\n");
        fflush(stdout);
        int r = read_line("Email: ", email, sizeof email);
        if (r < 0)
                return admin_err(EXIT_USAGE, "no email address given");
        /* From here on the answer takes reset_answer_ms, whether or not the address is
         * known, the mail went out, or the limits refused it. */
        uint64_t deadline = ehr_monotonic_usec() + a->cfg.reset_answer_ms * 1000U;
        (void) gethostname(host, sizeof host - 1);
        struct ehr_op op = admin_op(a);
        r = ehr_reset_request(&op, ehr_strstrip(email), getuid(), host, mails, &n);
        a->store = ehr_store_free(a->store); /* never shared with the child */
        if (r >= 0 && n > 0)
                mail_detached(a, mails, n);
        ehr_reset_mail_wipe(mails, EHR_RESET_MAILS_MAX);
        sleep_until(deadline);
        if (r == -ETOOMANYREFS)
                return admin_err(EXIT_FAIL, "too many password reset requests; try again in an hour, or ask the help "
                                            "desk");
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot ask for a password reset: %s", ehr_strerror(r));
        fputs(forgot_answer, stdout);
        return 0;
}

/* Why a code was refused, and what to do. */
static int code_refused(struct admin *a, int r, uint64_t expires) {
        char when[ADMIN_TIME_BYTES];
        switch (r) {
        case -EINVAL:
                return admin_err(EXIT_FAIL, "that is not a reset code: it has 32 letters and digits, as in the mail");
        case -ETIME:
                return admin_err(EXIT_FAIL, "this reset code expired at %s; ask for a new one: ehr2fa-admin password "
                                            "forgot", admin_format_time(expires, when, sizeof when));
        case -ENOENT:
                return admin_err(EXIT_FAIL, "this reset code is not valid: it was already used, or replaced by a newer "
                                            "one or by a reset; ask for a new one: ehr2fa-admin password forgot");
        default:
                return admin_err(admin_exit_from_errno(r), "cannot check the reset code: %s", ehr_strerror(r));
        }
}

/* The new password twice; 0 when both lines match. */
static int read_new_password(char *pw, char *again, size_t len) {
        if (admin_read_secret("New password: ", pw, len) < 0 || admin_read_secret("New password (again): ", again, len) < 0)
                return admin_err(EXIT_USAGE, "no password given; nothing was changed");
        if (strlen(pw) != strlen(again) || sodium_memcmp(pw, again, strlen(pw)) != 0)
                return admin_err(EXIT_FAIL, "the passwords do not match; nothing was changed (the code still works)");
        return 0;
}

static int password_reset(struct admin *a) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        char code[CODE_LINE_MAX], pw[EHR_PASSWORD_MAX + 2], again[EHR_PASSWORD_MAX + 2], msg[EHR_PASSWORD_MSG_MAX];
        char login[EHR_LOGIN_MAX + 1] = "";
        uint64_t expires = 0;

        if (admin_read_secret("Reset code (from the mail): ", code, sizeof code) < 0)
                return admin_err(EXIT_USAGE, "no reset code given");
        struct ehr_op op = admin_op(a);
        int r = ehr_reset_token_check(&op, code, &u, &expires);
        if (r < 0) {
                sodium_memzero(code, sizeof code);
                return code_refused(a, r, expires);
        }
        fprintf(stderr, "Set a new password for %s.\n", u->login);
        r = read_new_password(pw, again, sizeof pw);
        if (r == 0) {
                r = ehr_reset_complete(&op, code, pw, login, msg, sizeof msg);
                if (r == -EINVAL)
                        r = admin_err(EXIT_FAIL, "%s Nothing was changed; the code still works.", msg);
                else if (r == -ENOENT || r == -ETIME)
                        r = code_refused(a, r, expires);
                else if (r < 0)
                        r = admin_err(admin_exit_from_errno(r), "%s%s", msg[0] ? msg : ehr_strerror(r),
                                      op.committed ? " (the reset code is used: ask for a new one)" : "");
                else
                        printf("Your password has been changed, %s. Every other reset code and every trusted device "
                               "of the account is void.\n", login);
        }
        sodium_memzero(code, sizeof code);
        sodium_memzero(pw, sizeof pw);
        sodium_memzero(again, sizeof again);
        return r;
}

static int password_send_reset(struct admin *a, const char *login) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        struct ehr_reset_mail m = {};
        long status = 0;
        /* Manage Accounts only: not the help desk, and no self-service path (that is "forgot"). */
        int r = admin_authorize(a, "password send-reset", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r)
                return r;
        if ((r = admin_get_user(a, login, &u)))
                return r;
        struct ehr_op op = admin_op(a);
        r = ehr_reset_issue(&op, u, &m);
        if (r == -EOPNOTSUPP && op.field == EHR_FIELD_LOGIN)
                return admin_err(EXIT_FAIL, "%s is a 2FA-only record: the password is the host's (files, LDAP, AD)",
                                 u->login);
        if (r == -EOPNOTSUPP)
                return admin_err(EXIT_FAIL, "this host sends no mail: set mail_url in ehr2fa.conf");
        if (r == -ENOENT)
                return admin_err(EXIT_FAIL, "%s has no email address on file that can be mailed", u->login);
        if (r < 0)
                return admin_err(admin_exit_from_errno(r), "cannot make a reset code: %s", ehr_strerror(r));
        r = ehr_reset_mail_send(&op, &m, a->actor, &status);
        ehr_reset_mail_wipe(&m, 1);
        if (r < 0 && status >= 400)
                return admin_err(EXIT_FAIL, "cannot send the reset mail to %s: the mail server refused it (SMTP %ld)",
                                 u->email, status);
        if (r < 0)
                return admin_err(EXIT_FAIL, "cannot send the reset mail to %s: %s (see mail_url and mail_timeout_ms)",
                                 u->email, r == -ETIMEDOUT ? "the mail server did not answer in time"
                                           : r == -ECONNREFUSED ? "the mail server is down (connection refused)"
                                                                : ehr_strerror(r));
        printf("Password reset mail sent to %s (%s). Only %s can choose the new password.\n", u->login, u->email,
               u->login);
        return 0;
}

int verb_password(struct admin *a, int argc, char **argv) {
        if (argc == 2 && streq(argv[1], "forgot"))
                return password_forgot(a);
        if (argc == 2 && streq(argv[1], "reset"))
                return password_reset(a);
        if (argc == 3 && streq(argv[1], "send-reset"))
                return password_send_reset(a, argv[2]);
        return admin_err(EXIT_USAGE, "usage: password forgot | password reset | password send-reset LOGIN");
}
