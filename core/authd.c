/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authd.h"
#include "config.h"
#include "errors.h"
#include "login-remote.h"
#include "login.h"
#include "store.h"
#include "util.h"

struct ehr_authd {
        char *store_dir, *server, *password_file; /* store_dir, store and store_password_file */
        uint64_t timeout_ms;
        uint64_t retry_at_ms, backoff_ms; /* a server that could not be reached: not again before */
        struct ehr_store *store;
        char last_err[EHR_CONFIG_ERR_MAX]; /* the last reason the store could not be opened, said once */
};

int ehr_authd_new(const struct ehr_config *c, struct ehr_authd **ret) {
        struct ehr_authd *d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->store_dir = strdup(c->store_dir ?: EHR_STORE_DEFAULT_DIR);
        d->server = c->store ? strdup(c->store) : NULL;
        d->password_file = c->store_password_file ? strdup(c->store_password_file) : NULL;
        d->timeout_ms = c->store_timeout_ms;
        if (!d->store_dir || (c->store && !d->server) || (c->store_password_file && !d->password_file)) {
                ehr_authd_free(d);
                return -ENOMEM;
        }
        *ret = d;
        return 0;
}

struct ehr_authd *ehr_authd_free(struct ehr_authd *d) {
        if (!d)
                return NULL;
        ehr_store_free(d->store);
        free(d->store_dir);
        free(d->server);
        free(d->password_file);
        free(d);
        return NULL;
}

const char *ehr_authd_location(const struct ehr_authd *d) {
        return d->store ? ehr_store_location(d->store) : d->server ?: d->store_dir;
}

static void close_store(struct ehr_authd *d) {
        d->store = ehr_store_free(d->store);
}

int ehr_authd_open(struct ehr_authd *d, char *err, size_t errlen) {
        if (d->store) {
                /* A store replaced under us (restored from backup, init again) is reopened, and
                 * so is one whose mode changed: the reopen then refuses it as the module would. */
                if (ehr_store_changed(d->store) == 0)
                        return 0;
                close_store(d);
        }
        /* A server that is down is not asked again at every request: each attempt
         * may cost store_timeout_ms, and the module waits for the answer. */
        uint64_t now = ehr_monotonic_msec();
        if (now < d->retry_at_ms) {
                snprintf(err, errlen, "%s cannot be reached; trying again in %" PRIu64 " ms", ehr_authd_location(d),
                         d->retry_at_ms - now);
                return -ENOMEDIUM;
        }
        const struct ehr_store_where w = { .dir = d->store_dir, .server = d->server, .password_file = d->password_file };
        int r = ehr_store_open_at(&w, 0, d->timeout_ms, &d->store, err, errlen);
        if (r == -ENOMEDIUM) {
                d->backoff_ms = d->backoff_ms ? (d->backoff_ms * 2 > 8000 ? 8000 : d->backoff_ms * 2) : 250;
                d->retry_at_ms = ehr_monotonic_msec() + d->backoff_ms;
        }
        if (r < 0)
                return r;
        d->backoff_ms = d->retry_at_ms = 0;
        r = ehr_store_reserve(d->store);
        if (r < 0) {
                snprintf(err, errlen, "cannot prepare %s for a long-lived connection (%s); going on",
                         ehr_store_location(d->store), ehr_strerror(r));
                return 1;
        }
        return 0;
}

int ehr_authd_idle(struct ehr_authd *d) {
        if (!d->store)
                return 0;
        int r = ehr_store_idle(d->store);
        (void) ehr_store_release(d->store);
        return r;
}

struct ehr_authd_conn {
        struct ehr_config cfg; /* the last config a request on this connection carried, else the defaults */
};

struct ehr_authd_conn *ehr_authd_conn_new(void) {
        struct ehr_authd_conn *c = malloc(sizeof *c);
        if (c)
                ehr_config_init(&c->cfg);
        return c;
}

struct ehr_authd_conn *ehr_authd_conn_free(struct ehr_authd_conn *c) {
        if (c) {
                ehr_config_done(&c->cfg);
                free(c);
        }
        return NULL;
}

/* A request with cfg.* fields sets the connection's config (all of it: the fields
 * on top of the defaults; a bad one leaves the defaults); one without keeps it. A
 * module whose config is all defaults sends none, and a new connection's config
 * starts as the defaults. */
static int config_from(const struct ehr_wire *req, struct ehr_config *c) {
        bool fresh = false;
        for (size_t i = 0; i < req->n; i++)
                if (strncmp(req->key[i], "cfg.", 4) == 0) {
                        if (!fresh) {
                                ehr_config_done(c);
                                ehr_config_init(c);
                                fresh = true;
                        }
                        int r = ehr_config_set(c, req->key[i] + 4, req->value[i]);
                        if (r < 0) {
                                ehr_config_done(c);
                                ehr_config_init(c);
                                return r == -ENOMEM ? r : -EINVAL;
                        }
                }
        return 0;
}

/* Errors after which the connection may be unusable: start again with a fresh one. */
static bool store_broken(int r) {
        return r == -EIO || r == -EUCLEAN || r == -ENOMEM || r == -EPROTO || r == -ENOSPC;
}

/* Each op runs one step of core/login.c and puts its reply; returns how the step went. */
static int op_begin(struct ehr_authd *d, const struct ehr_login_req *q, const struct ehr_wire *req,
                    struct ehr_wire *reply) {
        struct ehr_login_state st;
        struct ehr_device_id dev;
        const char *want = ehr_wire_get(req, "trust");
        bool trust = want && streq(want, "1");
        if (trust)
                ehr_remote_get_device(req, &dev);
        int r = ehr_login_store_begin(d->store, q, trust ? &dev : NULL, &st, NULL);
        int w = ehr_remote_put_state(reply, &st);
        return w < 0 ? w : st.user_r < 0 ? st.user_r : r;
}

static int op_verify(struct ehr_authd *d, const struct ehr_login_req *q, const struct ehr_wire *req,
                     struct ehr_wire *reply) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        const char *answer = ehr_wire_get(req, "answer");
        struct ehr_verdict v = {};
        int r = answer ? ehr_store_user_get(d->store, q->user, &u) : -EINVAL;
        if (r >= 0)
                r = ehr_login_store_verify(d->store, q, u, answer, &v);
        int w = ehr_remote_put_verdict(reply, r, &v);
        return w < 0 ? w : r;
}

static int op_trust(struct ehr_authd *d, const struct ehr_login_req *q, const struct ehr_wire *req,
                    struct ehr_wire *reply) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        struct ehr_device_id dev;
        ehr_remote_get_device(req, &dev);
        int r = ehr_store_user_get(d->store, q->user, &u);
        if (r >= 0)
                r = ehr_login_store_trust(d->store, q, u, &dev);
        int w = ehr_wire_addi(reply, "r", r);
        return w < 0 ? w : r;
}

static int op_audit(struct ehr_authd *d, const struct ehr_login_req *q, const struct ehr_wire *req,
                    struct ehr_wire *reply) {
        const char *action = ehr_wire_get(req, "action"), *details = ehr_wire_get(req, "details");
        int r = action && details ? ehr_login_store_audit(d->store, q, action, details) : -EINVAL;
        int w = ehr_wire_addi(reply, "r", r);
        return w < 0 ? w : r;
}

static const struct {
        const char *name;
        int (*run)(struct ehr_authd *d, const struct ehr_login_req *q, const struct ehr_wire *req,
                   struct ehr_wire *reply);
} ops[] = {
        { "begin", op_begin },
        { "verify", op_verify },
        { "trust", op_trust },
        { "audit", op_audit },
};

/* The request's who, when and policy. Returns 0 or a negative errno (a bad request). */
static int request_from(struct ehr_authd_conn *conn, const struct ehr_wire *req, struct ehr_login_req *q) {
        uint64_t version = 0;
        *q = (struct ehr_login_req) { .cfg = &conn->cfg, .user = ehr_wire_get(req, "user"),
                                      .source = ehr_wire_get(req, "source") };
        if (ehr_wire_getu(req, "v", &version) < 0 || version != EHR_WIRE_VERSION)
                return -EPROTONOSUPPORT;
        if (!ehr_wire_get(req, "op") || !q->user || !q->source || ehr_wire_getu(req, "now", &q->now_sec) < 0)
                return -ENOMSG;
        return config_from(req, &conn->cfg);
}

/* Our store, open. Why it cannot be opened goes to notice once per reason, not per request. */
static int use_store(struct ehr_authd *d, const struct ehr_config *c, char *notice, size_t notice_len) {
        char err[EHR_CONFIG_ERR_MAX];
        if (!streq(c->store_dir ?: EHR_STORE_DEFAULT_DIR, d->store_dir) || !streq(c->store ?: "", d->server ?: ""))
                return -EXDEV;
        int r = ehr_authd_open(d, err, sizeof err);
        if (r > 0)
                snprintf(notice, notice_len, "%s", err);
        if (r < 0 && !streq(err, d->last_err)) {
                snprintf(notice, notice_len, "%s; logins are checked in-process until it is fixed", err);
                snprintf(d->last_err, sizeof d->last_err, "%s", err);
        } else if (r >= 0)
                d->last_err[0] = 0;
        return r < 0 ? r : 0;
}

static int run_op(struct ehr_authd *d, const struct ehr_login_req *q, const struct ehr_wire *req,
                  struct ehr_wire *reply, char *notice, size_t notice_len) {
        const char *op = ehr_wire_get(req, "op");
        int r = -EOPNOTSUPP;
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (streq(op, ops[i].name))
                        r = ops[i].run(d, q, req, reply);
        /* A snapshot left open would hide every later change from this connection. */
        int left = ehr_store_release(d->store);
        if (left > 0)
                snprintf(notice, notice_len, "op %s left %d statement(s) or a transaction open", op, left);
        if (store_broken(r))
                close_store(d);
        return r;
}

int ehr_authd_handle(struct ehr_authd *d, struct ehr_authd_conn *conn, const struct ehr_wire *req,
                     struct ehr_wire *reply, char *summary, size_t summary_len, char *notice, size_t notice_len) {
        struct ehr_login_req q;
        const char *op = ehr_wire_get(req, "op");

        reply->len = 0;
        notice[0] = 0;
        snprintf(summary, summary_len, "op=%s", op && strlen(op) < 16 ? op : "?");
        int r = request_from(conn, req, &q);
        if (r < 0) {
                (void) ehr_wire_addi(reply, "r", r);
                snprintf(summary + strlen(summary), summary_len - strlen(summary), " r=%d (bad request)", r);
                return r;
        }
        r = use_store(d, q.cfg, notice, notice_len);
        if (r >= 0)
                r = run_op(d, &q, req, reply, notice, notice_len);
        if (reply->len == 0)
                (void) ehr_wire_addi(reply, "r", r);
        snprintf(summary + strlen(summary), summary_len - strlen(summary), " user=%s r=%d",
                 ehr_login_valid(q.user) ? q.user : "(invalid name)", r);
        return 0;
}
