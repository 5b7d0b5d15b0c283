/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The steps of a login (DESIGN §4), written once:
 *
 *   begin    the user, enrollment, lock state and a trusted device, before any prompt;
 *   verify   the answer (TOTP, SMS token or recovery code): counted, audited;
 *   trust    "trust this device", after a good answer;
 *   audit    the rows a front end adds (skipped under nullok, conversation failed...).
 *
 * ehr_login_store_*() run a step on an open store: the in-process path calls
 * them, and so does ehr2fad (core/authd.c) for each request. A front end (the
 * PAM module) holds a struct ehr_login, whose calls go either to ehr2fad
 * (core/login-remote.c) or to the store in this process, behind the same calls;
 * it never sees which, except to log it. Nothing here logs or prompts. */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"
#include "smstoken.h"
#include "store.h"
#include "trust.h"

/* Who logs in, when, from where, under which policy: every step's input. */
struct ehr_login_req {
        const struct ehr_config *cfg;
        const char *user;   /* the name as given (PAM_USER), or the store's login after begin */
        uint64_t now_sec;
        const char *source; /* "service=... rhost=... tty=...", for audit rows */
};

/* What a login knows before it prompts. */
struct ehr_login_state {
        int user_r;    /* 0, -ENOENT (not in the store), or a store error */
        bool enrolled;
        int lock_r;    /* 0, -EAGAIN (locked until `until`), or a store error */
        uint64_t until;
        int trust_r;   /* 0: trusted device; -ENOENT, -EPERM: not; else a store error */
        char login[EHR_LOGIN_MAX + 1];
};

/* The steps on an open store. begin fills *ret on every return and returns 0,
 * or the first store error among user_r (other than -ENOENT), lock_r (other than
 * -EAGAIN) and trust_r (other than -ENOENT, -EPERM); dev NULL: no trust check.
 * ret_user (may be NULL) gets the user on success, for the later steps.
 * verify is ehr_policy_verify() for q->user; trust is ehr_trust_add(); audit
 * appends one row of type auth with q->user as user and actor. */
int ehr_login_store_begin(struct ehr_store *s, const struct ehr_login_req *q, const struct ehr_device_id *dev,
                          struct ehr_login_state *ret, struct ehr_user **ret_user);
_warn_unused_result_ int ehr_login_store_verify(struct ehr_store *s, const struct ehr_login_req *q,
                                                const struct ehr_user *u, const char *answer,
                                                struct ehr_verdict *ret);
int ehr_login_store_trust(struct ehr_store *s, const struct ehr_login_req *q, const struct ehr_user *u,
                          const struct ehr_device_id *dev);
int ehr_login_store_audit(struct ehr_store *s, const struct ehr_login_req *q, const char *action,
                          const char *details);

/* A store that cannot be opened, or stays busy: does fail_mode = safe let the
 * login through without a second factor? Only a store that is down or busy
 * does; wrong permissions or a bad key are an attack or a mistake. mid_check:
 * the store failed after the login began (then only -EBUSY qualifies). */
bool ehr_login_fails_open(const struct ehr_config *c, int r, bool mid_check);

/* One login of a front end. cfg, user and source must outlive it. */
struct ehr_login;
int ehr_login_new(const struct ehr_config *cfg, const char *user, uint64_t now_sec, const char *source,
                  struct ehr_login **ret);
struct ehr_login *ehr_login_free(struct ehr_login *l);
static inline void ehr_login_freep(struct ehr_login **l) {
        *l = ehr_login_free(*l);
}

/* Begin: through ehr2fad when daemon_socket names one that serves our store,
 * else in this process. Returns 0 with *ret filled, 1 when the store cannot be
 * opened and ehr_login_fails_open() allows the login, or the negative errno of
 * opening the store; ehr_login_error() then says why. */
int ehr_login_begin(struct ehr_login *l, const struct ehr_device_id *dev, struct ehr_login_state *ret);
/* Open the store in this process (the steps ehr2fad does not take: text
 * messages wait on the network, the Unlock PIN, a password change). Returns 0,
 * 1 or a negative errno as ehr_login_begin(). */
int ehr_login_open_store(struct ehr_login *l);
/* Verify an answer of login (from ehr_login_state). *ret is filled on every
 * return. When ehr2fad took the answer but did not reply, -EBUSY: it may have
 * counted it, so it is never checked twice. */
_warn_unused_result_ int ehr_login_verify(struct ehr_login *l, const char *login, const char *answer,
                                          struct ehr_verdict *ret);
int ehr_login_trust(struct ehr_login *l, const char *login, const struct ehr_device_id *dev);
/* user: the login, or the name as given (written as "(invalid name)" unless valid). */
int ehr_login_audit(struct ehr_login *l, const char *user, const char *action, const char *details);
/* Send login an SMS token (in this process: ehr_sms_token_request()). */
int ehr_login_sms(struct ehr_login *l, const char *login, struct ehr_sms_request *ret);
/* The password changed: revoke the user's trusted devices. Returns how many, or
 * a negative errno; *ret_login is the store's login on success. */
int ehr_login_password_changed(struct ehr_login *l, const char **ret_login);
/* The store, opened in this process, and the user in it: for the password
 * phase, which runs account operations (core/account.h) on them. Both stay
 * owned by l. Returns 0, -ENOENT (no such user), -EBUSY (the store cannot be
 * opened and fail_mode would let a login through: never a reason to change a
 * password) or the errno of opening the store (ehr_login_error() says why). */
int ehr_login_local(struct ehr_login *l, struct ehr_store **ret_store, const struct ehr_user **ret_user);
/* Break the glass for login (in this process: ehr_break_glass_use()): host is
 * this machine's name, service the PAM service, reason as typed. Returns what ehr_break_glass_use() does. */
_warn_unused_result_ int ehr_login_break_glass(struct ehr_login *l, const char *login, const char *host,
                                               const char *service, const char *reason, int64_t *ret_id, uint64_t *reterr_until,
                                               enum ehr_break_glass_limit *reterr_limit);
/* Tell the reviewers of use id from a process that outlives the login
 * (ehr_break_glass_notify_detached(): the login does not wait for the mail
 * server). Returns 0 (handed over) or a negative errno: nothing was sent then. */
int ehr_login_break_glass_notify_detached(struct ehr_login *l, int64_t id);
/* Tell the reviewers of use id at once (ehr_break_glass_notify(), in this
 * process: bounded by mail_timeout_ms). Returns 0 or its negative errno. */
int ehr_login_break_glass_notify(struct ehr_login *l, int64_t id, long *ret_smtp_status);
/* The same for the steps of a user who may not be in the store (enforcement and
 * enrollment, core/enforce.h): *ret_user is NULL then, and that is not an error. */
int ehr_login_local_any(struct ehr_login *l, struct ehr_store **ret_store, const struct ehr_user **ret_user);
/* Check the Unlock PIN: 0, -EBADRQC (wrong), -EAGAIN (locked, until
 * *ret_until), -ENOENT (none set or no such user), or a store error. */
_warn_unused_result_ int ehr_login_unlock(struct ehr_login *l, const char *pin, uint64_t *ret_until);

/* Why the store could not be opened (after a negative or 1 return). */
const char *ehr_login_error(const struct ehr_login *l);
/* The ehr2fad socket answering this login, or NULL (in-process). */
const char *ehr_login_remote(const struct ehr_login *l);
/* The last failure talking to ehr2fad, taken once: a negative errno and the
 * socket (0 if none). *ret_expected: no daemon there or another store, which
 * is normal and worth a debug line only. */
int ehr_login_take_remote_error(struct ehr_login *l, const char **ret_path, bool *ret_expected);
