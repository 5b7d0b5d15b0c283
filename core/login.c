/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "audit.h"
#include "breakglass.h"
#include "errors.h"
#include "helpdesk.h"
#include "login-remote.h"
#include "login.h"
#include "util.h"

/* The steps, on an open store: in-process and in ehr2fad alike. */

int ehr_login_store_begin(struct ehr_store *s, const struct ehr_login_req *q, const struct ehr_device_id *dev,
                          struct ehr_login_state *ret, struct ehr_user **ret_user) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        *ret = (struct ehr_login_state) { .trust_r = -ENOENT };
        ret->user_r = ehr_store_user_get(s, q->user, &u);
        if (ret->user_r < 0)
                return ret->user_r == -ENOENT ? 0 : ret->user_r;
        snprintf(ret->login, sizeof ret->login, "%s", u->login);
        ret->enrolled = ehr_user_enrolled(u);
        ret->lock_r = ehr_policy_check_lock(s, u, q->now_sec, &ret->until);
        if (ret->enrolled && ret->lock_r == 0 && dev)
                ret->trust_r = ehr_trust_check(s, q->cfg, u, dev, q->now_sec, q->source);
        if (ret_user)
                *ret_user = TAKE_PTR(u);
        if (ret->lock_r < 0 && ret->lock_r != -EAGAIN)
                return ret->lock_r;
        if (ret->trust_r < 0 && ret->trust_r != -ENOENT && ret->trust_r != -EPERM)
                return ret->trust_r;
        return 0;
}

int ehr_login_store_verify(struct ehr_store *s, const struct ehr_login_req *q, const struct ehr_user *u,
                           const char *answer, struct ehr_verdict *ret) {
        return ehr_policy_verify(s, q->cfg, u, answer, q->now_sec, q->source, ret);
}

int ehr_login_store_trust(struct ehr_store *s, const struct ehr_login_req *q, const struct ehr_user *u,
                          const struct ehr_device_id *dev) {
        return ehr_trust_add(s, q->cfg, u, dev, q->now_sec, q->source);
}

int ehr_login_store_audit(struct ehr_store *s, const struct ehr_login_req *q, const char *action,
                          const char *details) {
        return ehr_audit_append(s, q->now_sec, q->user, q->user, EHR_AUDIT_AUTH, action, details, q->source);
}

bool ehr_login_fails_open(const struct ehr_config *c, int r, bool mid_check) {
        if (c->fail_mode != EHR_FAIL_SAFE)
                return false;
        if (mid_check)
                return r == -EBUSY;
        /* fail_mode = safe is for a store that is down, never for one that is wrong: a
         * permission or mode fault, a row that does not open, an impossible value, or a
         * store_dir this build cannot use (a configuration error) always denies. */
        switch (r) {
        case -EACCES: case -ENOTUNIQ: case -EPERM: case -EBADMSG:
        case -EINVAL: case -ENOPKG: case -EOVERFLOW: case -EDOM: case -EILSEQ:
                return false;
        default:
                return true;
        }
}

/* A login of a front end: its steps go to ehr2fad (remote.path set) or to the
 * store in this process. */
struct ehr_login {
        struct ehr_login_req q;
        struct ehr_remote remote;
        bool via_daemon;                /* ehr2fad answers this login */
        int remote_err;                 /* the last failure talking to it, not yet taken */
        const char *remote_err_path;
        struct ehr_store *store;        /* in-process, opened when first needed */
        struct ehr_user *u;             /* the user in it */
        char err[EHR_CONFIG_ERR_MAX];   /* why the store could not be opened */
};

int ehr_login_new(const struct ehr_config *cfg, const char *user, uint64_t now_sec, const char *source,
                  struct ehr_login **ret) {
        struct ehr_login *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->q = (struct ehr_login_req) { .cfg = cfg, .user = user, .now_sec = now_sec, .source = source };
        l->remote.path = ehr_daemon_socket(cfg);
        *ret = l;
        return 0;
}

struct ehr_login *ehr_login_free(struct ehr_login *l) {
        if (!l)
                return NULL;
        ehr_remote_close(&l->remote);
        ehr_user_free(l->u);
        ehr_store_free(l->store);
        free(l);
        return NULL;
}

const char *ehr_login_error(const struct ehr_login *l) {
        return l->err;
}

const char *ehr_login_remote(const struct ehr_login *l) {
        return l->via_daemon ? l->remote.path : NULL;
}

int ehr_login_take_remote_error(struct ehr_login *l, const char **ret_path, bool *ret_expected) {
        int r = l->remote_err;
        *ret_path = l->remote_err_path;
        *ret_expected = ehr_remote_absent(r) || r == -EXDEV;
        l->remote_err = 0;
        return r;
}

static void remote_failed(struct ehr_login *l, int r) {
        l->remote_err = r;
        l->remote_err_path = l->remote.path;
        l->via_daemon = false;
        ehr_remote_close(&l->remote);
}

int ehr_login_open_store(struct ehr_login *l) {
        if (l->store)
                return 0;
        int r = ehr_store_open_config(l->q.cfg, 0, &l->store, l->err, sizeof l->err);
        if (r >= 0)
                return 0;
        return ehr_login_fails_open(l->q.cfg, r, false) ? 1 : r;
}

/* The store and the user login in this process, for a step that runs here. */
static int need_local(struct ehr_login *l, const char *login) {
        int r = ehr_login_open_store(l);
        if (r != 0)
                return r > 0 ? -EBUSY : r;
        return l->u ? 0 : ehr_store_user_get(l->store, login, &l->u);
}

/* Ask ehr2fad. Returns 0 when it answered for our store, else a negative errno
 * (no daemon, another store, no answer, its store failed): then the caller works
 * in-process, and so does every later step. */
static int remote_begin(struct ehr_login *l, const struct ehr_device_id *dev, struct ehr_login_state *ret) {
        if (!l->remote.path)
                return -ENOENT;
        int rr, r = ehr_remote_begin(&l->remote, &l->q, dev, ret, &rr);
        if (r >= 0 && rr != 0 && rr != -ENOENT)
                r = rr; /* not our store (-EXDEV), or its store failed: let the in-process path decide */
        if (r < 0) {
                remote_failed(l, r);
                return r;
        }
        l->via_daemon = true;
        return 0;
}

int ehr_login_begin(struct ehr_login *l, const struct ehr_device_id *dev, struct ehr_login_state *ret) {
        if (remote_begin(l, dev, ret) == 0)
                return 0;
        int r = ehr_login_open_store(l);
        if (r != 0)
                return r;
        (void) ehr_login_store_begin(l->store, &l->q, dev, ret, &l->u);
        return 0;
}

int ehr_login_verify(struct ehr_login *l, const char *login, const char *answer, struct ehr_verdict *ret) {
        struct ehr_login_req q = l->q;
        q.user = login;
        *ret = (struct ehr_verdict) {};
        if (l->via_daemon) {
                int rr, r = ehr_remote_verify(&l->remote, &q, answer, ret, &rr);
                if (r >= 0)
                        return rr;
                if (r == -ENOMEM)
                        return r;
                if (!ehr_remote_undelivered(r)) {
                        remote_failed(l, r);
                        return -EBUSY; /* it may have counted the answer: never check it a second time */
                }
                /* gone before it saw the answer: check it here */
                l->via_daemon = false;
                ehr_remote_close(&l->remote);
        }
        int r = need_local(l, login);
        if (r < 0)
                return r;
        return ehr_login_store_verify(l->store, &q, l->u, answer, ret);
}

int ehr_login_trust(struct ehr_login *l, const char *login, const struct ehr_device_id *dev) {
        struct ehr_login_req q = l->q;
        q.user = login;
        if (l->via_daemon) {
                int rr, r = ehr_remote_trust(&l->remote, &q, dev, &rr);
                return r < 0 ? r : rr;
        }
        int r = need_local(l, login);
        return r < 0 ? r : ehr_login_store_trust(l->store, &q, l->u, dev);
}

int ehr_login_audit(struct ehr_login *l, const char *user, const char *action, const char *details) {
        struct ehr_login_req q = l->q;
        /* The name of an unknown user is whatever the client typed: keep it out of the log unless it is a name. */
        q.user = ehr_login_valid(user) ? user : "(invalid name)";
        if (l->via_daemon) {
                int rr, r = ehr_remote_audit(&l->remote, &q, action, details, &rr);
                return r < 0 ? r : rr;
        }
        int r = ehr_login_open_store(l);
        if (r != 0)
                return r > 0 ? -EBUSY : r;
        return ehr_login_store_audit(l->store, &q, action, details);
}

int ehr_login_sms(struct ehr_login *l, const char *login, struct ehr_sms_request *ret) {
        int r = need_local(l, login);
        if (r < 0)
                return r;
        return ehr_sms_token_request(l->store, l->q.cfg, l->u, l->q.now_sec, l->q.source, ret);
}

int ehr_login_password_changed(struct ehr_login *l, const char **ret_login) {
        int r = need_local(l, l->q.user);
        if (r < 0)
                return r;
        r = ehr_trust_revoke(l->store, l->u, 0, l->q.now_sec, l->u->login, "password changed", l->q.source);
        if (r >= 0)
                *ret_login = l->u->login;
        return r;
}

int ehr_login_local(struct ehr_login *l, struct ehr_store **ret_store, const struct ehr_user **ret_user) {
        int r = need_local(l, l->q.user);
        if (r < 0)
                return r;
        *ret_store = l->store;
        *ret_user = l->u;
        return 0;
}

int ehr_login_local_any(struct ehr_login *l, struct ehr_store **ret_store, const struct ehr_user **ret_user) {
        int r = ehr_login_local(l, ret_store, ret_user);
        if (r != -ENOENT || !l->store) /* -ENOENT with no store: there is no store at all */
                return r;
        *ret_store = l->store; /* opened: need_local() looked the user up in it */
        *ret_user = NULL;
        return 0;
}

int ehr_login_unlock(struct ehr_login *l, const char *pin, uint64_t *ret_until) {
        int r = need_local(l, l->q.user);
        if (r < 0)
                return r;
        return ehr_unlock_pin_verify(l->store, l->q.cfg, l->u, pin, l->q.now_sec, l->q.source, ret_until);
}

int ehr_login_break_glass(struct ehr_login *l, const char *login, const char *host, const char *service,
                          const char *reason,
                          int64_t *ret_id, uint64_t *reterr_until, enum ehr_break_glass_limit *reterr_limit) {
        int r = need_local(l, login);
        if (r < 0)
                return r;
        return ehr_break_glass_use(l->store, l->q.cfg, l->u, host, service, reason, l->q.now_sec, l->q.source,
                                   ret_id, reterr_until, reterr_limit);
}

int ehr_login_break_glass_notify_detached(struct ehr_login *l, int64_t id) {
        return ehr_break_glass_notify_detached(l->q.cfg, id, l->q.source);
}

int ehr_login_break_glass_notify(struct ehr_login *l, int64_t id, long *ret_smtp_status) {
        int r = ehr_login_open_store(l);
        if (r != 0)
                return r > 0 ? -EBUSY : r;
        return ehr_break_glass_notify(l->store, l->q.cfg, id, l->q.now_sec, l->q.source, ret_smtp_status);
}
