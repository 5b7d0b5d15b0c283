/* SPDX-License-Identifier: GPL-2.0-or-later */
/* "auth ... pam_ehr2fa.so unlock": the Unlock PIN for screen lockers, checked
 * in-process as root, else by ehr2fa-helper (setuid root), as pam_unix uses
 * unix_chkpwd. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>
#include <security/pam_ext.h>

#include "helpdesk.h"
#include "pam-glue.h"
#include "util.h"

#define UNLOCK_PROMPT "Unlock PIN: "
#define HELPER_TIMEOUT_MS 15000

/* Run ehr2fa-helper (setuid root) with the PIN on a pipe, never in argv, the way
 * pam_unix runs unix_chkpwd. Returns its exit code, or -errno. Never waits past
 * HELPER_TIMEOUT_MS. */
static int run_helper(struct pam_ctx *ctx, const char *pin) {
        const char *helper = ctx->helper ?: EHR2FA_HELPER_PATH;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();

        /* The installed helper reads only /etc/ehr2fa/ehr2fa.conf; its test build also
         * takes the module's conf= (built before fork: no allocation in the child). */
        char conf_env[PATH_MAX + 16] = "";
        if (ctx->conf)
                snprintf(conf_env, sizeof conf_env, "EHR2FA_CONF=%s", ctx->conf);

        /* The host (a screen locker) may have a SIGCHLD handler that reaps our child. */
        struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
        (void) sigaction(SIGCHLD, &dfl, &old);
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                (void) close(fds[0]);
                (void) close(fds[1]);
                (void) sigaction(SIGCHLD, &old, NULL);
                return r;
        }
        if (pid == 0) {
                /* Child: stdin is the pipe, nothing else of the host survives the exec. */
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (dup2(fds[0], 0) < 0 || null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                        _exit(EHR_HELPER_UNAVAILABLE);
                char *const argv[] = { (char *) "ehr2fa-helper", (char *) "unlock", (char *) ctx->user, NULL };
                char *const envp[] = { conf_env[0] ? conf_env : NULL, NULL };
                execve(helper, argv, envp);
                _exit(EHR_HELPER_UNAVAILABLE);
        }
        (void) close(fds[0]);
        size_t n = strlen(pin);
        bool written = write(fds[1], pin, n) == (ssize_t) n && write(fds[1], "\n", 1) == 1;
        (void) close(fds[1]);

        int status = 0, r = -ETIMEDOUT;
        for (int waited = 0; waited < HELPER_TIMEOUT_MS; waited += 10) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid) {
                        r = WIFEXITED(status) ? WEXITSTATUS(status) : -EIO;
                        break;
                }
                if (w < 0 && errno != EINTR) {
                        r = negative_errno();
                        break;
                }
                (void) poll(NULL, 0, 10);
        }
        if (r == -ETIMEDOUT) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
        }
        (void) sigaction(SIGCHLD, &old, NULL);
        return written || r < 0 ? r : -EIO;
}

int pam_do_unlock(struct pam_ctx *ctx) {
        char *pin = NULL;
        int r = pam_ask(ctx, PAM_PROMPT_ECHO_OFF, UNLOCK_PROMPT, &pin);
        if (r < 0)
                return r;

        int code;
        uint64_t until = 0;
        if (geteuid() == 0) {
                /* Root (login, a root screen locker): check in-process. */
                r = pam_open_store(ctx);
                if (r != 0) {
                        pam_free_answer(pin);
                        return r == PAM_R_IGNORE ? -EACCES : r; /* never fail open on the unlock path */
                }
                r = ehr_login_unlock(ctx->login, pin, &until);
                code = r == 0         ? EHR_HELPER_OK
                       : r == -EBADRQC ? EHR_HELPER_WRONG
                       : r == -EAGAIN ? EHR_HELPER_LOCKED
                       : r == -ENOENT ? EHR_HELPER_NO_PIN
                                      : EHR_HELPER_UNAVAILABLE;
        } else
                code = run_helper(ctx, pin);
        pam_free_answer(pin);

        switch (code) {
        case EHR_HELPER_OK:
                pam_syslog(ctx->pamh, LOG_INFO, "screen unlocked with the Unlock PIN; user=%s service=%s", ctx->user,
                           ctx->service);
                return 0;
        case EHR_HELPER_WRONG:
                pam_syslog(ctx->pamh, LOG_NOTICE, "wrong Unlock PIN; user=%s service=%s", ctx->user, ctx->service);
                pam_error(ctx->pamh, "Wrong Unlock PIN.");
                return -EBADRQC;
        case EHR_HELPER_LOCKED:
                pam_syslog(ctx->pamh, LOG_NOTICE, "Unlock PIN locked; user=%s service=%s", ctx->user, ctx->service);
                pam_error(ctx->pamh, "The Unlock PIN is locked after too many wrong tries; use your password.");
                return -EAGAIN;
        case EHR_HELPER_NO_PIN:
                pam_error(ctx->pamh, "No Unlock PIN is set; use your password.");
                return -EACCES;
        case EHR_HELPER_DENIED:
                pam_syslog(ctx->pamh, LOG_ERR, "ehr2fa-helper refused to check %s's Unlock PIN for uid %u", ctx->user,
                           (unsigned) getuid());
                return -EPERM;
        default:
                pam_syslog(ctx->pamh, LOG_ERR, "cannot check the Unlock PIN of %s: helper %s (%d)", ctx->user,
                           code < 0 ? ehr_strerror(code) : "failed", code);
                pam_error(ctx->pamh, "The Unlock PIN cannot be checked now; use your password.");
                return -EIO;
        }
}
