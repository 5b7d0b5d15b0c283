/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ehr2fa-mail-send: sends one mail message for ehr2fa (core/mail-config.c starts it).
 *
 * Its standard input and output are a socket to the process that started it: one
 * request in, one answer out. It runs as its caller, with the environment that
 * ehr_child_call() wrote (none of the caller's), so libcurl and OpenSSL start from
 * the root-owned system defaults and ehr2fa.conf's mail_* keys alone. It is not
 * setuid and needs no privilege: the caller has already read the credentials. */

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mail.h"

int main(int argc, char **argv) {
        struct rlimit rl = { 0, 0 };
        (void) argc, (void) argv;
        /* It holds the mail server's password: no core dump of it. */
        (void) setrlimit(RLIMIT_CORE, &rl);
        (void) prctl(PR_SET_DUMPABLE, 0);
        /* Descriptors the caller left without O_CLOEXEC are not ours to keep (or read). */
        (void) close_range(3, ~0U, 0);
        if (chdir("/") < 0)
                return 1;
        return ehr_mail_child_serve(STDIN_FILENO, STDOUT_FILENO) < 0 ? 1 : 0;
}
