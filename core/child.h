/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* One request to a helper program in a child process, and its one-line answer:
 * how text messages (ehr2fa-sms-send) and mail (ehr2fa-mail-send) are sent.
 *
 * libcurl and OpenSSL read the environment when they start: OPENSSL_CONF (which
 * may name a provider or engine module: code run in our process), OPENSSL_MODULES,
 * OPENSSL_ENGINES, SSL_CERT_FILE, SSL_CERT_DIR, SSLKEYLOGFILE (TLS secrets written
 * to a file), CURL_SSL_BACKEND, the proxy variables. In a login process that
 * environment may be the user's (a host that is not setuid, where secure_getenv()
 * does not help). Clearing and restoring variables around the library's start
 * would race with every other thread of the host reading environ (setenv() is not
 * thread-safe), and a forked child of a multi-threaded host may only call async-
 * signal-safe functions before exec. So: posix_spawn() of the helper (safe in a
 * threaded host) with an environment we write, the request on a socket (never in
 * argv), the answer back on the same socket, and a deadline after which the child
 * is killed. libcurl and OpenSSL are then never loaded into the caller at all.
 *
 * The request: NUL-terminated fields, a fixed number of them. The answer:
 * "R STATUS\n", R the negative errno (or 0) of the child's work and STATUS a
 * number it reports (an HTTP or SMTP status; 0 when none). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* Longest request: every string at its limit, with room to spare. */
#define EHR_CHILD_REQUEST_MAX (64U * 1024U)
/* On top of the work's own limit: exec, loading libcurl and its libraries. */
#define EHR_CHILD_START_MS 3000U

/* Send the n fields f (NULL is "") to program (an absolute path; argv is just
 * argv0) and wait for its answer for at most limit_ms + EHR_CHILD_START_MS; then
 * the child is killed. The request is wiped. Safe in a multi-threaded host: no
 * environment, signal disposition or descriptor of the host is changed.
 * Returns the child's R (with its STATUS in *ret_status, which is always
 * written), or -ECHILD (the program could not be started, or died before
 * answering; program not absolute), -ETIMEDOUT, -E2BIG (request over
 * EHR_CHILD_REQUEST_MAX), -ENOMEM. */
_warn_unused_result_ int ehr_child_call(const char *program, const char *argv0, const char *const *f, size_t n,
                                        uint64_t limit_ms, long *ret_status);

/* What a helper program does first, before it reads its request: no core dump
 * (it holds credentials, a message, or the store's master key), none of the
 * caller's descriptors past stdin, stdout and stderr (those the host left
 * without O_CLOEXEC are not its to keep, or read), and / as its directory (the
 * caller's may be anywhere, a user's included). Returns 0 or -errno. */
int ehr_child_start(void);

/* The child's side: read one request of exactly n fields from in_fd (within
 * EHR_CHILD_START_MS), call work(fields, userdata, &status) and write its answer to
 * out_fd. A malformed request is answered -EINVAL without calling work. The
 * request buffer is wiped. Returns 0 once answered, else -errno. */
int ehr_child_serve(int in_fd, int out_fd, size_t n,
                    int (*work)(const char *const *fields, void *userdata, long *ret_status), void *userdata);
