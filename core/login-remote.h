/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* ehr2fad's client: the steps of core/login.h sent to ehr2fad, which runs them
 * with ehr_login_store_*() on a store it keeps open (core/authd.c), so that a
 * login costs no SQLite open. One connection carries all the requests of a
 * login (a connection costs more than a request).
 *
 * Requests (core/wire.h) carry "v" = 1, "op", "user", "now", "source". The first
 * request on a connection also carries the caller's whole effective config as
 * "cfg.KEY" fields: the daemon applies exactly that policy to it and to every
 * later request on the connection (one without cfg.* fields keeps it), so a
 * login's config is encoded, sent and parsed once, not per request.
 *   begin   with trust=1 and dev.*: the trusted-device check too.
 *           Reply: r (the user lookup) and, when 0: login, enrolled, lock_r, until, trust_r.
 *   verify  answer. Reply: r, factor, locked_until, failures, recovery_left.
 *   trust   dev.*. Reply: r.
 *   audit   action, details. Reply: r.
 * r is 0 or a negative errno as in errors.h; -EXDEV means "not my store"
 * (cfg.store_dir differs from the daemon's): the caller works in-process. */

#include <stdbool.h>

#include "login.h"
#include "wire.h"

struct ehr_remote {
        const char *path; /* the daemon's socket */
        int fd;
        bool connected;   /* fd is this login's connection */
        bool cfg_sent;    /* the config went with a request on it */
};

void ehr_remote_close(struct ehr_remote *c);

/* Each returns 0 with the daemon's r in *ret_r (and the reply's fields in *ret
 * when r allows), or the negative errno of the call itself: not delivered
 * (ehr_remote_undelivered()), or delivered and not answered. */
int ehr_remote_begin(struct ehr_remote *c, const struct ehr_login_req *q, const struct ehr_device_id *dev,
                     struct ehr_login_state *ret, int *ret_r);
int ehr_remote_verify(struct ehr_remote *c, const struct ehr_login_req *q, const char *answer,
                      struct ehr_verdict *ret, int *ret_r);
int ehr_remote_trust(struct ehr_remote *c, const struct ehr_login_req *q, const struct ehr_device_id *dev,
                     int *ret_r);
int ehr_remote_audit(struct ehr_remote *c, const struct ehr_login_req *q, const char *action, const char *details,
                     int *ret_r);

/* No daemon there: normal on a host without one. */
bool ehr_remote_absent(int r);
/* The request never reached the daemon: checking in-process instead counts nothing twice. */
bool ehr_remote_undelivered(int r);

/* Both ends of what travels; the server side is core/authd.c. */
int ehr_remote_put_state(struct ehr_wire *w, const struct ehr_login_state *st);
int ehr_remote_put_verdict(struct ehr_wire *w, int r, const struct ehr_verdict *v);
void ehr_remote_get_device(const struct ehr_wire *w, struct ehr_device_id *ret);
