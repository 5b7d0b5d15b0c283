/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "authd.h"
#include "config.h"
#include "errors.h"
#include "policy.h"
#include "store.h"
#include "trust.h"
#include "util.h"

#define EHR_AUTHD_WAL_RESERVE (1100U * (4096U + 24U) + 32U)

struct ehr_authd {
        char *store_dir;
        uint64_t timeout_ms;
        struct ehr_store *store;
        dev_t dev;
        ino_t ino;
        char last_err[EHR_CONFIG_ERR_MAX]; /* the last reason the store could not be opened, said once */
};

int ehr_authd_new(const char *store_dir, uint64_t store_timeout_ms, struct ehr_authd **ret) {
        struct ehr_authd *d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->store_dir = strdup(store_dir);
        if (!d->store_dir) {
                free(d);
                return -ENOMEM;
        }
        d->timeout_ms = store_timeout_ms;
        *ret = d;
        return 0;
}

struct ehr_authd *ehr_authd_free(struct ehr_authd *d) {
        if (!d)
                return NULL;
        ehr_store_free(d->store);
        free(d->store_dir);
        free(d);
        return NULL;
}

static void close_store(struct ehr_authd *d) {
        d->store = ehr_store_free(d->store);
}

int ehr_authd_open(struct ehr_authd *d, char *err, size_t errlen) {
        struct stat st;
        if (d->store) {
                /* A store replaced under us (restored from backup, init again) is reopened, and
                 * so is one whose mode changed: the reopen then refuses it as the module would. */
                if (stat(ehr_store_path(d->store), &st) == 0 && st.st_dev == d->dev && st.st_ino == d->ino &&
                    S_ISREG(st.st_mode) && ehr_stat_check(&st, geteuid(), false, true) == 0)
                        return 0;
                close_store(d);
        }
        int r = ehr_store_open(d->store_dir, 0, d->timeout_ms, &d->store, err, errlen);
        if (r < 0)
                return r;
        if (stat(ehr_store_path(d->store), &st) < 0) {
                r = negative_errno();
                snprintf(err, errlen, "%s: %s", ehr_store_path(d->store), ehr_strerror(r));
                close_store(d);
                return r;
        }
        d->dev = st.st_dev;
        d->ino = st.st_ino;
        /* SQLite checkpoints at 1000 pages: room for that many frames and some. */
        r = ehr_store_wal_reserve(d->store, EHR_AUTHD_WAL_RESERVE);
        if (r < 0)
                fprintf(stderr, "ehr2fad: cannot size the WAL of %s (%s); going on\n", ehr_store_path(d->store),
                        ehr_strerror(r));
        return 0;
}

static int config_from(const struct ehr_wire *req, struct ehr_config *c) {
        for (size_t i = 0; i < req->n; i++)
                if (strncmp(req->key[i], "cfg.", 4) == 0) {
                        int r = ehr_config_set(c, req->key[i] + 4, req->value[i]);
                        if (r < 0)
                                return r == -ENOMEM ? r : -EINVAL;
                }
        return 0;
}

static void device_from(const struct ehr_wire *req, struct ehr_device_id *dev) {
        *dev = (struct ehr_device_id) {
                .rhost = ehr_wire_get(req, "dev.rhost"),
                .pubkey = ehr_wire_get(req, "dev.pubkey"),
                .host_id = ehr_wire_get(req, "dev.host"),
                .tty = ehr_wire_get(req, "dev.tty"),
        };
}

/* Errors after which the connection may be unusable: start again with a fresh one. */
static bool store_broken(int r) {
        return r == -EIO || r == -EUCLEAN || r == -ENOMEM || r == -EPROTO || r == -ENOSPC;
}

static int op_begin(struct ehr_authd *d, const struct ehr_config *c, const struct ehr_wire *req, const char *user,
                    uint64_t now, const char *source, struct ehr_wire *reply) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = ehr_store_user_get(d->store, user, &u);
        int q = ehr_wire_addi(reply, "r", r);
        if (r < 0 || q < 0)
                return r < 0 ? r : q;
        bool enrolled = ehr_user_enrolled(u);
        uint64_t until = 0;
        int trust_r = -ENOENT;
        int lock_r = ehr_policy_check_lock(d->store, u, now, &until);
        if (enrolled && lock_r == 0) {
                const char *want = ehr_wire_get(req, "trust");
                if (want && streq(want, "1")) {
                        struct ehr_device_id dev;
                        device_from(req, &dev);
                        trust_r = ehr_trust_check(d->store, c, u, &dev, now, source);
                }
        }
        if ((q = ehr_wire_add(reply, "login", u->login)) < 0 || (q = ehr_wire_addu(reply, "enrolled", enrolled)) < 0 ||
            (q = ehr_wire_addi(reply, "lock_r", lock_r)) < 0 || (q = ehr_wire_addu(reply, "until", until)) < 0 ||
            (q = ehr_wire_addi(reply, "trust_r", trust_r)) < 0)
                return q;
        return lock_r != -EAGAIN && lock_r < 0 ? lock_r : trust_r != -ENOENT && trust_r != -EPERM && trust_r < 0 ? trust_r : 0;
}

static int op_verify(struct ehr_authd *d, const struct ehr_config *c, const struct ehr_wire *req, const char *user,
                     uint64_t now, const char *source, struct ehr_wire *reply) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        const char *answer = ehr_wire_get(req, "answer");
        struct ehr_verdict v = {};
        int r = answer ? ehr_store_user_get(d->store, user, &u) : -EINVAL;
        if (r >= 0)
                r = ehr_policy_verify(d->store, c, u, answer, now, source, &v);
        int q;
        if ((q = ehr_wire_addi(reply, "r", r)) < 0 || (q = ehr_wire_addu(reply, "factor", v.factor)) < 0 ||
            (q = ehr_wire_addu(reply, "locked_until", v.locked_until_sec)) < 0 ||
            (q = ehr_wire_addu(reply, "failures", v.failures)) < 0 ||
            (q = ehr_wire_addu(reply, "recovery_left", v.recovery_left)) < 0)
                return q;
        return r;
}

static int op_trust(struct ehr_authd *d, const struct ehr_config *c, const struct ehr_wire *req, const char *user,
                    uint64_t now, const char *source, struct ehr_wire *reply) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        struct ehr_device_id dev;
        device_from(req, &dev);
        int r = ehr_store_user_get(d->store, user, &u);
        if (r >= 0)
                r = ehr_trust_add(d->store, c, u, &dev, now, source);
        int q = ehr_wire_addi(reply, "r", r);
        return q < 0 ? q : r;
}

static int op_audit(struct ehr_authd *d, const struct ehr_wire *req, const char *user, uint64_t now,
                    const char *source, struct ehr_wire *reply) {
        const char *action = ehr_wire_get(req, "action"), *details = ehr_wire_get(req, "details");
        int r = action && details ? ehr_audit_append(d->store, now, user, user, EHR_AUDIT_AUTH, action, details, source)
                                  : -EINVAL;
        int q = ehr_wire_addi(reply, "r", r);
        return q < 0 ? q : r;
}

int ehr_authd_handle(struct ehr_authd *d, const struct ehr_wire *req, struct ehr_wire *reply, char *summary,
                     size_t summary_len) {
        struct ehr_config c;
        char err[EHR_CONFIG_ERR_MAX];
        uint64_t version = 0, now = 0;
        const char *op = ehr_wire_get(req, "op"), *user = ehr_wire_get(req, "user"),
                   *source = ehr_wire_get(req, "source");
        int r;

        reply->len = 0;
        ehr_config_init(&c);
        snprintf(summary, summary_len, "op=%s", op && strlen(op) < 16 ? op : "?");
        if (ehr_wire_getu(req, "v", &version) < 0 || version != EHR_WIRE_VERSION)
                r = -EPROTONOSUPPORT;
        else if (!op || !user || !source || ehr_wire_getu(req, "now", &now) < 0)
                r = -EBADMSG;
        else
                r = config_from(req, &c);
        if (r < 0) {
                (void) ehr_wire_addi(reply, "r", r);
                snprintf(summary + strlen(summary), summary_len - strlen(summary), " r=%d (bad request)", r);
                ehr_config_done(&c);
                return r;
        }

        if (!streq(c.store_dir ?: EHR_STORE_DEFAULT_DIR, d->store_dir))
                r = -EXDEV;
        else {
                r = ehr_authd_open(d, err, sizeof err);
                /* Why logins now fall back to the module's own check: once, not per request. */
                if (r < 0 && !streq(err, d->last_err)) {
                        fprintf(stderr, "ehr2fad: %s; logins are checked in-process until it is fixed\n", err);
                        snprintf(d->last_err, sizeof d->last_err, "%s", err);
                } else if (r >= 0)
                        d->last_err[0] = 0;
        }
        if (r >= 0) {
                if (streq(op, "begin"))
                        r = op_begin(d, &c, req, user, now, source, reply);
                else if (streq(op, "verify"))
                        r = op_verify(d, &c, req, user, now, source, reply);
                else if (streq(op, "trust"))
                        r = op_trust(d, &c, req, user, now, source, reply);
                else if (streq(op, "audit"))
                        r = op_audit(d, req, user, now, source, reply);
                else
                        r = -EOPNOTSUPP;
                /* A snapshot left open would hide every later change from this connection. */
                int left = ehr_store_release(d->store);
                if (left > 0)
                        fprintf(stderr, "ehr2fad: op %s left %d statement(s) or a transaction open\n", op, left);
                if (store_broken(r))
                        close_store(d);
        }
        if (reply->len == 0)
                (void) ehr_wire_addi(reply, "r", r);
        snprintf(summary + strlen(summary), summary_len - strlen(summary), " user=%s r=%d",
                 ehr_login_valid(user) ? user : "(invalid name)", r);
        ehr_config_done(&c);
        return 0;
}
