/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ehr2fa-notify: tells the reviewers of a break-glass use after the login has gone
 * on (core/breakglass-notify.c, ehr_break_glass_notify_detached(), starts it).
 *
 * Its standard input and output are a socket to the login that started it: the
 * use's id, the login's source and its config (the keys that differ from the
 * defaults) come in; it answers as soon as it has forked the process that does
 * the work, which opens the store, mails the reviewers through ehr2fa-mail-send
 * (bounded by mail_timeout_ms), audits the outcome and exits. It runs as its
 * caller (root: the store's master key), with the environment that
 * ehr_child_call() wrote and a session of its own. */

#include <syslog.h>
#include <unistd.h>

#include "breakglass.h"
#include "child.h"
#include "util.h"

/* The outcome, to syslog (the audit row is core's). */
static void done(int64_t id, int r, long smtp_status, const char *store_err) {
        char line[512];
        ehr_break_glass_notice_line(line, sizeof line, id, NULL, r, smtp_status, store_err);
        openlog("ehr2fa-notify", LOG_PID, LOG_AUTHPRIV);
        syslog(r == 0 ? LOG_INFO : LOG_ERR, "%s", line);
}

static const struct ehr_notice_report report = { done };

int main(int argc, char **argv) {
        (void) argc, (void) argv;
        if (ehr_child_start() < 0)
                return 1;
        return ehr_break_glass_notify_serve(STDIN_FILENO, STDOUT_FILENO, &report) < 0 ? 1 : 0;
}
