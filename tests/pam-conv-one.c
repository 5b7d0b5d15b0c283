/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A login through real libpam with a conversation that takes one message at a
 * time, as GDM's does: a call with more than one message fails the login (and
 * says so). Each message goes to standard output as a record, and each prompt's
 * answer is read from standard input, so a driver (tests/test_enroll.py) can
 * answer what it was shown (a code computed from the otpauth:// URI):
 *
 *   pam-conv-one CONFDIR SERVICE USER
 *
 * Records: "MSG STYLE LEN\n" then LEN bytes and "\n" (STYLE: info, error,
 * prompt_off, prompt_on); at the end "RESULT N NAME\n" (pam_authenticate()'s
 * code, then pam_acct_mgmt()'s if it succeeded). An answer is one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <security/pam_appl.h>

#define ANSWER_MAX 4096

static int calls_with_many;

static const char *style_name(int s) {
        switch (s) {
        case PAM_PROMPT_ECHO_OFF:
                return "prompt_off";
        case PAM_PROMPT_ECHO_ON:
                return "prompt_on";
        case PAM_ERROR_MSG:
                return "error";
        case PAM_TEXT_INFO:
                return "info";
        default:
                return "other";
        }
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
        (void) data;
        if (n != 1) {
                calls_with_many++;
                printf("MANY %d\n", n);
                fflush(stdout);
                return PAM_CONV_ERR;
        }
        struct pam_response *r = calloc(1, sizeof *r);
        if (!r)
                return PAM_BUF_ERR;
        const char *text = msg[0]->msg ? msg[0]->msg : "";
        printf("MSG %s %zu\n%s\n", style_name(msg[0]->msg_style), strlen(text), text);
        fflush(stdout);
        if (msg[0]->msg_style == PAM_PROMPT_ECHO_OFF || msg[0]->msg_style == PAM_PROMPT_ECHO_ON) {
                char line[ANSWER_MAX];
                if (!fgets(line, sizeof line, stdin)) {
                        free(r);
                        return PAM_CONV_ERR;
                }
                line[strcspn(line, "\n")] = 0;
                r->resp = strdup(line);
                memset(line, 0, sizeof line);
        }
        *resp = r;
        return PAM_SUCCESS;
}

int main(int argc, char **argv) {
        if (argc != 4) {
                fprintf(stderr, "usage: pam-conv-one CONFDIR SERVICE USER\n");
                return 2;
        }
        struct pam_conv pc = { conv, NULL };
        pam_handle_t *pamh = NULL;
        int r = pam_start_confdir(argv[2], argv[3], &pc, argv[1], &pamh);
        if (r != PAM_SUCCESS) {
                fprintf(stderr, "pam_start_confdir: %s\n", pam_strerror(NULL, r));
                return 2;
        }
        r = pam_authenticate(pamh, 0);
        printf("RESULT %d %s\n", r, pam_strerror(pamh, r));
        if (r == PAM_SUCCESS) {
                r = pam_acct_mgmt(pamh, 0);
                printf("ACCOUNT %d %s\n", r, pam_strerror(pamh, r));
        }
        if (calls_with_many)
                printf("MANY-CALLS %d\n", calls_with_many);
        fflush(stdout);
        pam_end(pamh, r);
        return calls_with_many ? 3 : 0;
}
