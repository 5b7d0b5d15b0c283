/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "errors.h"
#include "login-remote.h"
#include "util.h"

void ehr_remote_close(struct ehr_remote *c) {
        if (c->connected)
                (void) close(c->fd);
        c->connected = false;
}

bool ehr_remote_absent(int r) {
        return r == -ECONNREFUSED;
}

bool ehr_remote_undelivered(int r) {
        return ehr_remote_absent(r) || r == -ENOBUFS;
}

static struct ehr_wire *request(const struct ehr_login_req *q, const char *op) {
        struct ehr_wire *w = ehr_wire_new();
        if (!w)
                return NULL;
        if (ehr_wire_addu(w, "v", EHR_WIRE_VERSION) < 0 || ehr_wire_add(w, "op", op) < 0 ||
            ehr_wire_add(w, "user", q->user) < 0 || ehr_wire_addu(w, "now", q->now_sec) < 0 ||
            ehr_wire_add(w, "source", q->source) < 0) {
                ehr_wire_free(w);
                return NULL;
        }
        return w;
}

/* Send req on our connection, or on a new one (with the config: the first
 * request of a connection carries it, and the daemon keeps it for the rest). */
static int exchange(struct ehr_remote *c, const struct ehr_login_req *q, struct ehr_wire *req,
                    struct ehr_wire *reply) {
        size_t len = req->len;
        if (!c->connected) {
                int fd = ehr_wire_connect(c->path);
                if (fd < 0)
                        return fd;
                c->fd = fd;
                c->connected = true;
                c->cfg_sent = false;
        }
        if (!c->cfg_sent && ehr_wire_add_config(req, q->cfg) < 0)
                return -ENOBUFS;
        int r = ehr_wire_exchange(c->fd, q->cfg->store_timeout_ms, req, reply);
        c->cfg_sent = c->cfg_sent || r >= 0;
        req->len = len; /* as it was, for a second try */
        return r;
}

static int put_device(struct ehr_wire *w, const struct ehr_device_id *d) {
        int r = 0;
        if (d->rhost && r >= 0)
                r = ehr_wire_add(w, "dev.rhost", d->rhost);
        if (d->pubkey && r >= 0)
                r = ehr_wire_add(w, "dev.pubkey", d->pubkey);
        if (d->host_id && r >= 0)
                r = ehr_wire_add(w, "dev.host", d->host_id);
        if (d->tty && r >= 0)
                r = ehr_wire_add(w, "dev.tty", d->tty);
        return r;
}

void ehr_remote_get_device(const struct ehr_wire *w, struct ehr_device_id *ret) {
        *ret = (struct ehr_device_id) {
                .rhost = ehr_wire_get(w, "dev.rhost"),
                .pubkey = ehr_wire_get(w, "dev.pubkey"),
                .host_id = ehr_wire_get(w, "dev.host"),
                .tty = ehr_wire_get(w, "dev.tty"),
        };
}

/* Returns 0 with the daemon's "r" in *ret_r, or the negative errno of the call itself.
 * ehr2fad closes a connection that has been quiet for minutes (a long prompt), or
 * the least recently used one when it needs the room: then it never read this
 * request, which goes again on a new connection. */
static int send_request(struct ehr_remote *c, const struct ehr_login_req *q, struct ehr_wire *req,
                        struct ehr_wire *reply, int *ret_r) {
        int64_t v, r = -ENOTCONN;
        if (c->connected) {
                r = exchange(c, q, req, reply);
                if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN || r == -ECONNABORTED)
                        ehr_remote_close(c);
        }
        if (!c->connected)
                r = exchange(c, q, req, reply);
        if (r < 0) {
                /* A connection that failed a request is not used again. */
                ehr_remote_close(c);
                return (int) r;
        }
        if (ehr_wire_geti(reply, "r", &v) < 0 || v > 0 || v < -4095)
                return -ENOMSG;
        *ret_r = (int) v;
        return 0;
}

/* A request whose reply is just "r". */
static int call(struct ehr_remote *c, const struct ehr_login_req *q, struct ehr_wire *req, int *ret_r) {
        _cleanup_(ehr_wire_freep) struct ehr_wire *reply = ehr_wire_new();
        return reply ? send_request(c, q, req, reply, ret_r) : -ENOMEM;
}

static int errno_field(const struct ehr_wire *w, const char *key, int *ret) {
        int64_t v;
        if (ehr_wire_geti(w, key, &v) < 0 || v > 0 || v < -4095)
                return -ENOMSG;
        *ret = (int) v;
        return 0;
}

int ehr_remote_put_state(struct ehr_wire *w, const struct ehr_login_state *st) {
        int q = ehr_wire_addi(w, "r", st->user_r);
        if (q < 0 || st->user_r < 0)
                return q;
        if ((q = ehr_wire_add(w, "login", st->login)) < 0 || (q = ehr_wire_addu(w, "enrolled", st->enrolled)) < 0 ||
            (q = ehr_wire_addi(w, "lock_r", st->lock_r)) < 0 || (q = ehr_wire_addu(w, "until", st->until)) < 0 ||
            (q = ehr_wire_addi(w, "trust_r", st->trust_r)) < 0)
                return q;
        return 0;
}

static int get_state(const struct ehr_wire *w, int r, struct ehr_login_state *st) {
        *st = (struct ehr_login_state) { .user_r = r, .trust_r = -ENOENT };
        if (r < 0)
                return 0;
        const char *login = ehr_wire_get(w, "login");
        uint64_t enrolled;
        if (!login || !ehr_login_valid(login) || ehr_wire_getu(w, "enrolled", &enrolled) < 0 ||
            ehr_wire_getu(w, "until", &st->until) < 0 || errno_field(w, "lock_r", &st->lock_r) < 0 ||
            errno_field(w, "trust_r", &st->trust_r) < 0)
                return -ENOMSG;
        snprintf(st->login, sizeof st->login, "%s", login);
        st->enrolled = enrolled != 0;
        return 0;
}

int ehr_remote_begin(struct ehr_remote *c, const struct ehr_login_req *q, const struct ehr_device_id *dev,
                     struct ehr_login_state *ret, int *ret_r) {
        _cleanup_(ehr_wire_freep) struct ehr_wire *req = request(q, "begin");
        _cleanup_(ehr_wire_freep) struct ehr_wire *reply = ehr_wire_new();
        if (!req || !reply)
                return -ENOMEM;
        if (dev && (ehr_wire_add(req, "trust", "1") < 0 || put_device(req, dev) < 0))
                return -EMSGSIZE;
        int rr, r = send_request(c, q, req, reply, &rr);
        if (r < 0)
                return r;
        r = get_state(reply, rr, ret);
        if (r < 0)
                return r;
        *ret_r = rr;
        return 0;
}

int ehr_remote_put_verdict(struct ehr_wire *w, int r, const struct ehr_verdict *v) {
        int q;
        if ((q = ehr_wire_addi(w, "r", r)) < 0 || (q = ehr_wire_addu(w, "factor", v->factor)) < 0 ||
            (q = ehr_wire_addu(w, "locked_until", v->locked_until_sec)) < 0 ||
            (q = ehr_wire_addu(w, "failures", v->failures)) < 0 ||
            (q = ehr_wire_addu(w, "recovery_left", v->recovery_left)) < 0)
                return q;
        return 0;
}

int ehr_remote_verify(struct ehr_remote *c, const struct ehr_login_req *q, const char *answer,
                      struct ehr_verdict *ret, int *ret_r) {
        _cleanup_(ehr_wire_freep) struct ehr_wire *req = request(q, "verify");
        _cleanup_(ehr_wire_freep) struct ehr_wire *reply = ehr_wire_new();
        if (!req || !reply || ehr_wire_add(req, "answer", answer) < 0)
                return -ENOMEM;
        uint64_t factor, until, failures, left;
        int rr, r = send_request(c, q, req, reply, &rr);
        if (r < 0)
                return r;
        if (ehr_wire_getu(reply, "factor", &factor) < 0 || factor > EHR_FACTOR_SMS ||
            ehr_wire_getu(reply, "locked_until", &until) < 0 || ehr_wire_getu(reply, "failures", &failures) < 0 ||
            ehr_wire_getu(reply, "recovery_left", &left) < 0 || left > UINT_MAX)
                return -ENOMSG;
        *ret = (struct ehr_verdict) { .factor = (enum ehr_factor) factor, .locked_until_sec = until,
                                      .failures = failures, .recovery_left = (unsigned) left };
        *ret_r = rr;
        return 0;
}

int ehr_remote_trust(struct ehr_remote *c, const struct ehr_login_req *q, const struct ehr_device_id *dev,
                     int *ret_r) {
        _cleanup_(ehr_wire_freep) struct ehr_wire *req = request(q, "trust");
        if (!req)
                return -ENOMEM;
        if (put_device(req, dev) < 0)
                return -EMSGSIZE;
        return call(c, q, req, ret_r);
}

int ehr_remote_audit(struct ehr_remote *c, const struct ehr_login_req *q, const char *action, const char *details,
                     int *ret_r) {
        _cleanup_(ehr_wire_freep) struct ehr_wire *req = request(q, "audit");
        if (!req)
                return -ENOMEM;
        if (ehr_wire_add(req, "action", action) < 0 || ehr_wire_add(req, "details", details) < 0)
                return -EMSGSIZE;
        return call(c, q, req, ret_r);
}
