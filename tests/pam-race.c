/* SPDX-License-Identifier: GPL-2.0-or-later */
/* N logins of one user at once, all answering the same code: as an attacker who
 * watched a code being typed would race its owner with it. Each login runs in a
 * process of its own (as sshd runs them) through real libpam. All N wait at the
 * code prompt until every one of them has got there, then answer together, so
 * their checks overlap in the store.
 *
 *   pam-race CONFDIR[:CONFDIR...] SERVICE USER N < CODE [TEXT [PASSWORD]]
 *
 * With several CONFDIRs, login i runs with CONFDIR i mod their number: each a
 * host of its own (its config, its ehr2fad) against one store.
 *
 * The code comes on standard input, one line, as a user would type it: never in
 * argv, where any process on the host could read it. Two more lines may follow:
 * the answer to every question shown with echo (default "n": a break-glass
 * reason, say), and the answer to a "Password: " prompt (a password module in
 * the stack, such as pam_matrix), which is answered at once, without waiting.
 *
 * Prints "prompted=P success=S failed=F other=O" (failed: PAM_AUTH_ERR; other:
 * any other result, each said on stderr) and exits 0 when it could run them;
 * the caller judges the counts. Any other question (trust this device?) is
 * answered "n". */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <security/pam_appl.h>

#define N_MAX 64
#define WAIT_MS 60000

struct race {
        const char *code, *text, *password;
        int ready_fd, go_fd;
};

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
        struct race *race = data;
        struct pam_response *r = calloc((size_t) n, sizeof *r);
        if (!r)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++) {
                if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF && race->password &&
                    strncmp(msg[i]->msg, "Password", 8) == 0)
                        r[i].resp = strdup(race->password);
                else if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF) {
                        /* At the prompt: say so, then wait for the others. The parent closes
                         * its end of "go" when all are here, and every read() returns 0. */
                        char c = 'x';
                        if (write(race->ready_fd, &c, 1) != 1)
                                _exit(4);
                        while (read(race->go_fd, &c, 1) < 0 && errno == EINTR)
                                ;
                        r[i].resp = strdup(race->code);
                } else if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
                        r[i].resp = strdup(race->text);
        }
        *resp = r;
        return PAM_SUCCESS;
}

/* The i-th directory of the ':'-separated list (i mod their number), in buf. */
static const char *nth_dir(const char *list, int i, char *buf, size_t len) {
        int n = 1;
        for (const char *p = list; *p; p++)
                n += *p == ':';
        const char *p = list;
        for (int k = i % n; k > 0; k--)
                p = strchr(p, ':') + 1;
        snprintf(buf, len, "%.*s", (int) strcspn(p, ":"), p);
        return buf;
}

static int child(const char *confdir, const char *service, const char *user, struct race *race) {
        struct pam_conv pc = { conv, race };
        pam_handle_t *pamh = NULL;
        int r = pam_start_confdir(service, user, &pc, confdir, &pamh);
        if (r != PAM_SUCCESS) {
                fprintf(stderr, "pam_start_confdir: %s\n", pam_strerror(NULL, r));
                return 3;
        }
        r = pam_authenticate(pamh, 0);
        if (r != PAM_SUCCESS && r != PAM_AUTH_ERR)
                fprintf(stderr, "pid %d: %s\n", (int) getpid(), pam_strerror(pamh, r));
        pam_end(pamh, r);
        return r == PAM_SUCCESS ? 0 : r == PAM_AUTH_ERR ? 1 : 3;
}

int main(int argc, char **argv) {
        char code[128], text[512] = "n", password[128] = "";
        if (argc != 5) {
                fprintf(stderr, "usage: pam-race CONFDIR[:CONFDIR...] SERVICE USER N < CODE [TEXT [PASSWORD]]\n");
                return 2;
        }
        if (!fgets(code, sizeof code, stdin)) {
                fprintf(stderr, "pam-race: no code on standard input\n");
                return 2;
        }
        code[strcspn(code, "\r\n")] = 0;
        bool have_text = fgets(text, sizeof text, stdin) != NULL;
        bool have_password = have_text && fgets(password, sizeof password, stdin) != NULL;
        if (!have_text)
                snprintf(text, sizeof text, "n");
        text[strcspn(text, "\r\n")] = 0;
        password[strcspn(password, "\r\n")] = 0;
        int n = atoi(argv[4]);
        if (n < 1 || n > N_MAX) {
                fprintf(stderr, "pam-race: N must be 1-%d\n", N_MAX);
                return 2;
        }
        int ready[2], go[2];
        if (pipe(ready) < 0 || pipe(go) < 0) {
                perror("pam-race: pipe");
                return 2;
        }
        pid_t pids[N_MAX];
        for (int i = 0; i < n; i++) {
                pids[i] = fork();
                if (pids[i] < 0) {
                        perror("pam-race: fork");
                        for (int j = 0; j < i; j++)
                                kill(pids[j], SIGKILL);
                        return 2;
                }
                if (pids[i] == 0) {
                        close(ready[0]);
                        close(go[1]);
                        struct race race = { .code = code, .text = text, .password = have_password ? password : NULL,
                                             .ready_fd = ready[1], .go_fd = go[0] };
                        char dir[4096];
                        _exit(child(nth_dir(argv[1], i, dir, sizeof dir), argv[2], argv[3], &race));
                }
        }
        close(ready[1]);
        close(go[0]);

        /* Until every login is at the prompt or has ended without one (refused before
         * it: no code asked). */
        int prompted = 0, ended = 0, status[N_MAX];
        bool done[N_MAX] = { false };
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (prompted + ended < n) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                long spent = (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L;
                if (spent > WAIT_MS) {
                        fprintf(stderr, "pam-race: only %d of %d logins reached the prompt in time\n", prompted, n);
                        break;
                }
                struct pollfd p = { .fd = ready[0], .events = POLLIN };
                char c;
                if (poll(&p, 1, 50) > 0 && read(ready[0], &c, 1) == 1)
                        prompted++;
                for (int i = 0; i < n; i++)
                        if (!done[i] && waitpid(pids[i], &status[i], WNOHANG) == pids[i]) {
                                done[i] = true;
                                ended++;
                        }
        }
        close(go[1]); /* go */

        int success = 0, failed = 0, other = 0;
        for (int i = 0; i < n; i++) {
                while (!done[i])
                        if (waitpid(pids[i], &status[i], 0) == pids[i])
                                done[i] = true;
                        else if (errno != EINTR) {
                                perror("pam-race: waitpid");
                                return 2;
                        }
                if (WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0)
                        success++;
                else if (WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 1)
                        failed++;
                else {
                        other++;
                        if (WIFSIGNALED(status[i]))
                                fprintf(stderr, "pam-race: pid %d killed by signal %d\n", (int) pids[i],
                                        WTERMSIG(status[i]));
                }
        }
        printf("prompted=%d success=%d failed=%d other=%d\n", prompted, success, failed, other);
        return 0;
}
