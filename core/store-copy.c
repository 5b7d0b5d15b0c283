/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Moving a site: every row of one store into another, empty one, as it is
 * (sealed blobs and keyed hashes are copied, never opened: both stores use the
 * same master key, and user ids are kept, as sealing binds each secret to its
 * user's id), in one transaction of the target. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "store-backend.h"

struct copy {
        const struct ehr_store_ops *fo, *to;
        struct ehr_store_backend *f, *t;
        struct ehr_store_copied *n;
        int64_t user_id;
        uint8_t (*hashes)[EHR_HASH_BYTES];
        size_t nhashes;
        char *err;
        size_t errlen;
};

static int id_of(struct copy *c, const char *login, int64_t *ret) {
        if (!login || !*login) {
                *ret = 0;
                return 0;
        }
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = c->to->user_get(c->t, login, &u);
        if (r >= 0)
                *ret = u->id;
        return r;
}

static int recovery_one(const uint8_t hash[EHR_HASH_BYTES], bool used, void *userdata) {
        struct copy *c = userdata;
        if (used)
                return 0; /* spent: only the codes left are worth moving */
        uint8_t (*h)[EHR_HASH_BYTES] = realloc(c->hashes, (c->nhashes + 1) * sizeof *h);
        if (!h)
                return -ENOMEM;
        c->hashes = h;
        memcpy(h[c->nhashes++], hash, EHR_HASH_BYTES);
        return 0;
}

static int device_one(const struct ehr_device *d, void *userdata) {
        struct copy *c = userdata;
        c->n->devices++;
        return c->to->device_put(c->t, c->user_id, d->hash, d->label, d->created_sec, d->expires_sec, NULL);
}

static int perm_one(const char *perm, void *userdata) {
        struct copy *c = userdata;
        return c->to->perm_grant(c->t, c->user_id, perm, 0, "store copy");
}

/* A user's second factor and its state: TOTP (with the replay guard), recovery
 * codes, failures, trusted devices, PINs, permissions. */
static int user_rows(struct copy *c, const struct ehr_user *u) {
        struct ehr_store_totp_row tr;
        int r = c->fo->totp_get(c->f, u->id, &tr);
        if (r >= 0) {
                r = c->to->totp_put(c->t, u->id, tr.sealed, tr.sealed_len, tr.algorithm, tr.digits, tr.period,
                                    u->created_sec);
                if (r >= 0 && tr.have_last_step)
                        r = c->to->totp_use_step(c->t, u->id, tr.last_step);
        }
        c->nhashes = 0;
        if (r >= 0 || r == -ENOENT)
                r = c->fo->recovery_foreach(c->f, u->id, recovery_one, c);
        if (r >= 0 && c->nhashes > 0)
                r = c->to->recovery_replace(c->t, u->id, (const uint8_t(*)[EHR_HASH_BYTES]) c->hashes, c->nhashes);
        struct ehr_failures fl;
        if (r >= 0 && (r = c->fo->failures_get(c->f, u->id, &fl)) >= 0 && (fl.count || fl.consecutive))
                r = c->to->failures_put(c->t, u->id, &fl);
        c->user_id = u->id;
        if (r >= 0)
                r = c->fo->device_foreach(c->f, u->id, device_one, c);
        if (r >= 0)
                r = c->fo->perm_foreach(c->f, u->id, perm_one, c);
        struct ehr_store_pin_row pin;
        if (r >= 0 && (r = c->fo->support_pin_get(c->f, u->id, &pin)) >= 0) {
                r = c->to->support_pin_put(c->t, u->id, pin.sealed, pin.sealed_len, u->created_sec);
                if (r >= 0)
                        r = c->to->support_pin_set_state(c->t, u->id, &pin.state);
        }
        char pw[EHR_PASSWORD_HASH_MAX + 1];
        uint64_t changed;
        if ((r >= 0 || r == -ENOENT) && (r = c->fo->password_get(c->f, u->id, pw, sizeof pw, &changed)) >= 0)
                r = c->to->password_put(c->t, u->id, pw, changed);
        uint8_t h[EHR_HASH_BYTES];
        struct ehr_pin_state ps;
        if ((r >= 0 || r == -ENOENT) && (r = c->fo->unlock_pin_get(c->f, u->id, h, &ps)) >= 0) {
                r = c->to->unlock_pin_put(c->t, u->id, h, u->created_sec);
                if (r >= 0)
                        r = c->to->unlock_pin_set_state(c->t, u->id, &ps);
        }
        return r == -ENOENT ? 0 : r;
}

static int user_one(const struct ehr_user *u, void *userdata) {
        struct copy *c = userdata;
        int r = c->to->user_put(c->t, u);
        if (r >= 0 && u->sms_2fa_id && *u->sms_2fa_id)
                r = c->to->user_set_sms_2fa(c->t, u->id, u->sms_2fa_id);
        if (r >= 0 && u->uid >= 0)
                r = c->to->user_set_account(c->t, u->id, u->uid, u->gid, u->home, u->shell);
        if (r >= 0 && u->locked)
                r = c->to->user_set_locked(c->t, u->id, true);
        if (r >= 0)
                r = user_rows(c, u);
        if (r < 0)
                snprintf(c->err, c->errlen, "user %s: %s", u->login, ehr_strerror(r));
        c->n->users++;
        return r;
}

/* Providers name users that may come later in the list: a second pass. */
static int provider_one(const struct ehr_user *u, void *userdata) {
        struct copy *c = userdata;
        int64_t pid = 0;
        int r = id_of(c, u->provider, &pid);
        return r < 0 || pid == 0 ? r : c->to->user_set_provider(c->t, u->id, pid);
}

static int member_one(const char *login, void *userdata) {
        struct copy *c = userdata;
        int64_t uid = 0;
        int r = id_of(c, login, &uid);
        return r < 0 ? r : c->to->group_member(c->t, c->user_id, uid, true);
}

static int group_one(const struct ehr_group *g, void *userdata) {
        struct copy *c = userdata;
        int64_t id, gid;
        int r = c->to->group_add(c->t, g->name, g->gid);
        if (r >= 0)
                r = c->to->group_get(c->t, g->name, &id, &gid);
        int64_t saved = c->user_id;
        c->user_id = id;
        if (r >= 0)
                r = c->fo->group_members(c->f, g->id, member_one, c);
        c->user_id = saved;
        c->n->groups++;
        return r;
}

static int request_one(const struct ehr_support_request *q, void *userdata) {
        struct copy *c = userdata;
        int64_t for_id, by_id, approver_id, id;
        int r = id_of(c, q->for_login, &for_id);
        if (r >= 0)
                r = id_of(c, q->by_login, &by_id);
        if (r >= 0)
                r = id_of(c, q->approver_login, &approver_id);
        if (r >= 0)
                r = c->to->request_add(c->t, for_id, by_id, approver_id, q->state, q->how, q->note, q->created_sec, &id);
        return r;
}

static int audit_one(const struct ehr_audit_row *row, void *userdata) {
        struct copy *c = userdata;
        c->n->audit_rows++;
        return c->to->audit_insert(c->t, row);
}

static int count_user(const struct ehr_user *u, void *userdata) {
        (void) u;
        (*(uint64_t *) userdata)++;
        return 0;
}

/* Everything, in the target's open transaction. */
static int copy_all(struct copy *c) {
        uint64_t users = 0, seq = 0;
        uint8_t mac[EHR_HASH_BYTES];
        int r = c->to->user_foreach(c->t, count_user, &users);
        if (r >= 0)
                r = c->to->audit_head_get(c->t, &seq, mac);
        if (r >= 0 && (users > 0 || seq > 0)) {
                snprintf(c->err, c->errlen, "the target store is not empty (%" PRIu64 " users, %" PRIu64
                         " audit rows): a copy goes into a new store only", users, seq);
                return -ENOTEMPTY;
        }
        if (r >= 0)
                r = c->fo->user_foreach(c->f, user_one, c);
        if (r >= 0)
                r = c->fo->user_foreach(c->f, provider_one, c);
        if (r >= 0)
                r = c->fo->group_foreach(c->f, group_one, c);
        if (r >= 0)
                r = c->fo->request_foreach(c->f, request_one, c);
        int64_t high;
        if (r >= 0 && (r = c->fo->id_high(c->f, &high)) >= 0 && high >= 0)
                r = c->to->id_high_raise(c->t, high);
        if (r >= 0)
                r = c->fo->audit_foreach(c->f, 0, UINT64_MAX, NULL, audit_one, c);
        if (r >= 0 && (r = c->fo->audit_head_get(c->f, &seq, mac)) >= 0)
                r = c->to->audit_head_put(c->t, seq, mac);
        return r;
}

int ehr_store_copy(struct ehr_store *from, struct ehr_store *to, struct ehr_store_copied *ret, char *err,
                   size_t errlen) {
        struct ehr_store_copied n = {};
        struct copy c = { .n = &n, .err = err, .errlen = errlen };
        c.fo = ehr_store_ops_of(from, &c.f);
        c.to = ehr_store_ops_of(to, &c.t);
        uint8_t a[EHR_HASH_BYTES], b[EHR_HASH_BYTES];
        ehr_keyed_hash(ehr_store_keys(from), EHR_KEY_TOKEN, "store copy", 0, NULL, 0, a);
        ehr_keyed_hash(ehr_store_keys(to), EHR_KEY_TOKEN, "store copy", 0, NULL, 0, b);
        if (memcmp(a, b, sizeof a) != 0) {
                snprintf(err, errlen, "the two stores have different master keys: sealed rows would not open");
                return -EINVAL;
        }
        err[0] = 0;
        int r = c.to->begin(c.t);
        if (r >= 0)
                r = copy_all(&c);
        if (r >= 0)
                r = c.to->commit(c.t);
        else
                c.to->rollback(c.t);
        free(c.hashes);
        if (r < 0 && !err[0])
                snprintf(err, errlen, "%s", ehr_strerror(r));
        if (r >= 0)
                *ret = n;
        return r;
}
