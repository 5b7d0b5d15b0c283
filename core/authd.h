/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What ehr2fad answers: the steps of a login (core/login.c) on a store the daemon
 * keeps open, so that a login costs no SQLite open, schema parse, WAL setup or
 * checkpoint. The policy is the caller's: the first request on a connection
 * carries its effective config, applied with the same core functions the
 * module runs in-process. The
 * requests and replies are in core/login-remote.h, the client's side. Nothing
 * here logs: what the daemon should say is handed back to it. */

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct ehr_authd;

/* A daemon state for the store that c names (store_dir, store, store_password_file;
 * opened on first use). */
struct ehr_config;
int ehr_authd_new(const struct ehr_config *c, struct ehr_authd **ret);
/* The store as messages name it. */
const char *ehr_authd_location(const struct ehr_authd *d);
struct ehr_authd *ehr_authd_free(struct ehr_authd *d);
static inline void ehr_authd_freep(struct ehr_authd **d) {
        *d = ehr_authd_free(*d);
}

/* What ehr2fad keeps per connection: the config its requests carried. */
struct ehr_authd_conn;
struct ehr_authd_conn *ehr_authd_conn_new(void);
struct ehr_authd_conn *ehr_authd_conn_free(struct ehr_authd_conn *c);
static inline void ehr_authd_conn_freep(struct ehr_authd_conn **c) {
        *c = ehr_authd_conn_free(*c);
}

/* Answer one request on connection conn into reply (a fresh message). Returns 0 when a reply was
 * built (its r says how the operation went), or a negative errno when the
 * request itself was unusable (the reply then holds just r). summary gets one
 * line for the daemon's debug log: op, user (when a valid login) and r, never a
 * secret. notice gets a line to log now, or "": why the store cannot be opened
 * (once per reason), a WAL that could not be sized, a statement left open. */
int ehr_authd_handle(struct ehr_authd *d, struct ehr_authd_conn *conn, const struct ehr_wire *req,
                     struct ehr_wire *reply, char *summary, size_t summary_len, char *notice, size_t notice_len);

/* Open the store now (at startup: to fail early with a message), or check that
 * the open one is still the store at store_dir. Returns 0, 1 when open but with
 * a warning in err, or a negative errno with the reason in err. */
int ehr_authd_open(struct ehr_authd *d, char *err, size_t errlen);

/* No login is connected: do the store's upkeep now rather than inside one (see
 * ehr_store_idle()). Returns 1 when there was some, 0 when none, or a negative
 * errno (the work is then left for a later call). */
int ehr_authd_idle(struct ehr_authd *d);
