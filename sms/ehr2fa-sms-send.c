/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ehr2fa-sms-send: sends one text message for pam_ehr2fa (core/sms-child.c starts it).
 *
 * Its standard input and output are a socket to the process that started it: one
 * request in, one answer out. It runs as its caller, with the environment that
 * ehr_sms_send_isolated() wrote (none of the login's), so libcurl and OpenSSL start
 * from the root-owned system defaults and ehr2fa.conf's sms_* keys alone. It is not
 * setuid and needs no privilege: the caller has already read the API token. */

#include <unistd.h>

#include "child.h"
#include "sms.h"

int main(int argc, char **argv) {
        (void) argc, (void) argv;
        if (ehr_child_start() < 0)
                return 1;
        return ehr_sms_child_serve(STDIN_FILENO, STDOUT_FILENO) < 0 ? 1 : 0;
}
